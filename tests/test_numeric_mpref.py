"""High-precision mpmath references for the numeric layer (and tests of the references themselves).

The references use the *textbook* formulas of THEORY.md, evaluated at a working precision that
grows with the range (``dps >= 2 |log10 x| + 40``), so that their cancellations cost nothing:
near u = 0 the textbook h_D(u) loses ~|log10 u| digits, and a 1e-300 argument therefore needs
~340 digits. The root h_D(u) = z is solved in the edge variable e = 1 - |u| with mpmath's Newton
iteration, starting from e = |z|^(-1/p), again at that growing precision. Nothing here shares
code with krtheory.numeric.
"""
from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np
import pytest

DEPTHS = (2, 2.5, 3, 4, 5, 8, 16)
TINY = 2.2250738585072014e-308


def dps_for(*xs) -> int:
    """Working precision for arguments ``xs``: 2 |log10 x| + 40 digits (at least 50)."""
    worst = 0.0
    for x in xs:
        x = abs(float(x))
        if x != 0.0:
            worst = max(worst, abs(math.log10(x)))
    return max(50, int(2 * worst) + 40)


def _p(D):
    D = mp.mpf(D)
    return D / (D - 2)


def h(D, u):
    u = mp.mpf(u)
    if D == 2:
        return 2 * mp.sinh(u)
    p = _p(D)
    return (1 - u) ** (-p) - (1 + u) ** (-p)


def dh(D, u):
    u = mp.mpf(u)
    if D == 2:
        return 2 * mp.cosh(u)
    p = _p(D)
    return p * ((1 - u) ** (-p - 1) + (1 + u) ** (-p - 1))


def H(D, u):
    u = mp.mpf(u)
    if D == 2:
        return 2 * mp.cosh(u) - 2
    p = _p(D)
    rr = p - 1
    return ((1 - u) ** (-rr) + (1 + u) ** (-rr) - 2) / rr


def h_e(D, e):
    e = mp.mpf(e)
    p = _p(D)
    return e ** (-p) - (2 - e) ** (-p)


def dh_e(D, e):
    e = mp.mpf(e)
    p = _p(D)
    return p * (e ** (-p - 1) + (2 - e) ** (-p - 1))


def H_e(D, e):
    e = mp.mpf(e)
    p = _p(D)
    rr = p - 1
    return (e ** (-rr) + (2 - e) ** (-rr) - 2) / rr


@functools.lru_cache(maxsize=None)
def potential_ref(D, z: float) -> dict:
    """mpmath values (as mpf, at the working precision) of q, dq, d2q, 1-|dq|, |z|-q at float z."""
    with mp.workdps(dps_for(z) + 20):
        zz = mp.mpf(z)
        a = abs(zz)
        sg = mp.sign(zz)
        if a == 0:
            d2 = mp.mpf(1) / 2 if D == 2 else 1 / dh(D, 0)
            out = dict(q=mp.mpf(0), dq=mp.mpf(0), d2q=d2, one_minus_abs_dq=mp.mpf(1), abs_z_minus_q=mp.mpf(0))
        elif D == 2:
            u = mp.asinh(a / 2)
            q = 2 - mp.sqrt(4 + a * a) + a * u
            out = dict(q=q, dq=sg * u, d2q=1 / mp.sqrt(4 + a * a), one_minus_abs_dq=1 - u, abs_z_minus_q=a - q)
        else:
            p = _p(D)
            # the textbook h_D(u) - a loses ~|log10 a| digits near 0: ask for what remains
            tol = mp.mpf(10) ** (-(mp.mp.dps - max(0, int(-mp.log10(a))) - 10))
            if a > 1:
                # Newton in s = log e on log h_e(e) = log a: nearly linear, from e = a^(-1/p)
                sv = -mp.log(a) / p
                for _ in range(200):
                    ev = mp.exp(sv)
                    f = mp.log(h_e(D, ev)) - mp.log(a)
                    step = f / (-ev * dh_e(D, ev) / h_e(D, ev))
                    sv -= step
                    if abs(step) < tol:
                        break
                else:  # pragma: no cover
                    raise RuntimeError("reference Newton (edge) did not converge")
                e = mp.exp(sv)
                u = 1 - e
            else:
                # h is convex increasing on [0, 1) and h(u) >= 2pu: Newton from a/(2p) is monotone
                u = a / (2 * p)
                for _ in range(500):
                    step = (h(D, u) - a) / dh(D, u)
                    u -= step
                    if abs(step) < tol * u:
                        break
                else:  # pragma: no cover
                    raise RuntimeError("reference Newton (central) did not converge")
                e = 1 - u
            Hu = H_e(D, e)
            gap = a * e + Hu
            out = dict(q=a * u - Hu, dq=sg * u, d2q=1 / dh_e(D, e), one_minus_abs_dq=e, abs_z_minus_q=gap)
        return {k: +v for k, v in out.items()}


def rel_err(got, ref) -> float:
    """The accuracy measure of the issue: relative error where |ref| >= tiny, absolute below.

    An infinite ``got`` is correct (error 0) exactly when ``|ref|`` exceeds the float maximum.
    """
    got = float(got)
    ref = mp.mpf(ref)
    if math.isnan(got):
        return math.inf
    if abs(ref) > mp.mpf(np.finfo(float).max):
        return 0.0 if (math.isinf(got) and (got > 0) == (ref > 0)) else math.inf
    if math.isinf(got):
        return math.inf
    if abs(ref) >= TINY:
        return float(abs(mp.mpf(got) - ref) / abs(ref))
    # below the smallest normal float the target is an absolute error <= 1e-300; report it scaled
    # so that a single threshold (1e-13) covers both: 1e-300 absolute maps to 1e-13.
    return float(abs(mp.mpf(got) - ref)) * 1e287


# ------------------------------------------------------------------ tests of the references
@pytest.mark.parametrize("D", [3, 4])
def test_reference_root_satisfies_link_equation(D):
    # the root found at high precision must reproduce z through the (independent) edge form h_e
    for z in (1e-200, 1e-3, 2.0, 1e50, 1e300):
        ref = potential_ref(D, z)
        with mp.workdps(dps_for(z) + 20):
            back = h_e(D, ref["one_minus_abs_dq"])
            assert abs(back - z) / z < mp.mpf(10) ** (-40)


def test_reference_matches_closed_forms_at_small_and_large_z():
    # D = 4: h_4(u) = 4u/(1-u^2)^2 and q_4 solves in closed form via a quartic; instead check the
    # THEORY.md series q_D = (D-2)/(4D) z^2 - (D-2)(D-1)(3D-4)/(96 D^3) z^4 at z = 1e-5 (error O(z^6))
    for D in (3, 4, 8):
        z = 1e-5
        ref = potential_ref(D, z)
        with mp.workdps(60):
            zz = mp.mpf(z)
            series = mp.mpf(D - 2) / (4 * D) * zz**2 - mp.mpf((D - 2) * (D - 1) * (3 * D - 4)) / (96 * D**3) * zz**4
            # the omitted z^6 term is ~z^4 = 1e-20 relative to the z^2 term
            assert abs(ref["q"] - series) / series < 1e-18
    # D = 3 asymptote q = |z| - (3/2)|z|^(2/3) + 7/8 + o(1) (THEORY.md s4, C_3 = 7/8)
    z = 1e60
    ref = potential_ref(3, z)
    with mp.workdps(200):
        assert abs(ref["q"] - (mp.mpf(z) - mp.mpf(1.5) * mp.mpf(z) ** (mp.mpf(2) / 3) + mp.mpf(7) / 8)) < 1e-15
