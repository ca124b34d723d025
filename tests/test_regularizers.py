"""Tests for krtheory.regularizers (THEORY.md s6) against independent references.

References: direct numerical minimization over (w+, w-) per coordinate (scipy bounded Brent and
an mpmath root of the 1-D stationarity condition at 40 digits), finite differences, the
series stated in THEORY.md s6, SLSQP over the raw parameters w for the interpolator.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize, minimize_scalar

from krtheory._validation import InvalidInputError
from krtheory.regularizers import (
    distance_multiplier,
    distance_regularizer,
    distance_regularizer_derivative,
    min_distance_interpolator,
)
from krtheory.solvers import min_l1_interpolator, min_l2_interpolator


def _mp_r(b, a, dps=40):
    """r_alpha(b) by minimizing over w- with w+ = sqrt(b + w-^2) eliminated (b >= 0 branch):
    the stationary point of phi(w-) = (sqrt(b + w-^2) - a)^2 + (w- - a)^2 in (0, a], by mpmath
    bisection on phi' (phi' < 0 at 0+, > 0 at a for b > 0)."""
    with mp.workdps(dps):
        b, a = abs(mp.mpf(b)), mp.mpf(a)
        if b == 0:
            return mp.mpf(0)
        dphi = lambda v: 2 * (mp.sqrt(b + v * v) - a) * v / mp.sqrt(b + v * v) + 2 * (v - a)
        lo, hi = mp.mpf(0), a
        for _ in range(dps * 4):
            m = (lo + hi) / 2
            lo, hi = (m, hi) if dphi(m) < 0 else (lo, m)
        v = (lo + hi) / 2
        return (mp.sqrt(b + v * v) - a) ** 2 + (v - a) ** 2


@pytest.mark.parametrize("a", [1e-8, 1e-3, 0.5, 1.0, 30.0, 1e4])
@pytest.mark.parametrize("b", [0.0, 1e-12, 1e-3, 0.7, 5.0, 1e6, -2.5])
def test_r_matches_direct_minimization_mpmath(a, b):
    r = distance_regularizer(b, a)
    ref = float(_mp_r(b, a))
    # closed form with the stable lambda root: a few ulp; 1e-14 relative covers 1e4-scale rho
    assert abs(r - ref) <= 1e-14 * ref + 1e-300


def test_r_matches_scipy_global_minimization_over_both_parameters():
    # A second, cruder reference that does not assume the w+, w- > 0 branch: minimize over w- on
    # a wide interval with both signs of w+ (Brent, xatol 1e-12), then compare with 1e-9
    # relative (the flat minimum makes the value error quadratic in the argument error).
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = math.exp(rng.uniform(-3, 2))
        b = rng.normal() * math.exp(rng.uniform(-2, 2))
        best = math.inf
        for sgn in (1.0, -1.0):
            f = lambda v: (sgn * math.sqrt(abs(b) + v * v) - a) ** 2 + (v - a) ** 2
            res = minimize_scalar(f, bounds=(-10 - abs(b), 10 + abs(b)), method="bounded",
                                  options={"xatol": 1e-12})
            best = min(best, res.fun)
        assert abs(distance_regularizer(b, a) - best) <= 1e-9 * best


def test_derivative_is_multiplier_and_convex():
    a = 0.4
    b = np.array([-3.0, -0.2, 1e-5, 0.1, 1.0, 7.0])
    h = 1e-6 * np.maximum(1.0, np.abs(b))
    fd = (distance_regularizer(b + h, a, reduce=False) - distance_regularizer(b - h, a, reduce=False)) / (2 * h)
    dr = distance_regularizer_derivative(b, a)
    # central difference error ~ h^2 r''' + eps r / h: 1e-8 absolute here
    assert np.max(np.abs(fd - dr)) < 1e-8
    assert np.all(np.abs(dr) < 1)
    # second differences: r'' = (1 - lam^2)^3 / (4 a^2 (1 + 3 lam^2)) > 0 (derived, module docstring)
    lam = distance_multiplier(b, a)
    d2_closed = (1 - lam**2) ** 3 / (4 * a * a * (1 + 3 * lam**2))
    h2 = 1e-3 * np.maximum(1.0, np.abs(b))
    d2_fd = (distance_regularizer_derivative(b + h2, a) - distance_regularizer_derivative(b - h2, a)) / (2 * h2)
    assert np.allclose(d2_fd, d2_closed, rtol=1e-5)  # O(h2^2) truncation
    assert np.all(d2_closed > 0)
    # and the multiplier reproduces b through the closed form b = 4 a^2 lam / (1 - lam^2)^2
    assert np.allclose(4 * a * a * lam / (1 - lam**2) ** 2, b, rtol=1e-14, atol=0)


def test_small_alpha_expansion():
    # THEORY.md s6: r_alpha(b) = |b| - 2 alpha sqrt|b| + (3/2) alpha^2 + O(alpha^3): the remainder
    # divided by alpha^3 must settle to a constant as alpha halves (it is O(alpha^3), not larger).
    b = 2.0
    ratios = []
    for a in (1e-2, 5e-3, 2.5e-3):
        rem = float(_mp_r(b, a, dps=50)) - (abs(b) - 2 * a * math.sqrt(b) + 1.5 * a * a)
        ratios.append(rem / a**3)
        # and the float implementation agrees with the mpmath value: 1e-15 relative
        assert abs(distance_regularizer(b, a) - float(_mp_r(b, a, dps=50))) < 1e-15 * b
    assert abs(ratios[1] - ratios[2]) < 0.01 * abs(ratios[2]) + 1e-3
    assert abs(ratios[0] - ratios[1]) < 0.02 * abs(ratios[1]) + 2e-3
    # the approach to l1 is polynomial: at alpha = 1e-6, r = |b| to 3e-6 relative
    assert abs(distance_regularizer(b, 1e-6) - b) / b < 3e-6


def test_large_alpha_constant_is_one_eighth():
    # derived: lambda ~ b/(4 a^2), r ~ 2 a^2 lambda^2 = b^2/(8 a^2) (Q_alpha has b^2/(4 a^2));
    # the next term is O(b^4 / a^6), so at b/a^2 = 1e-4 the relative remainder is ~1e-8
    for a in (10.0, 100.0):
        b = 1e-4 * a * a
        r = distance_regularizer(b, a)
        assert abs(r / (b * b / (8 * a * a)) - 1) < 1e-7
        assert abs(float(_mp_r(b, a)) / (b * b / (8 * a * a)) - 1) < 1e-7


def test_bad_input():
    with pytest.raises(InvalidInputError, match="alpha"):
        distance_regularizer(1.0, -1.0)
    with pytest.raises(InvalidInputError, match="non-finite"):
        distance_regularizer([1.0, np.nan], 1.0)
    with pytest.raises(InvalidInputError, match="range of X"):
        min_distance_interpolator(np.ones((2, 3)), np.array([1.0, 2.0]), 1.0)


def _problem(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 6))
    b = np.zeros(6)
    b[[1, 4]] = [1.2, -0.7]
    return X, X @ b


@pytest.mark.parametrize("a", [0.3, 2.0])
def test_min_distance_matches_slsqp_over_parameters(a):
    # Independent of R entirely: minimize ||w - a 1||^2 over the 2d raw parameters subject to
    # X (w+^2 - w-^2) = y.  SLSQP converges to ~1e-9 here; 1e-7 relative.
    X, y = _problem(3)
    d = X.shape[1]
    r = min_distance_interpolator(X, y, a)
    assert r.success and r.kkt_residual < 1e-12
    sl = minimize(lambda w: np.sum((w - a) ** 2), np.full(2 * d, a), jac=lambda w: 2 * (w - a), method="SLSQP",
                  constraints=[{"type": "eq", "fun": lambda w: X @ (w[:d] ** 2 - w[d:] ** 2) - y,
                                "jac": lambda w: np.hstack([X * 2 * w[:d], -X * 2 * w[d:]])}],
                  options={"ftol": 1e-15, "maxiter": 1000})
    # SLSQP may stop on its iteration limit at ftol 1e-15 while already accurate (BLAS-dependent):
    # judge its answer by feasibility instead of its flag
    bs = sl.x[:d] ** 2 - sl.x[d:] ** 2
    assert np.linalg.norm(X @ bs - y) < 1e-10 * np.linalg.norm(y)
    assert np.linalg.norm(bs - r.x) / np.linalg.norm(r.x) < 1e-7
    assert abs(sl.fun - distance_regularizer(r.x, a)) < 1e-9 * sl.fun


def test_min_distance_limits():
    X, y = _problem(3)
    l1 = min_l1_interpolator(X, y)
    l2 = min_l2_interpolator(X, y)
    # alpha -> 0: R -> ||.||_1 polynomially; the excess l1 norm is O(alpha) (here ~2e-6 at 1e-3)
    r = min_distance_interpolator(X, y, 1e-6)
    assert r.success and np.sum(np.abs(r.x)) / l1.info["l1_norm"] - 1 < 1e-8
    assert np.linalg.norm(r.x - l1.x) < 1e-5  # the LP is unique here (strict certificate)
    assert l1.info["unique"]
    # alpha -> infinity: R ~ ||b||^2/(8 alpha^2): beta -> min-l2 with O(alpha^-2) relative error
    r = min_distance_interpolator(X, y, 1e3)
    assert np.linalg.norm(r.x - l2.x) / np.linalg.norm(l2.x) < 1e-10


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), log_a=st.floats(-3, 2))
def test_min_distance_oddness(seed, log_a):
    X, y = _problem(seed)
    a = math.exp(log_a)
    r1, r2 = min_distance_interpolator(X, y, a), min_distance_interpolator(X, -y, a)
    assert r1.success and np.array_equal(r2.x, -r1.x)  # sign-symmetric iteration, exactly


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    b = torch.tensor([-1.5, 0.0, 0.3], dtype=torch.float64)
    r = distance_regularizer(b, 0.7, reduce=False)
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float64 and r.device == b.device
    assert np.array_equal(r.numpy(), distance_regularizer(b.numpy(), 0.7, reduce=False))
