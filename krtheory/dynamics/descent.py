"""Fixed-step gradient descent on the raw parameters of the diagonal network.

``w <- w - eta * grad_w L(w)`` exactly (THEORY.md s9), stored as ``w = w0 (1 + delta)`` so that
``beta = w0^D expm1(D log1p(delta))`` differences keep full relative precision in the kernel regime
(trap (b)); the update of ``delta`` is the same iteration as the update of ``w`` (``delta`` moves by
``-eta grad_w L / w0``). The gradient is ``X^T (X beta - y)`` (trap (c)).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from krtheory._validation import InvalidInputError

from ._common import check_alpha_scale, check_data_scale, check_positive, check_threads, loss_constant, prepare_init, prepare_problem, torch_threads
from ._driver import (CONVERGED, DIVERGED, EXPLODE_FACTOR, PLATEAU, RUNNING, STAGNATED, STEP_LIMIT, RunState,
                      _record, stall_tests)
from ._models import DiagonalModel
from .flow import _beta_l2_inf, _common_args, build_result
from .result import FlowResult

# GD is not monotone near the edge of stability; stagnation needs a longer window than the flow.
GD_STAGNATION_STEPS = 200
# Plateau window of GD (see _driver.PLATEAU_STEPS): less than 1% per 5,000 steps needs ~2e7 steps
# per 20 decades of loss, far beyond max_steps; a GD run with condition number kappa gains 1% in
# ~kappa / 200 steps, so runs up to kappa ~ 1e6 are never cut short.
GD_PLATEAU_STEPS = 5_000


def _init_curvature(model: DiagonalModel) -> torch.Tensor:
    """Exact ``lambda_max`` of the loss Hessian in ``w`` at initialization ``(B,)``.

    ``H = c [J^T J + diag(d2beta/dw2 * g)]``, ``J = X [diag(D w+^(D-1)), -diag(D w-^(D-1))]``.
    """
    D, c = model.D, model.c
    wp, wm = torch.exp(model.Lp), torch.exp(model.Lm)
    jp, jm = D * wp.pow(D - 1), -D * wm.pow(D - 1)
    Jw = torch.cat([model.X * jp.unsqueeze(1), model.X * jm.unsqueeze(1)], -1)  # (B, n, 2d)
    beta0 = model.beta0
    r = torch.bmm(model.X, beta0.unsqueeze(-1)).squeeze(-1) - model.y
    g = torch.bmm(r.unsqueeze(1), model.X).squeeze(1)
    H = c * torch.bmm(Jw.transpose(1, 2), Jw)
    d2 = torch.cat([D * (D - 1) * wp.pow(D - 2) * g, -D * (D - 1) * wm.pow(D - 2) * g], -1)
    H.diagonal(dim1=-2, dim2=-1).add_(c * d2)
    return torch.linalg.eigvalsh(H)[:, -1]


def _default_step(model: DiagonalModel, beta_l2_norm: torch.Tensor) -> torch.Tensor:
    """``1 / lambda`` with ``lambda`` a bound on the curvature along the whole run ``(B,)``.

    At the end ``H ~ c J^T J`` with ``J J^T = X diag(D^2 (w+^(2D-2) + w-^(2D-2))) X^T``; since the
    invariant keeps ``min(w+, w-) <= a`` and ``w+^D - w-^D = beta``, ``max(w)^D <= |beta| + a^D``.
    ``|beta_i|`` is bounded by ``||beta*_l2||_2`` (heuristic, checked on our test problems; a
    divergence halves the step and restarts), and ``lambda_max(X_S diag X_S^T) <= ||X||_2^2 max``.
    The initial Hessian is bounded exactly (:func:`_init_curvature`). ``1/lambda`` is half the
    stability limit ``2/lambda``.
    """
    D, c = model.D, model.c
    amax = torch.maximum(model.Ap, model.Am).amax(-1)
    xn2 = torch.linalg.matrix_norm(model.X, ord=2) ** 2
    lam_end = c * 2 * D * D * (beta_l2_norm + amax) ** ((2 * D - 2) / D) * xn2
    lam0 = _init_curvature(model).clamp_min(0)
    return 1.0 / torch.maximum(lam_end, lam0).clamp_min(torch.finfo(lam0.dtype).tiny)


def gradient_descent(X, y, alpha=None, depth=2, *, log_alpha=None, step=None, loss="sum", init=None,
                     tol=1e-20, max_steps=1_000_000, device=None, dtype=torch.float64, history=256,
                     progress=None, check_range=True, max_restarts=8, threads=1) -> FlowResult:
    """Gradient descent ``w <- w - step * grad_w L`` on the depth-``D`` diagonal network.

    Arguments as :func:`gradient_flow`, plus ``step``: None (default, per problem: ``1/lambda`` with
    ``lambda`` a bound on the Hessian's top eigenvalue along the run, see ``_default_step``; on
    divergence the problem restarts from ``w(0)`` with half the step, at most ``max_restarts``
    times), a float, or a (B,) array. An explicit step above ``2 / lambda_max(Hessian at w(0))``
    raises :class:`InvalidInputError`; one that diverges later stops with status "diverged" and a
    message naming the step.

    The result's ``time`` is ``steps * step_size`` (the flow time GD approximates), ``step_size``
    the step used, ``gd_product`` the end-of-run ``w+ * w-`` (THEORY.md s9: GD behaves like the flow
    from a slightly smaller effective alpha), ``invariant_drift`` how far GD moved the flow's
    invariant. ``extra["restarts"]`` counts the step halvings. ``threads`` as in gradient_flow.
    """
    with torch_threads(check_threads(threads)):
        return _gradient_descent(X, y, alpha, depth, log_alpha, step, loss, init, tol, max_steps, device,
                                 dtype, history, progress, check_range, max_restarts)


def _gradient_descent(X, y, alpha, depth, log_alpha, step, loss, init, tol, max_steps, device, dtype,
                      history, progress, check_range, max_restarts):
    _, _, tol, _, max_steps, dtype, dev = _common_args(
        loss, "auto", 1e-10, None, tol, math.inf, max_steps, history, dtype, device)
    max_restarts = int(check_positive(max_restarts + 1, "max_restarts + 1", integer=True)) - 1
    prob = prepare_problem(X, y, alpha, depth, device=dev, dtype=dtype, log_alpha=log_alpha)
    if float(prob.log_alpha.abs().max()) > 300:
        raise InvalidInputError("gradient_descent needs alpha within [1e-130, 1e130] (w is a float); "
                                "use gradient_flow (log-weights) for more extreme scales")
    check_data_scale(prob)
    check_alpha_scale(prob)
    lu, lv = prepare_init(init, prob, dtype, dev)
    c = loss_constant(loss, prob.n)
    la = prob.log_alpha.unsqueeze(-1)
    model = DiagonalModel(prob.X, prob.y, la + lu, la + lv, prob.depth, c, "delta")
    B = prob.B
    Xn, yn = prob.X64, prob.y64
    _beta_l2_inf(Xn, yn, check_range)
    bl2 = torch.as_tensor([np.linalg.norm(np.linalg.lstsq(Xn[b], yn[b], rcond=None)[0]) for b in range(B)],
                          dtype=dtype, device=dev)
    explicit = step is not None
    if explicit:
        if isinstance(step, torch.Tensor):
            step = step.detach().cpu().numpy()
        st_arr = np.asarray(step, dtype=np.float64)
        if st_arr.ndim > 1 or (st_arr.ndim == 1 and st_arr.shape[0] != B):
            raise InvalidInputError(f"step must be a scalar or shape ({B},), got shape {st_arr.shape}")
        if not np.all(np.isfinite(st_arr)) or not np.all(st_arr > 0):
            raise InvalidInputError(f"step must be finite and > 0, got {step!r}")
        eta = torch.as_tensor(np.broadcast_to(st_arr, (B,)).copy(), dtype=dtype, device=dev)
        lam0 = _init_curvature(model)
        bad = eta * lam0 > 2.0
        if bool(bad.any()):
            b = int(torch.nonzero(bad)[0])
            raise InvalidInputError(
                f"step = {float(eta[b]):.4g} is unstable at initialization: it exceeds 2 / lambda_max = "
                f"{2.0 / float(lam0[b]):.4g} (top Hessian eigenvalue {float(lam0[b]):.4g}) for problem {b}")
    else:
        eta = _default_step(model, bl2)

    ynorm = prob.y.norm(dim=-1)
    xnorm = torch.linalg.matrix_norm(prob.X, ord=2)
    tol_rr = tol * ynorm ** 2
    restarts = torch.zeros(B, dtype=torch.long, device=dev)
    s0 = model.initial_state()
    while True:
        st = _gd_loop(model, s0.clone(), eta, tol_rr, max_steps, history, ynorm, xnorm, progress)
        div = st.status == DIVERGED
        if explicit or not bool(div.any()):
            break
        retry = div & (restarts < max_restarts)
        if not bool(retry.any()):
            break
        # restart only the diverged problems with half the step; keep the finished ones
        ri = torch.nonzero(retry).squeeze(-1)
        eta_r = eta.clone()
        eta_r[ri] = eta[ri] / 2
        restarts[ri] += 1
        sub = model.subset(ri)
        st_r = _gd_loop(sub, sub.initial_state(), eta_r[ri], tol_rr[ri], max_steps, history,
                        ynorm[ri], xnorm[ri], progress)
        eta = eta_r
        st = _merge(st, st_r, ri)
        # loop again only for the problems that still diverge
        while True:
            div2 = (st.status == DIVERGED) & (restarts < max_restarts)
            if not bool(div2.any()):
                break
            ri = torch.nonzero(div2).squeeze(-1)
            eta[ri] = eta[ri] / 2
            restarts[ri] += 1
            sub = model.subset(ri)
            st_r = _gd_loop(sub, sub.initial_state(), eta[ri], tol_rr[ri], max_steps, history,
                            ynorm[ri], xnorm[ri], progress)
            st = _merge(st, st_r, ri)
        break
    codes = st.status.cpu().numpy()
    lp, lm = model.log_weights(st.s)
    prod = torch.exp(lp + lm).cpu().numpy()
    res = build_result(st, model, prob, loss=loss, tol=tol, coordinates="delta", dev=dev, width=False,
                       method="gd", step_size=eta.cpu().numpy(), gd_product=prod)
    msgs = np.array(res.message if prob.batched else [res.message], dtype=object)
    eta_np = eta.cpu().numpy()
    for b in range(B):
        if codes[b] == DIVERGED:
            msgs[b] = (f"diverged: step size {eta_np[b]:.4g} is too large for this problem "
                       f"(the loss exploded or w left the representable range after {int(st.steps[b])} steps"
                       + (f", after {int(restarts[b])} halvings of the default step)" if not explicit else ")"))
    object.__setattr__(res, "message", msgs.astype(str) if prob.batched else str(msgs[0]))
    object.__setattr__(res, "extra", {"restarts": restarts.cpu().numpy() if prob.batched else int(restarts[0])})
    return res


def _merge(st, st_r, ri):
    for name in ("s", "t", "rr", "rr0", "steps", "rejected", "nfev", "njev", "status", "stiff_time",
                 "used_ros", "hist_t", "hist_l", "hist_n", "h"):
        getattr(st, name)[ri] = getattr(st_r, name)
    return st


def _gd_loop(model, s, eta, tol_rr, max_steps, H, ynorm, xnorm, progress):
    """Run GD for all problems of ``model`` (finished ones frozen); returns a RunState."""
    B = model.B
    dev, dt = s.device, s.dtype
    F, rr = model.rhs(s)
    st = RunState(
        s=s, t=torch.zeros(B, dtype=dt, device=dev), rr=rr.clone(), rr0=rr.clone(),
        steps=torch.zeros(B, dtype=torch.long, device=dev), rejected=torch.zeros(B, dtype=torch.long, device=dev),
        nfev=torch.ones(B, dtype=torch.long, device=dev), njev=torch.zeros(B, dtype=torch.long, device=dev),
        status=torch.zeros(B, dtype=torch.long, device=dev), stiff_time=torch.full((B,), -1.0, dtype=dt, device=dev),
        used_ros=torch.zeros(B, dtype=torch.bool, device=dev),
        hist_t=torch.zeros(B, H, dtype=dt, device=dev), hist_l=torch.zeros(B, H, dtype=dt, device=dev),
        hist_n=torch.zeros(B, dtype=torch.long, device=dev), h=eta.clone(),
    )
    stride = torch.ones(B, dtype=torch.long, device=dev)
    allidx = torch.arange(B, device=dev)
    _record(st, allidx, stride, H, model)
    best = rr.clone()
    since = torch.zeros(B, dtype=torch.long, device=dev)
    s_best = s.clone()
    tiny = torch.finfo(dt).tiny
    it = 0
    # Work on the still-running problems only: when fewer than 3/4 of the current working set
    # run, the set is compacted (one gather of X), so a batch costs what its unfinished problems
    # cost instead of B times its slowest problem.
    act = allidx
    sub = model
    s_a, F_a, rr_a = st.s.clone(), F, rr
    eta_a, tol_a, rr0_a = eta, tol_rr, st.rr0
    yn_a, xn_a = ynorm, xnorm
    while True:
        steps_a = st.steps.index_select(0, act)
        finite = torch.isfinite(rr_a) & torch.isfinite(s_a).all(-1)
        conv = finite & (rr_a <= tol_a)
        div = (~finite) | (rr_a > EXPLODE_FACTOR * rr0_a.clamp_min(tiny))
        stag, plat = stall_tests(lambda: sub, torch.nan_to_num(s_a), rr_a, best, since, s_best, act, yn_a, xn_a,
                                 finite, GD_STAGNATION_STEPS, GD_PLATEAU_STEPS)
        full = lambda v: torch.full_like(steps_a, v)  # noqa: E731
        code = torch.where(steps_a >= max_steps, full(STEP_LIMIT), full(RUNNING))
        code = torch.where(plat, full(PLATEAU), code)
        code = torch.where(stag, full(STAGNATED), code)
        code = torch.where(conv, full(CONVERGED), code)
        code = torch.where(div, full(DIVERGED), code)
        st.status.index_copy_(0, act, code)
        run_a = code == RUNNING
        nrun = int(run_a.sum())
        if nrun == 0:
            break
        if nrun < 0.75 * act.numel():
            keep = torch.nonzero(run_a).squeeze(-1)
            act = act.index_select(0, keep)
            sub = model.subset(act)
            s_a, F_a, rr_a = s_a.index_select(0, keep), F_a.index_select(0, keep), rr_a.index_select(0, keep)
            eta_a, tol_a, rr0_a = eta.index_select(0, act), tol_rr.index_select(0, act), st.rr0.index_select(0, act)
            yn_a, xn_a = ynorm.index_select(0, act), xnorm.index_select(0, act)
            run_a = torch.ones_like(keep, dtype=torch.bool)
        # a non-finite iterate is not kept: the reported state is the last finite one
        s_new = s_a + (eta_a * run_a).unsqueeze(-1) * F_a
        F_new, rr_new = sub.rhs(s_new)
        ok_new = torch.isfinite(rr_new) & torch.isfinite(s_new).all(-1)
        adv = run_a & ok_new
        s_a = torch.where(adv.unsqueeze(-1), s_new, s_a)
        F_a = torch.where(adv.unsqueeze(-1), F_new, F_a)
        rr_a = torch.where(run_a, rr_new, rr_a)  # the stop test sees the non-finite value
        st.s.index_copy_(0, act, s_a)
        st.rr.index_copy_(0, act, torch.where(adv, rr_new, st.rr.index_select(0, act)))
        st.steps.index_add_(0, act, adv.long())
        st.nfev.index_add_(0, act, run_a.long())
        st.t.index_copy_(0, act, st.steps.index_select(0, act).to(dt) * eta_a)
        _record(st, act[run_a], stride, H, model)
        it += 1
        if callable(progress) and it % 1000 == 0:
            progress({"iteration": it, "done": B - nrun, "total": B})
    _record(st, allidx, stride, H, model, final=True)
    return st
