"""The tangent kernel at initialization and the kernel of the linearized residual dynamics.

THEORY.md section 5. ``K(x, x') = <grad_w f(w0, x), grad_w f(w0, x')>`` is computed by ``sympy.diff``
of ``f(w, x) = <w+^D - w-^D, x>`` on a generic instance (d = 3) at ``w+(0) = alpha u0``,
``w-(0) = alpha v0``; it is a scaled linear kernel ``c <x, x'>``. The tangent kernel is a property
of the model (independent of the loss); the kernel that drives the linearized residuals,
``dr/dt = -Theta r`` with ``Theta = 2 c_L K`` (``c_L`` the loss factor), is derived from the ODE and
changes with the loss normalization.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .steps import Recorder
from .symbols import ALPHA_POS, LOSS_FACTORS

__all__ = ["KernelDerivation", "derive_kernel"]


@dataclass(frozen=True)
class KernelDerivation:
    coefficient: sp.Expr          # K(x, x') = coefficient * <x, x'>
    dynamics_coefficient: sp.Expr  # dr/dt = -(dynamics_coefficient) X X^T r at initialization


def derive_kernel(rec: Recorder, D, loss, u0, v0) -> KernelDerivation:
    a = ALPHA_POS
    d, nr = 3, 2
    wp = [sp.Symbol(f"wp_{j}", positive=True) for j in range(d)]
    wm = [sp.Symbol(f"wm_{j}", positive=True) for j in range(d)]
    x = [sp.Symbol(f"x_{j}", real=True) for j in range(d)]
    xp = [sp.Symbol(f"xp_{j}", real=True) for j in range(d)]
    params = wp + wm

    def f(xx):
        return sum((wp[j] ** D - wm[j] ** D) * xx[j] for j in range(d))

    init = {**{w: a * u0 for w in wp}, **{w: a * v0 for w in wm}}
    grad = lambda xx: [sp.diff(f(xx), w).subs(init) for w in params]
    K = sp.expand(sum(g1 * g2 for g1, g2 in zip(grad(x), grad(xp))))
    c = sp.simplify(K.coeff(x[0]).coeff(xp[0]))
    inner = sum(x[j] * xp[j] for j in range(d))
    rec.equal("tangent kernel at init is linear: K(x, x') = c <x, x'>", K, c * inner, numeric=False,
              positive_bases=True, detail=f"sympy.diff of f(w, x) at w+ = alpha*{u0}, w- = alpha*{v0}; c = {c}")
    if (u0, v0) == (1, 1):
        rec.equal("c = 2 D^2 alpha^(2(D-1)) (THEORY.md s5)", c, 2 * D ** 2 * a ** (2 * D - 2), numeric=False,
                  positive_bases=True)
    # linearized residual dynamics on an instance with n = 2 samples
    X = sp.Matrix(nr, d, lambda i, j: sp.Symbol(f"X_{i}{j}", real=True))
    y = sp.Matrix(nr, 1, lambda i, j: sp.Symbol(f"y_{i}", real=True))
    beta = sp.Matrix([wp[j] ** D - wm[j] ** D for j in range(d)])
    r = X * beta - y
    L = LOSS_FACTORS[loss] * sum(r[i] ** 2 for i in range(nr))
    wdot = [-sp.diff(L, w) for w in params]                         # the ODE w' = -grad L
    rdot = [sum(sp.diff(r[i], w) * wd for w, wd in zip(params, wdot)) for i in range(nr)]
    rs = sp.Matrix(nr, 1, lambda i, j: sp.Symbol(f"r_{i}", real=True))
    # express y through the residual (y = X beta - r) after differentiating, then evaluate at init
    ysub = {y[i]: (X * beta)[i] - rs[i] for i in range(nr)}
    rdot0 = [sp.expand(rd.subs(ysub).subs(init)) for rd in rdot]
    # read off Theta from dr_0/dt = -Theta sum_k <x_0, x_k> r_k
    theta = sp.simplify(-rdot0[0].coeff(rs[1]) / sum(X[0, j] * X[1, j] for j in range(d)))
    XXt = X * X.T
    for i in range(nr):
        rec.equal(f"linearized residuals at init: dr_{i}/dt = -Theta (X X^T r)_{i}", rdot0[i],
                  -theta * sum(XXt[i, k] * rs[k] for k in range(nr)), numeric=False, positive_bases=True,
                  detail=f"r' = J w' with w' = -grad L (loss '{loss}'); Theta = {theta}")
    rec.equal("Theta = 2 c_L c (the loss factor times the tangent kernel)", theta, 2 * LOSS_FACTORS[loss] * c,
              numeric=False, positive_bases=True)
    return KernelDerivation(c, theta)
