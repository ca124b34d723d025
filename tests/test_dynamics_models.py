"""Tests of the engine's building blocks: vector fields, Jacobians, linear solves, integrators.

References: central finite differences, dense torch.linalg.solve, exact solutions of linear and
scalar ODEs (convergence orders measured, not assumed).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from krtheory.dynamics._models import DiagonalModel, WidthModel
from krtheory.dynamics._steppers import dopri5_step, lie_extrap_step, ros2_step

T64 = dict(dtype=torch.float64)


def _diag_model(coords, D, seed=0):
    rng = np.random.default_rng(seed)
    B, n, d = 3, 4, 7
    X = torch.tensor(rng.standard_normal((B, n, d)))
    y = torch.tensor(rng.standard_normal((B, n)))
    L = torch.tensor(np.log(0.3) + 0.2 * rng.standard_normal((B, d)))
    m = DiagonalModel(X, y, L, L + 0.1, D, 2.0, coords)
    s = m.initial_state() + 0.05 * torch.tensor(rng.standard_normal((B, 2 * d)))
    return m, s, rng


def _fd_jac(rhs, s, eps=1e-6):
    J = torch.zeros(s.shape[0], s.shape[1], s.shape[1], **T64)
    for k in range(s.shape[1]):
        e = torch.zeros_like(s)
        e[:, k] = eps
        J[:, :, k] = (rhs(s + e)[0] - rhs(s - e)[0]) / (2 * eps)
    return J


@pytest.mark.parametrize("coords", ["log", "delta", "raw"])
@pytest.mark.parametrize("D", [2.0, 3.0, 2.5])
def test_jacobian_matches_finite_differences(coords, D):
    m, s, _ = _diag_model(coords, D)
    J = m.jac(s)
    # central differences: truncation ~eps^2 |F'''| ~ 1e-12, rounding ~1e-16/1e-6 = 1e-10
    assert float((J - _fd_jac(m.rhs, s)).abs().max() / J.abs().max()) < 1e-8


@pytest.mark.parametrize("coords", ["log", "delta", "raw"])
def test_rhs_is_minus_gradient_in_w(coords):
    """dw/dt = -grad_w L with L = sum r^2: compare with torch autograd in w."""
    m, s, _ = _diag_model(coords, 3.0)
    F, rr = m.rhs(s)
    wp, wm = m.weights(s)
    w = torch.cat([wp, wm], -1).clone().requires_grad_(True)
    beta = w[:, :7] ** 3 - w[:, 7:] ** 3
    r = torch.bmm(m.X, beta.unsqueeze(-1)).squeeze(-1) - m.y
    (r * r).sum().backward()
    # chain rule back to the coordinates: dw/ds = w (log), w0 (delta), 1 (raw)
    dwds = {"log": w.detach(), "delta": torch.exp(m.L2), "raw": torch.ones_like(w)}[coords]
    assert torch.allclose(F * dwds, -w.grad, rtol=1e-12, atol=1e-14)
    assert torch.allclose(rr, (r * r).sum(-1).detach(), rtol=1e-13)


@pytest.mark.parametrize("coords", ["log", "delta", "raw"])
def test_woodbury_solve_matches_dense(coords):
    m, s, rng = _diag_model(coords, 3.0)
    J = m.jac(s)
    h = torch.tensor([1e-3, 1e-2, 2e-2], **T64)
    r = torch.tensor(rng.standard_normal((3, 14)))
    solve, info = m.shifted_solver(s)(h)
    dense = torch.linalg.solve(torch.eye(14, **T64) - h[:, None, None] * J, r)
    assert bool((info == 0).all())
    assert float((solve(r) - dense).abs().max() / dense.abs().max()) < 1e-12


def test_width_model_jacobian_and_gradient():
    rng = np.random.default_rng(3)
    B, n, d, k = 2, 3, 4, 2
    X = torch.tensor(rng.standard_normal((B, n, d)))
    y = torch.tensor(rng.standard_normal((B, n)))
    U0 = torch.tensor(rng.standard_normal((B, d, k)))
    V0 = torch.tensor(rng.standard_normal((B, d, k)))
    m = WidthModel(None, None).bind(X, y, 2.0, U0, V0)
    s = m.initial_state()
    J = m.jac(s)
    assert float((J - _fd_jac(m.rhs, s)).abs().max() / J.abs().max()) < 1e-8
    UV = s.clone().requires_grad_(True)
    U, V = UV[:, : d * k].reshape(B, d, k), UV[:, d * k:].reshape(B, d, k)
    r = torch.bmm(X, (U * V).sum(-1).unsqueeze(-1)).squeeze(-1) - y
    (r * r).sum().backward()
    assert torch.allclose(m.rhs(s)[0], -UV.grad, rtol=1e-12, atol=1e-14)


class _Linear:
    """y' = A y with a symmetric negative definite A (b copies with different spectra)."""

    def __init__(self, lam):
        rng = np.random.default_rng(0)
        self.b = len(lam)
        Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
        self.A = torch.tensor(np.stack([-(Q * np.array(l)) @ Q.T for l in lam]))

    def rhs(self, y):
        return torch.bmm(self.A, y.unsqueeze(-1)).squeeze(-1), (y * y).sum(-1)

    def jac(self, y):
        return self.A

    def exact(self, y0, t):
        return torch.stack([torch.linalg.matrix_exp(self.A[i] * t) @ y0[i] for i in range(self.b)])


def _order(step_fn, lam, hs):
    sysm = _Linear(lam)
    y0 = torch.ones(sysm.b, 4, **T64)
    f0, _ = sysm.rhs(y0)
    errs = []
    for h in hs:
        y1 = step_fn(sysm, y0, f0, torch.full((sysm.b,), h, **T64))
        errs.append(float((y1 - sysm.exact(y0, h)).norm()))
    return np.log(errs[0] / errs[1]) / np.log(hs[0] / hs[1])


def test_dopri5_local_order_and_error_estimate():
    at = torch.full((1,), 1e-12, **T64)
    def step(s, y, f, h):
        return dopri5_step(s.rhs, y, f, h, at.expand(s.b), 1e-12)[0]
    # local error O(h^6) for a 5th-order method
    assert _order(step, [[1.0, 2.0, 3.0, 4.0]], [0.2, 0.1]) == pytest.approx(6.0, abs=0.3)
    # stiffness indicator: h * rho for a linear problem is h * max eigenvalue
    sysm = _Linear([[1.0, 2.0, 3.0, 50.0]])
    y0 = torch.ones(1, 4, **T64)
    *_, stiff = dopri5_step(sysm.rhs, y0, sysm.rhs(y0)[0], torch.full((1,), 0.05, **T64), at, 1e-6)
    assert 0.5 * 2.5 < float(stiff) <= 2.5 * 1.01


def test_lie_extrap_order_and_stiff_damping():
    at = torch.full((1,), 1e-12, **T64)
    def step(s, y, f, h):
        return lie_extrap_step(s.rhs, s.jac, y, f, h, at.expand(s.b), 1e-12)[0]
    # order 5 -> local error O(h^6); the extrapolation tableau's higher terms are still visible
    # at h lambda = 0.16 (measured 5.57; 4.98 at twice the step, rounding below h = 0.01)
    assert _order(step, [[1.0, 2.0, 3.0, 4.0]], [0.04, 0.02]) == pytest.approx(6.0, abs=0.5)
    # a huge step on a stiff problem must damp, not amplify (the exact answer is ~0)
    sysm = _Linear([[1e-3, 1.0, 1e3, 1e6]])
    y0 = torch.ones(1, 4, **T64)
    y1 = step(sysm, y0, sysm.rhs(y0)[0], torch.full((1,), 100.0, **T64))
    ex = sysm.exact(y0, 100.0)
    assert float((y1 - ex).norm()) < 1e-2 * float(y0.norm())


def test_ros2_order_and_l_stability():
    at = torch.full((1,), 1e-12, **T64)
    def step(s, y, f, h):
        return ros2_step(s.rhs, s.jac, y, f, h, at.expand(s.b), 1e-12)[0]
    assert _order(step, [[1.0, 2.0, 3.0, 4.0]], [0.02, 0.01]) == pytest.approx(3.0, abs=0.2)
    # L-stable: R(-inf) = 0, so a step of h * lambda = 1e8 returns ~0 for that mode
    sysm = _Linear([[1e8, 1e8, 1e8, 1e8]])
    y0 = torch.ones(1, 4, **T64)
    y1 = step(sysm, y0, sysm.rhs(y0)[0], torch.full((1,), 1.0, **T64))
    assert float(y1.abs().max()) < 1e-6
