"""Compiled, numerically stable NumPy/torch functions of the depth-D theory (THEORY.md s2, s4).

``potential(depth)`` -> :class:`Potential` (q_D, q_D', q_D'', h_D, h_D', h_D^{-1}, H_D and the
edge-variable forms), ``Q(beta, alpha, depth)`` (paper normalization), ``q_infinity(z)``.
Measured accuracy: docs/accuracy.md.
"""
from __future__ import annotations

from .potential import Potential, potential

__all__ = ["Potential", "potential"]
