"""Compiled, numerically stable NumPy/torch functions of the depth-D theory (THEORY.md s2, s4).

* ``potential(depth)`` -> :class:`Potential`: ``q`` (q_D), ``dq`` (q_D' = h_D^{-1}), ``d2q``,
  ``d3q``, ``dq_complement`` (1 - |q_D'|), ``l1_gap`` (|z| - q_D), ``link`` (h_D),
  ``link_derivative``, ``link_second_derivative``, ``link_inverse``, ``conjugate`` (H_D) and the
  edge-variable forms ``link_from_edge``, ``link_derivative_from_edge``, ``conjugate_from_edge``.
* ``Q(beta, alpha, depth, *, log_alpha)``: the paper's alpha^D sum_i q_D(beta_i / alpha^D).
* ``q_infinity(z)``: the D -> infinity potential (Fig. 3a).
* :mod:`.expressions`: the stable rewrites as SymPy expressions (the source of the compiled code).

Measured accuracy (worst relative error against mpmath): docs/accuracy.md.
"""
from __future__ import annotations

from .infinity import q_infinity
from ._potential import Potential, potential
from .q_alpha import Q, Q_gradient

__all__ = ["Potential", "potential", "Q", "Q_gradient", "q_infinity"]
