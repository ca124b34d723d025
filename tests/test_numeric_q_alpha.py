"""Q_alpha^D(beta) = alpha^D sum q_D(beta_i/alpha^D) (paper normalization) against mpmath.

The reference evaluates alpha^D and beta/alpha^D exactly in mpmath (at the working precision of
tests/test_numeric_mpref.py), then q_D by the high-precision root / textbook form; for alpha
outside the float range the mpmath numbers simply have large exponents. Tolerance 1e-13 relative
(the issue's target; the terms are non-negative, so the sum adds no cancellation).
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from krtheory import InvalidInputError
from krtheory.numeric import Q, potential
from krtheory.numeric.q_alpha import Q_gradient
from test_numeric_mpref import DEPTHS, dh, h, h_e, dh_e, rel_err

TOL = 1e-13


def _q_mp(D, z):
    """q_D, q_D', q_D'' at an mpf z of any size (mpmath exponents are unbounded).

    No textbook cancellation is ever evaluated at low precision: |z| < 1e-20 uses the THEORY.md
    series q = k2 z^2 - k4 z^4 (omitted terms ~z^4 ~ 1e-80 relative); |z| > 1 solves in the edge
    variable e and forms q = |z| - (|z| e + H(1 - e)) (no 1 - e, no cancellation); in between the
    textbook forms run at dps >= 2|log10 z| + 40 (set by the caller).
    """
    a = abs(z)
    if a == 0:
        return mp.mpf(0), mp.mpf(0), (mp.mpf(1) / 2 if D == 2 else 1 / dh(D, 0))
    if a < mp.mpf("1e-20"):
        Dm = mp.mpf(D)
        k2, k4 = (Dm - 2) / (4 * Dm), (Dm - 2) * (Dm - 1) * (3 * Dm - 4) / (96 * Dm**3)
        if D == 2:
            k2, k4 = mp.mpf(1) / 4, mp.mpf(1) / 192
        return k2 * a**2 - k4 * a**4, 2 * k2 * z - 4 * k4 * z**3, 2 * k2 - 12 * k4 * a**2
    if D == 2:
        u = mp.asinh(a / 2)
        return 2 - mp.sqrt(4 + a * a) + a * u, mp.sign(z) * u, 1 / mp.sqrt(4 + a * a)
    p = mp.mpf(D) / (mp.mpf(D) - 2)
    rr = p - 1
    if a > 1:
        sv = -mp.log(a) / p
        for _ in range(200):
            ev = mp.exp(sv)
            step = (mp.log(h_e(D, ev)) - mp.log(a)) / (-ev * dh_e(D, ev) / h_e(D, ev))
            sv -= step
            if abs(step) < mp.mpf(10) ** (-mp.mp.dps + 10):
                break
        e = mp.exp(sv)
        He = (e ** (-rr) + (2 - e) ** (-rr) - 2) / rr
        return a - (a * e + He), mp.sign(z) * (1 - e), 1 / dh_e(D, e)
    u = a / (2 * p)
    for _ in range(500):
        step = (h(D, u) - a) / dh(D, u)
        u -= step
        if abs(step) <= abs(u) * mp.mpf(10) ** (-(mp.mp.dps // 2)):
            break
    e = 1 - u
    Hu = (e ** (-rr) + (2 - e) ** (-rr) - 2) / rr
    return a * u - Hu, mp.sign(z) * u, 1 / dh_e(D, e)


def _Q_ref(beta, D, log_alpha):
    """(Q, grad, hess-diagonal) in mpmath at 100 digits (enough for every branch of _q_mp)."""
    with mp.workdps(100):
        c = mp.exp(mp.mpf(D) * mp.mpf(log_alpha))
        tot, g, hs = mp.mpf(0), [], []
        for b in beta:
            qq, dq, d2 = _q_mp(D, mp.mpf(b) / c)
            tot += c * qq
            g.append(dq)
            hs.append(d2 / c)
        return tot, g, hs


BETA = np.array([0.3, -2.0, 1e-5, 0.0, 7.5, -1e-200, 1e150])


@pytest.mark.parametrize("D", DEPTHS)
@pytest.mark.parametrize("log_alpha", [math.log(1e-3), 0.0, math.log(10.0), -1000.0, 800.0])
def test_Q_against_mpmath(D, log_alpha):
    ref, gref, _ = _Q_ref(BETA, D, log_alpha)
    got = Q(BETA, depth=D, log_alpha=log_alpha)
    assert isinstance(got, np.float64)
    assert rel_err(got, ref) <= TOL, (D, log_alpha, got, ref)
    grad = Q_gradient(BETA, depth=D, log_alpha=log_alpha)
    for gi, ri in zip(grad, gref):
        assert rel_err(gi, ri) <= TOL, (D, log_alpha, gi, ri)


@pytest.mark.parametrize("D", [2, 3, 4])
def test_Q_alpha_argument_uses_exact_alpha(D):
    # alpha = 0.1 is not 1/10 in binary; the reference uses the float's exact value
    alpha = 0.1
    ref, _, _ = _Q_ref(BETA[:5], D, float(mp.log(mp.mpf(alpha))))
    with mp.workdps(100):
        ref2 = _Q_ref_exact_alpha(BETA[:5], D, alpha)
    assert rel_err(Q(BETA[:5], alpha, D), ref2) <= TOL
    assert abs(ref / ref2 - 1) < 1e-12  # the two references agree to the rounding of log(alpha)


def _Q_ref_exact_alpha(beta, D, alpha):
    c = mp.mpf(alpha) ** D
    return sum(c * _q_mp(D, mp.mpf(b) / c)[0] for b in beta)


def test_Q_limits_l1_and_l2():
    # THEORY.md s2/s4: Q -> ||beta||_1-like as alpha -> 0 (D > 2: Q -> ||beta||_1 exactly in float
    # at log_alpha = -1000), and Q ~ ||beta||^2 (D-2)/(4D) / alpha^D (D = 2: /(4 alpha^2)) as alpha -> inf
    beta = np.array([0.5, -1.5, 2.0])
    for D in (3, 4, 8):
        assert Q(beta, depth=D, log_alpha=-1000.0) == np.abs(beta).sum()
        la = 50.0
        expected = (D - 2) / (4 * D) * (beta**2).sum() * math.exp(-D * la)
        assert abs(Q(beta, depth=D, log_alpha=la) / expected - 1) < 1e-13
    # D = 2 at tiny alpha: Q = sum |b| (log(|b|/alpha^2) - 1) + O(alpha^2)
    la = -1000.0
    expected = sum(abs(b) * (math.log(abs(b)) - 2 * la - 1) for b in beta)
    assert abs(Q(beta, depth=2, log_alpha=la) / expected - 1) < 1e-14


def test_Q_torch_gradient_and_hessian():
    for D in (2, 3, 5):
        for log_alpha in (math.log(0.05), 1.0, -1000.0):
            beta = torch.tensor(BETA, requires_grad=True)
            out = Q(beta, depth=D, log_alpha=log_alpha)
            (g,) = torch.autograd.grad(out, beta, create_graph=True)
            (hd,) = torch.autograd.grad(g.sum(), beta)
            _, gref, href = _Q_ref(BETA, D, log_alpha)
            for i in range(len(BETA)):
                assert rel_err(g[i].item(), gref[i]) <= TOL, (D, log_alpha, i)
                # Hessian: ~1e-13 where z over/underflows (exp of a large log-space argument)
                assert rel_err(hd[i].item(), href[i]) <= 1e-12, (D, log_alpha, i, hd[i].item())


def test_Q_batched_last_axis_and_torch_numpy_agree():
    rng = np.random.default_rng(0)
    beta = rng.normal(size=(4, 6)) * 10.0 ** rng.integers(-5, 5, size=(4, 6))
    out = Q(beta, 0.3, 3)
    assert out.shape == (4,)
    # (summation order may differ between the 2-d and the 1-d reductions: a few ulps)
    np.testing.assert_allclose(out, np.array([Q(b, 0.3, 3) for b in beta]), rtol=1e-15)
    # the terms are bitwise equal (same NumPy kernels); torch and NumPy sum them in different orders
    np.testing.assert_allclose(Q(torch.tensor(beta), 0.3, 3).numpy(), out, rtol=1e-15)


def test_Q_validation():
    with pytest.raises(InvalidInputError, match="alpha"):
        Q(np.ones(3), -1.0, 2)
    with pytest.raises(InvalidInputError, match="exactly one"):
        Q(np.ones(3), 1.0, 2, log_alpha=0.0)
    with pytest.raises(InvalidInputError, match="depth"):
        Q(np.ones(3), 1.0, 1)
    with pytest.raises(InvalidInputError, match="non-finite"):
        Q(np.array([1.0, np.nan]), 1.0, 3)
    with pytest.raises(InvalidInputError, match="axis"):
        Q(1.0, 1.0, 3)


def test_Q_overflow_only_when_true_value_does():
    # D = 2: Q ~ |b| (log(|b|/alpha^2) - 1): for b = 1e306 that is 7.0e308 at alpha = 1 (> float
    # max: inf) and 1.3e307 at alpha = 1e150 (finite)
    assert Q(np.array([1e306]), 1.0, 2) == math.inf
    assert math.isfinite(Q(np.array([1e306]), 1e150, 2))
    # D > 2: Q <= ||beta||_1 never overflows on its own
    assert math.isfinite(Q(np.array([1.7e308]), 1e-10, 3))


def test_Q_matches_potential_q_in_float_range():
    # cross-check of the two code paths (scaled log form vs direct) where both apply
    beta = np.geomspace(1e-100, 1e100, 41)
    for D in DEPTHS:
        P = potential(D)
        for alpha in (0.5, 2.0):
            c = alpha**D
            direct = c * P.q(beta / c)
            per = np.array([Q(np.array([b]), alpha, D) for b in beta])
            np.testing.assert_allclose(per, direct, rtol=3e-15)


@settings(max_examples=25)
@given(
    log10_beta=st.lists(st.floats(-300, 300), min_size=1, max_size=4),
    signs=st.lists(st.booleans(), min_size=4, max_size=4),
    log_alpha=st.floats(-2000, 2000),
    D=st.sampled_from(DEPTHS),
)
def test_Q_hypothesis_any_scale(log10_beta, signs, log_alpha, D):
    beta = np.array([(-1 if s else 1) * 10.0**x for x, s in zip(log10_beta, signs)])
    ref, gref, _ = _Q_ref(beta, D, log_alpha)
    assert rel_err(Q(beta, depth=D, log_alpha=log_alpha), ref) <= TOL
    for gi, ri in zip(Q_gradient(beta, depth=D, log_alpha=log_alpha), gref):
        assert rel_err(gi, ri) <= TOL
