"""The kernel (lazy) model: the flow linearized at initialization, and laziness of the true flow.

``f_lin(w, x) = f(w0, x) + <grad_w f(w0, x), w - w0>`` has the features
``J0 = X [diag(D w+(0)^(D-1)), -diag(D w-(0)^(D-1))]`` (n x 2d); its flow is the linear ODE
``dr/dt = -c K r`` with ``K = J0 J0^T = X diag(D^2 (w+(0)^(2D-2) + w-(0)^(2D-2))) X^T``
(``2 D^2 alpha^(2D-2) X X^T`` for unbiased init, THEORY.md s5), solved exactly through the
eigendecomposition ``K = U diag(lambda) U^T``:
``r(t) = U e^(-c lambda t) U^T r0`` and ``w(t) - w0 = -J0^T U diag((1 - e^(-c lambda t)) / lambda) U^T r0``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from krtheory._validation import InvalidInputError

from ._common import (check_threads, loss_constant, loss_value, prepare_init, prepare_problem, resolve_device,
                      torch_threads, check_choice)
from .flow import gradient_flow
from .result import LazyDistance, LinearizedResult


class _Kernel:
    """Eigen-data of the linearized flow for a batch (torch, float64)."""

    def __init__(self, X, y, Lp, Lm, D, c):
        self.X, self.y, self.D, self.c = X, y, D, c
        self.Lp, self.Lm = Lp, Lm
        ap, am = torch.exp(Lp), torch.exp(Lm)
        self.ap, self.am = ap, am
        self.beta0 = torch.exp(D * Lp) - torch.exp(D * Lm)
        # ratio j/a = +-D a^(D-2) per half: delta = (w - w0)/w0 = -(j/a) X^T U phi U^T r0
        self.kp = D * torch.exp((D - 2.0) * Lp)
        self.km = -D * torch.exp((D - 2.0) * Lm)
        kdiag = D * D * (torch.exp((2 * D - 2.0) * Lp) + torch.exp((2 * D - 2.0) * Lm))
        self.K = torch.bmm(X * kdiag.unsqueeze(1), X.transpose(1, 2))
        lam, U = torch.linalg.eigh(self.K)
        # eigenvalues at rounding level of the largest are null directions of K (rank-deficient X);
        # y in range(X) keeps r0 out of them, and J0^T kills them anyway.
        tiny = lam[:, -1:].abs() * lam.shape[-1] * torch.finfo(lam.dtype).eps
        self.null = lam <= tiny
        self.lam = torch.where(self.null, torch.zeros_like(lam), lam)
        self.U = U
        r0 = torch.bmm(X, self.beta0.unsqueeze(-1)).squeeze(-1) - y
        self.c0 = torch.bmm(U.transpose(1, 2), r0.unsqueeze(-1)).squeeze(-1)  # U^T r0

    def phi(self, t):
        """``(1 - e^(-c lambda t)) / lambda`` ``(b, n)`` for per-problem times ``t (b,)`` (inf ok)."""
        cl = self.c * self.lam
        tt = t.unsqueeze(-1)
        e = -torch.expm1(-cl * torch.where(torch.isinf(tt), torch.zeros_like(tt), tt))
        ph = torch.where(torch.isinf(tt).expand_as(cl), torch.ones_like(cl), e) / self.lam.clamp_min(torch.finfo(cl.dtype).tiny)
        return torch.where(self.null, torch.zeros_like(ph), ph)

    def deltas(self, t, idx=None):
        """``(delta+, delta-)`` of the linearized flow at times ``t``, each ``(b, d)``."""
        U, c0, X = self.U, self.c0, self.X
        kp, km = self.kp, self.km
        if idx is not None:
            U, c0, X, kp, km = U[idx], c0[idx], X[idx], kp[idx], km[idx]
            ph = self.phi_sub(t, idx)
        else:
            ph = self.phi(t)
        v = torch.bmm(U, (ph * c0).unsqueeze(-1))                 # (b, n, 1)
        xv = torch.bmm(X.transpose(1, 2), v).squeeze(-1)           # X^T U phi U^T r0
        return -kp * xv, -km * xv

    def phi_sub(self, t, idx):
        cl = self.c * self.lam[idx]
        e = -torch.expm1(-cl * t.unsqueeze(-1))
        ph = e / self.lam[idx].clamp_min(torch.finfo(cl.dtype).tiny)
        return torch.where(self.null[idx], torch.zeros_like(ph), ph)

    def residual(self, t):
        cl = self.c * self.lam
        tt = t.unsqueeze(-1)
        dec = torch.exp(-cl * tt)
        return torch.bmm(self.U, (dec * self.c0).unsqueeze(-1)).squeeze(-1)


def _setup(X, y, alpha, depth, log_alpha, init, loss, device, dtype):
    check_choice(loss, "loss", ("sum", "half", "mean"))
    dev = resolve_device(device)
    prob = prepare_problem(X, y, alpha, depth, device=dev, dtype=dtype, log_alpha=log_alpha)
    lu, lv = prepare_init(init, prob, dtype, dev)
    la = prob.log_alpha.unsqueeze(-1)
    c = loss_constant(loss, prob.n)
    return prob, _Kernel(prob.X, prob.y, la + lu, la + lv, prob.depth, c), c, dev


def linearized_flow(X, y, alpha=None, depth=2, *, log_alpha=None, times=None, init=None, loss="sum",
                    device=None, dtype=torch.float64, threads=1) -> LinearizedResult:
    """Exact flow of the model linearized at ``w(0)`` (the kernel/lazy model, THEORY.md s5).

    ``times``: 1-D array of times >= 0 (units of the chosen ``loss``; ``inf`` allowed), default
    ``[0, 1e-3, ..., 1e3] / (c lambda_max)`` per problem's scale taken from the first problem.
    Returns a :class:`LinearizedResult`; for unbiased init ``beta_limit`` is ``X^+ y`` (the kernel
    regime's min-l2 interpolator), since the kernel ``2 D^2 alpha^(2D-2) X X^T`` is a scaled linear
    kernel. Other arguments as :func:`gradient_flow`.
    """
    with torch_threads(check_threads(threads)):
        prob, ker, c, dev = _setup(X, y, alpha, depth, log_alpha, init, loss, device, dtype)
        if times is None:
            lmax = float(ker.lam[0, -1]) * c
            times = np.concatenate([[0.0], np.logspace(-3, 3, 25) / max(lmax, 1e-300)])
        tt = np.asarray(times, dtype=np.float64)
        if tt.ndim != 1 or tt.size == 0 or np.any(np.isnan(tt)) or np.any(tt < 0):
            raise InvalidInputError(f"times must be a non-empty 1-D array of times >= 0, got {times!r}")
        B = prob.B
        betas, dps, dms, losses = [], [], [], []
        for t in tt:
            tv = torch.full((B,), float(t), dtype=dtype, device=dev)
            dp, dm = ker.deltas(tv)
            ep, em = ker.ap * dp, ker.am * dm
            beta = ker.beta0 + ker.kp * ker.ap * ep + ker.km * ker.am * em
            r = ker.residual(tv) if math.isfinite(t) else torch.zeros(B, prob.n, dtype=dtype, device=dev)
            betas.append(beta), dps.append(dp), dms.append(dm)
            losses.append(loss_value((r * r).sum(-1), loss, prob.n))
        tinf = torch.full((B,), math.inf, dtype=dtype, device=dev)
        dpi, dmi = ker.deltas(tinf)
        beta_inf = ker.beta0 + ker.kp * ker.ap * (ker.ap * dpi) + ker.km * ker.am * (ker.am * dmi)
        to = lambda a: a.detach().cpu().numpy()  # noqa: E731
        st = lambda L: to(torch.stack(L, 1))      # noqa: E731
        out = dict(beta=st(betas), delta_plus=st(dps), delta_minus=st(dms), loss=st(losses),
                   beta_limit=to(beta_inf), delta_limit_plus=to(dpi), delta_limit_minus=to(dmi),
                   kernel=to(ker.K), eigenvalues=to(c * ker.lam))
        if not prob.batched:
            out = {k: v[0] for k, v in out.items()}
        return LinearizedResult(times=tt, loss_normalization=loss, depth=prob.depth, **out)


def lazy_distance(X, y, alpha=None, depth=2, *, log_alpha=None, init=None, loss="sum", rtol=1e-12,
                  device=None, dtype=torch.float64, threads=1, **flow_kwargs) -> LazyDistance:
    """How lazy the true flow is (THEORY.md s5), measured along an integrated run.

    Runs :func:`gradient_flow` in log coordinates (``w = w0 e^s``, so ``delta = expm1(s)`` keeps
    full relative precision) and at every accepted step compares with the exact linearized flow at
    the same time. Returns a :class:`LazyDistance` with ``movement`` ``||w(T)-w0||/||w0||``
    (expected slope -D in alpha for large alpha), ``kernel_change`` ``max_t ||K(t)-K0||_F/||K0||_F``
    (slope -2D: the first-order change cancels under unbiased init), ``trajectory_gap``
    ``max_t ||w(t) - w_lin(t)|| / ||w0||`` (slope -2D). ``rtol`` defaults to 1e-12 because the gap
    is ~alpha^-D times smaller than the movement itself.
    """
    with torch_threads(check_threads(threads)):
        dev = resolve_device(device)
        prob, ker, c, dev = _setup(X, y, alpha, depth, log_alpha, init, loss, dev, dtype)
        B, D = prob.B, prob.depth
        gap = torch.zeros(B, dtype=dtype, device=dev)
        kch = torch.zeros(B, dtype=dtype, device=dev)
        kch_end = torch.zeros(B, dtype=dtype, device=dev)
        w0n = torch.sqrt((ker.ap ** 2).sum(-1) + (ker.am ** 2).sum(-1))
        K0n = torch.linalg.matrix_norm(ker.K)
        d = prob.d
        p2 = (2 * D - 2.0)
        Ap2, Am2 = torch.exp(p2 * ker.Lp), torch.exp(p2 * ker.Lm)
        hist = []  # (idx, t, gap) tensors per accepted step batch

        def cb(t, s, idx):
            sp, sm = s[:, :d], s[:, d:]
            dp, dm = torch.expm1(sp), torch.expm1(sm)
            lp, lm = ker.deltas(t, idx)
            g = torch.sqrt(((ker.ap[idx] * (dp - lp)) ** 2).sum(-1) + ((ker.am[idx] * (dm - lm)) ** 2).sum(-1)) / w0n[idx]
            gap[idx] = torch.maximum(gap[idx], g)
            dk = D * D * (Ap2[idx] * torch.expm1(p2 * sp) + Am2[idx] * torch.expm1(p2 * sm))
            dK = torch.bmm(ker.X[idx] * dk.unsqueeze(1), ker.X[idx].transpose(1, 2))
            kc = torch.linalg.matrix_norm(dK) / K0n[idx]
            kch[idx] = torch.maximum(kch[idx], kc)
            kch_end[idx] = kc
            hist.append((idx.clone(), t.clone(), g.clone()))

        flow_kwargs.setdefault("method", "dopri5")
        r = gradient_flow(X, y, alpha, depth, log_alpha=log_alpha, init=init, loss=loss, rtol=rtol,
                          coordinates="log", device=dev, dtype=dtype, threads=None, _callback=cb, **flow_kwargs)
        lwp = np.atleast_2d(r.log_w_plus)
        lwm = np.atleast_2d(r.log_w_minus)
        ap, am = ker.ap.cpu().numpy(), ker.am.cpu().numpy()
        lp0, lm0 = ker.Lp.cpu().numpy(), ker.Lm.cpu().numpy()
        mov = np.sqrt(np.sum((ap * np.expm1(lwp - lp0)) ** 2, -1) + np.sum((am * np.expm1(lwm - lm0)) ** 2, -1)) / w0n.cpu().numpy()
        to = lambda a: a.cpu().numpy()  # noqa: E731
        vals = dict(movement=mov, kernel_change=to(kch), kernel_change_end=to(kch_end), trajectory_gap=to(gap))
        if hist:
            I = torch.cat([h[0] for h in hist]).cpu().numpy()
            T = torch.cat([h[1] for h in hist]).cpu().numpy()
            G = torch.cat([h[2] for h in hist]).cpu().numpy()
            gh = [(np.concatenate([[0.0], T[I == b]]), np.concatenate([[0.0], G[I == b]])) for b in range(B)]
        else:
            gh = [(np.zeros(1), np.zeros(1)) for _ in range(B)]
        if not prob.batched:
            vals = {k: float(v[0]) for k, v in vals.items()}
            gh = gh[0]
        return LazyDistance(flow=r, gap_history=gh, **vals)
