"""Tests of krtheory.dynamics.gradient_descent against a plain NumPy GD and THEORY.md s9."""
from __future__ import annotations

import numpy as np
import pytest

from krtheory._validation import InvalidInputError
from krtheory.dynamics import gradient_descent

from test_dynamics_flow import dual_newton_d2, rel


def numpy_gd(X, y, alpha, D, eta, steps, c=2.0, u=None, v=None):
    """Textbook GD on raw w (what published experiment code does)."""
    wp = np.full(X.shape[1], float(alpha)) * (1.0 if u is None else u)
    wm = np.full(X.shape[1], float(alpha)) * (1.0 if v is None else v)
    for _ in range(steps):
        g = X.T @ (X @ (wp ** D - wm ** D) - y)
        wp, wm = wp - eta * c * D * wp ** (D - 1) * g, wm + eta * c * D * wm ** (D - 1) * g
    return wp, wm


@pytest.fixture(scope="module")
def prob():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 10))
    b = np.zeros(10)
    b[[0, 3]] = [0.8, -0.5]
    return X, X @ b


@pytest.mark.parametrize("D, alpha, eta", [(2, 0.5, 0.004), (3, 1.0, 0.0005), (4, 0.8, 0.0005)])
def test_matches_numpy_gd_step_for_step(prob, D, alpha, eta):
    X, y = prob
    N = 300
    wp, wm = numpy_gd(X, y, alpha, D, eta, N)
    r = gradient_descent(X, y, alpha, D, step=eta, max_steps=N, tol=0.0)
    assert r.status == "step-limit" and r.steps == N and r.time == pytest.approx(N * eta)
    # Same iteration; the engine stores w = alpha (1 + delta), so each step rounds differently
    # (relative eps per step, accumulated over N = 300 steps: ~1e-13 measured); 1e-11 leaves margin.
    assert rel(r.w_plus, wp) < 1e-11 and rel(r.w_minus, wm) < 1e-11
    assert rel(r.beta, wp ** D - wm ** D) < 1e-10
    assert np.allclose(r.gd_product, wp * wm, rtol=1e-11)


def test_general_init_matches_numpy(prob):
    X, y = prob
    rng = np.random.default_rng(2)
    u, v = np.exp(0.2 * rng.standard_normal(10)), np.exp(0.2 * rng.standard_normal(10))
    wp, wm = numpy_gd(X, y, 0.7, 2, 0.003, 200, u=u, v=v)
    r = gradient_descent(X, y, 0.7, 2, step=0.003, max_steps=200, tol=0.0, init=(u, v))
    # same iteration, different rounding (see test_matches_numpy_gd_step_for_step)
    assert r.steps == 200 and rel(r.w_plus, wp) < 1e-11 and rel(r.w_minus, wm) < 1e-11


def test_default_step_converges_batched(prob):
    X, y = prob
    rng = np.random.default_rng(9)
    Xs = np.stack([X] + [rng.standard_normal((4, 10)) for _ in range(3)])
    ys = np.stack([y] + [Xs[k] @ rng.standard_normal(10) for k in range(1, 4)])
    for D in (2, 3):
        r = gradient_descent(Xs, ys, np.array([0.3, 0.5, 1.0, 2.0]), D)
        assert np.all(r.status == "converged"), r.message
        # the reported loss is the loss of the returned beta (sum normalization): residuals of
        # ~1e-10 recomputed in NumPy differ by rounding, ~eps (||X|| ||beta|| + ||y||) each.
        res = np.linalg.norm(np.einsum("bnd,bd->bn", Xs, r.beta) - ys, axis=-1)
        scale = np.linalg.norm(Xs, 2, axis=(1, 2)) * np.linalg.norm(r.beta, axis=-1) + np.linalg.norm(ys, axis=-1)
        assert np.all(np.abs(np.sqrt(r.loss) - res) <= 1e-14 * scale)
        assert np.all(r.loss <= 1e-20 * np.sum(ys ** 2, -1))
        assert np.allclose(r.time, r.steps * r.step_size, rtol=1e-14)


def test_gd_like_flow_from_effective_alpha(prob):
    """THEORY.md s9: GD's limit is the shaped minimizer with c_i = (w+ w-)(end), not Q_alpha's."""
    X, y = prob
    a = 0.3
    r = gradient_descent(X, y, a, 2, step=0.01)
    assert r.success
    e_shaped = rel(r.beta, dual_newton_d2(X, y, r.gd_product, np.zeros(10)))
    e_q = rel(r.beta, dual_newton_d2(X, y, np.full(10, a * a), np.zeros(10)))
    # each GD step multiplies w+ w- by 1 - 16 eta^2 g^2 < 1: the product shrinks
    assert np.all(r.gd_product < a * a) and r.invariant_drift > 1e-6
    assert e_shaped < 0.1 * e_q, (e_shaped, e_q)


def test_step_too_large_up_front(prob):
    X, y = prob
    with pytest.raises(InvalidInputError, match="unstable at initialization"):
        gradient_descent(X, y, 1.0, 2, step=1.0)


def test_divergence_later_is_reported(prob):
    X, y = prob
    # alpha = 0.1: 2/lambda_max(H(w0)) = 0.185 (so no up-front error), but step 0.1 makes
    # w- = alpha (1 + 4 step g) cross zero in the first steps (|g| ~ 3): a divergence.
    r = gradient_descent(X, y, 0.1, 2, step=0.1, max_steps=20000)
    assert r.status == "diverged" and not r.success
    assert "step size 0.1 " in r.message
    assert np.all(np.isfinite(r.beta)) and np.isfinite(r.loss)


@pytest.mark.parametrize("kw, match", [
    (dict(step=-1.0), "step"),
    (dict(step=np.ones(3)), "step"),
    (dict(loss="abs"), "loss"),
    (dict(max_steps=0), "max_steps"),
])
def test_bad_inputs(prob, kw, match):
    X, y = prob
    with pytest.raises(InvalidInputError, match=match):
        gradient_descent(X, y, 1.0, 2, **kw)


def test_extreme_alpha_rejected(prob):
    X, y = prob
    with pytest.raises(InvalidInputError, match="gradient_flow"):
        gradient_descent(X, y, 1e-200, 2)
