"""Independent high-precision references (mpmath) for the claims: q_D, |z| - q_D, series coefficients.

Built from the definitions only (THEORY.md s1, s4): ``h_D(u) = (1-u)^{-p} - (1+u)^{-p}``,
``p = D/(D-2)`` (``h_2 = 2 sinh``), ``H_D = int h_D``, and ``q_D(h_D(u)) = u h_D(u) - H_D(u)``;
the root ``h_D(u) = z`` is found in the edge variable ``e = 1 - u`` (for large z) by mpmath's
``findroot`` at the working precision. Nothing here uses the package's numeric layer.
"""
from __future__ import annotations

import mpmath as mp

__all__ = ["q_mp", "l1_gap_mp", "link_taylor"]


def _h(D, u):
    if D == 2:
        return 2 * mp.sinh(u)
    p = D / (D - 2)
    return (1 - u) ** (-p) - (1 + u) ** (-p)


def _H(D, u):
    if D == 2:
        return 2 * mp.cosh(u) - 2
    k = 2 / (D - 2)
    return (D - 2) / 2 * ((1 - u) ** (-k) + (1 + u) ** (-k) - 2)


def _u_of(D, z):
    """h_D(u) = z for z > 0 (mp), by a bracketing root finder (h_D is increasing on (0, 1)).

    z > 1: in the edge variable e = 1 - u, bracketed by (z + 1)^{-1/p} <= e <= z^{-1/p} (from
    e^{-p} - 1 <= h <= e^{-p}); z <= 1: in u, bracketed by 0 <= u <= z / (2p) (h is convex on
    (0, 1) with h'(0) = 2p).
    """
    if D == 2:
        return mp.asinh(z / 2), None
    p = D / (D - 2)
    if z > 1:
        lo, hi = (z + 1) ** (-1 / p), z ** (-1 / p)
        e = mp.findroot(lambda e: e ** (-p) - (2 - e) ** (-p) - z, (lo, hi), solver="anderson")
        return 1 - e, e
    u = mp.findroot(lambda u: _h(D, u) - z, (mp.mpf(0), z / (2 * p)), solver="anderson")
    return u, 1 - u


def q_mp(D, z, dps: int = 50):
    """q_D(z) at ``dps`` digits (an mpf)."""
    with mp.workdps(dps):
        D = mp.mpf(D)
        z = mp.mpf(z)
        if z == 0:
            return mp.mpf(0)
        s = 1 if z > 0 else -1
        z = abs(z)
        u, _ = _u_of(D, z)
        return s * 0 + (u * z - _H(D, u))


def l1_gap_mp(D, z, dps: int = 50):
    """|z| - q_D(z) at ``dps`` digits (the rich-side gap; no cancellation issue at this precision)."""
    with mp.workdps(dps):
        z = abs(mp.mpf(z))
        return z - q_mp(D, z, dps)


def link_taylor(D, dps: int = 30):
    """(c1, c3) with h_D(u) = c1 u + c3 u^3 + O(u^5), by mpmath numerical differentiation."""
    with mp.workdps(dps):
        Dm = mp.mpf(D)
        c1 = mp.diff(lambda u: _h(Dm, u), 0, 1)
        c3 = mp.diff(lambda u: _h(Dm, u), 0, 3) / 6
        return float(c1), float(c3)
