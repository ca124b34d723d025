"""Tests of krtheory.dynamics.linearized_flow / lazy_distance (THEORY.md s5)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from krtheory._validation import InvalidInputError
from krtheory.dynamics import lazy_distance, linearized_flow


@pytest.fixture(scope="module")
def prob():
    rng = np.random.default_rng(42)
    X = rng.standard_normal((4, 8))
    b = np.zeros(8)
    b[[1, 5]] = [1.0, -0.7]
    return X, X @ b


def test_limit_is_pinv_solution(prob):
    X, y = prob
    r = linearized_flow(X, y, np.array([0.1, 1.0, 30.0]), 3)
    ref = np.linalg.pinv(X) @ y
    # closed form via eigh of K: ~cond(K) eps ~ 1e-14
    assert np.max(np.abs(r.beta_limit - ref)) < 1e-12 * np.abs(ref).max()


def test_trajectory_matches_matrix_exponential(prob):
    """Independent solution of the linear ODE z' = A z (z = w - w0) with scipy.linalg.expm."""
    X, y = prob
    a, D, c = 0.8, 3, 2.0
    d = X.shape[1]
    j = np.concatenate([D * a ** (D - 1) * np.ones(d), -D * a ** (D - 1) * np.ones(d)])
    J0 = X[:, np.r_[0:d, 0:d]] * j                # (n, 2d) features
    # augmented linear system in (e, 1): e' = -c J0^T (J0 e - y)
    A = np.zeros((2 * d + 1, 2 * d + 1))
    A[: 2 * d, : 2 * d] = -c * J0.T @ J0
    A[: 2 * d, -1] = c * J0.T @ y
    times = np.array([0.0, 0.01, 0.1, 1.0])
    r = linearized_flow(X, y, a, D, times=times)
    for k, t in enumerate(times):
        z = expm(A * t)[:, -1]
        e = z[: 2 * d]
        assert np.allclose(r.delta_plus[k] * a, e[:d], rtol=1e-9, atol=1e-12)
        assert np.allclose(r.delta_minus[k] * a, e[d:], rtol=1e-9, atol=1e-12)
        beta = j[:d] * e[:d] + j[d:] * e[d:]
        assert np.allclose(r.beta[k], beta, rtol=1e-9, atol=1e-12)
        assert r.loss[k] == pytest.approx(np.sum((X @ beta - y) ** 2), rel=1e-8, abs=1e-20)
    # tangent kernel of THEORY.md s5: 2 D^2 alpha^(2D-2) X X^T
    assert np.allclose(r.kernel, 2 * D ** 2 * a ** (2 * D - 2) * X @ X.T, rtol=1e-13)


def test_lazy_distance_slopes(prob):
    """THEORY.md s5: movement ~ alpha^-D, kernel change and trajectory gap ~ alpha^-2D."""
    X, y = prob
    for D in (2, 3):
        alphas = np.array([8.0, 16.0])
        L = lazy_distance(X, y, alphas, D)
        sl = lambda v: np.log(v[1] / v[0]) / np.log(2.0)  # noqa: E731
        # the asymptotic slopes hold up to relative corrections O(alpha^-D) <= 1/64 here
        assert sl(L.movement) == pytest.approx(-D, abs=0.05)
        assert sl(L.kernel_change) == pytest.approx(-2 * D, abs=0.05)
        assert sl(L.trajectory_gap) == pytest.approx(-2 * D, abs=0.05)
        assert np.all(L.trajectory_gap < L.movement)
        t, g = L.gap_history[1]
        assert t[0] == 0.0 and g[0] == 0.0 and np.max(g) == L.trajectory_gap[1]
        assert t[-1] == pytest.approx(L.flow.time[1])


def test_bad_times(prob):
    X, y = prob
    with pytest.raises(InvalidInputError, match="times"):
        linearized_flow(X, y, 1.0, 2, times=[-1.0])
    with pytest.raises(InvalidInputError, match="alpha"):
        linearized_flow(X, y, 0.0, 2)
