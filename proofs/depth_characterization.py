#!/usr/bin/env python3
"""Proof 'depth_characterization' (see krtheory.symbolic.proofs): prints every step with its verdict; exit 1 on failure."""
import sys

from krtheory.symbolic.proofs import main

if __name__ == "__main__":
    sys.exit(main("depth_characterization"))
