"""The D -> infinity potential q_inf (THEORY.md s4, derived), for the reproduction of Fig. 3a.

``h_inf(u) = 2u/(1-u^2)`` and ``q_inf(z) = sqrt(1+z^2) - 1 - log((1 + sqrt(1+z^2))/2)``
``= |z| - ln|z| + ln 2 - 1 + o(1)``. Both terms of the textbook form are O(z^2) near 0 and cancel;
with ``w = hypot(1, z)`` and ``t = w - 1 = z^2/(1+w)`` (never forming ``z^2``, which overflows for
``|z| > 1.3e154``): ``q_inf = t - log1p(t/2)``, and ``t - log1p(t/2) = t/2 + (t/2 - log1p(t/2))``
where the bracket is evaluated by its alternating series ``x^2/2 - x^3/3 + ...`` for small
``x = t/2`` (the two pieces are then both non-negative: no cancellation).
"""
from __future__ import annotations

import numpy as np

from . import _backend as B

__all__ = ["q_infinity"]

_SERIES_X = 0.1  # below this, 20 terms of the series for x - log1p(x) reach 1e-22 relative


def _x_minus_log1p(F, x):
    """``x - log1p(x)`` for ``x >= 0`` without cancellation (series for small x)."""
    small = x < _SERIES_X
    xs = F.where(small, x, F.full_like(x, 0.0))
    # x - log1p(x) = sum_{k>=2} (-1)^k x^k / k, summed by Horner from the tail
    acc = F.full_like(x, 0.0)
    for k in range(22, 1, -1):
        acc = (1.0 / k) - xs * acc
    series = xs * xs * acc
    xl = F.where(small, F.full_like(x, 1.0), x)
    return F.where(small, series, xl - F.log1p(xl))


def q_infinity(z):
    """``q_inf(z) = sqrt(1+z^2) - 1 - log((1+sqrt(1+z^2))/2)`` (even, >= 0, ``q_inf(0) = 0``).

    NumPy in -> NumPy float64 out; torch in -> torch out (differentiable by autograd of the stable
    form; the gradient is ``z / (1 + sqrt(1+z^2))``). Accurate to a few ulps for all finite ``z``
    (tests/test_numeric_infinity.py).
    """
    x64, restore = B.prepare(z, "z")
    F = B.backend_of(x64)
    with np.errstate(all="ignore"):
        a = F.abs(x64)
        w = F.hypot(F.full_like(a, 1.0), a)
        # t = w - 1 = a^2 / (1 + w) = a * (a / (1 + w)), no z^2
        t = a * (a / (1 + w))
        out = t / 2 + _x_minus_log1p(F, t / 2)
    return restore(out)
