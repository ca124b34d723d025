"""Symbolic layer: the theory derived by SymPy from the gradient-flow ODE, as checked steps.

``derive(depth, *, loss="sum", init="unbiased", series_order=6) -> Derivation`` (cached). See
:mod:`krtheory.symbolic.derivation` for the formula keys, :mod:`krtheory.symbolic.steps` for how
each step is checked, :mod:`krtheory.symbolic.proofs` for the executable proofs. Imports only
SymPy/mpmath (and ``krtheory._validation``), never the numeric layers.
"""
from __future__ import annotations

from .derivation import Derivation, derive
from .steps import Step
from .symbols import D_SYM, alpha, b, e, s, t, u, z

__all__ = ["derive", "Derivation", "Step", "u", "z", "alpha", "t", "s", "b", "e", "D_SYM"]
