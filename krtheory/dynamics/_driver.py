"""The batched adaptive integration loop: per-problem step sizes, methods and stopping.

Every problem of the batch has its own time, step size, method (DP5 until stiffness is detected,
then ROS2, when ``method="auto"``) and stop reason; finished problems are masked out, so a batch
costs what its unfinished problems cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._steppers import dopri5_step, lie_extrap_step, ros2_step

# status codes (index into STATUS)
RUNNING, CONVERGED, STAGNATED, TIME_LIMIT, STEP_LIMIT, DIVERGED, UNDERFLOW, PLATEAU = range(8)
STATUS = ("running", "converged", "stagnated", "time-limit", "step-limit", "diverged", "step-underflow",
          "plateau")

# Hairer & Wanner's DOPRI5 stiffness test: h*rho(J) > 3.25 on 15 accepted steps (a non-stiff
# streak of 6 resets the count) means the step is limited by stability, not accuracy.
STIFF_HRHO = 3.25
STIFF_COUNT = 15
NONSTIFF_RESET = 6
# ... and the switch happens only if the remaining DP5 steps at that step would exceed this.
STIFF_REMAINING_STEPS = 3000
# Stagnation: no 1% improvement of the best loss for this many accepted steps, while the
# residual is within FLOOR_FACTOR of the rounding floor estimate (see floor_residual).
STAGNATION_STEPS = 60
FLOOR_FACTOR = 1e2
# ... and only a floor that is itself small counts: a floor estimate above this fraction of ||y||
# means the model fitted nothing representable (e.g. weights grown past 1/eps), not a fit; and a
# floor near it leaves the null-space part of beta (the implicit bias) unresolved: raw weights at
# alpha = 100, D = 4 stall at ||r|| ~ 1e-5 ||y|| with beta 80% off, which must not be a success.
FLOOR_MAX_REL = 1e-6
# Plateau (not a success): no 1% improvement of the best loss over this many accepted steps while
# the state has stopped moving (max |s - s_best| <= PLATEAU_MOVE (1 + max |s_best|)). A run that
# improves less than 1% per 500 steps needs > 500 * ln(1e20)/ln(1.01) ~ 2e6 steps per 20 decades
# of loss, beyond any step cap, so this never cuts short a run that could reach tol; the stiff
# tails (THEORY.md s10) gain far more per accepted step. A saddle-to-saddle plateau of the rich
# regime keeps the log-weights moving by O(1), so the movement test spares it.
PLATEAU_STEPS = 500
PLATEAU_MOVE = 1e-6
# A flow's loss never increases; a loss this many times the initial one means the integration
# (not the ODE) has failed.
EXPLODE_FACTOR = 1e6


@dataclass
class RunState:
    s: torch.Tensor
    t: torch.Tensor
    rr: torch.Tensor
    rr0: torch.Tensor
    steps: torch.Tensor
    rejected: torch.Tensor
    nfev: torch.Tensor
    njev: torch.Tensor
    status: torch.Tensor
    stiff_time: torch.Tensor
    used_ros: torch.Tensor
    hist_t: torch.Tensor
    hist_l: torch.Tensor
    hist_n: torch.Tensor
    h: torch.Tensor


def floor_residual(model, s, ynorm, xnorm):
    """Estimated rounding floor of ``||X beta - y||`` ``(b,)``.

    ``beta`` is a difference of terms of size ``beta_scale``; each carries a few ulps, so ``X beta``
    is uncertain by about ``eps * ||X||_2 * ||beta_scale||``, and ``y`` by ``eps * ||y||``.
    """
    eps = torch.finfo(s.dtype).eps
    sc = model.beta_scale(s).norm(dim=-1)
    return 8.0 * eps * (xnorm * sc + ynorm)


def initial_step(model, s0, f0, atol, rtol, order=5):
    """Hairer-Wanner starting step (Solving ODEs I, II.4), per problem ``(b,)``.

    The state scale is taken as at least ``atol / rtol`` (the model's natural size of change) so
    that a zero initial state (log or delta coordinates) does not force a microscopic first step.
    """
    TINY, BIG = torch.finfo(s0.dtype).tiny, torch.finfo(s0.dtype).max / 16
    scale_floor = (atol / rtol).unsqueeze(-1)
    sc = atol.unsqueeze(-1) + rtol * s0.abs()
    rms = lambda v: torch.sqrt((v ** 2).mean(-1))  # noqa: E731
    d0 = rms(torch.maximum(s0.abs(), scale_floor) / sc)
    d1 = rms(f0 / sc)
    h0 = torch.where((d0 > 1e-5) & (d1 > 1e-5), 0.01 * d0 / d1.clamp_min(TINY), torch.full_like(d0, 1e-6))
    h0 = torch.nan_to_num(h0, nan=1e-6, posinf=BIG).clamp(TINY, BIG)
    f1, _ = model.rhs(s0 + h0.unsqueeze(-1) * f0)
    d2 = rms((f1 - f0) / sc) / h0
    m = torch.maximum(d1, d2)
    h1 = torch.where(m > 1e-15, (0.01 / m.clamp_min(TINY)) ** (1.0 / order), torch.maximum(1e-6 * torch.ones_like(h0), h0 * 1e-3))
    h1 = torch.nan_to_num(h1, nan=1e-6, posinf=BIG)
    return torch.minimum(100 * h0, h1).clamp(TINY, BIG)


def integrate(model, *, method, rtol, atol, tol_rr, t_max, max_steps, history, ynorm, xnorm,
              progress=None, callback=None, stiff_method="lie-extrap"):
    """Integrate ``model`` for every problem until its own stop; see gradient_flow for the terms.

    ``atol (B,)`` per problem, ``tol_rr (B,)`` absolute threshold on ``||r||^2``. Returns a
    :class:`RunState` of tensors.
    """
    B = model.B
    dev, dt = model.X.device, model.X.dtype
    s = model.initial_state()
    f, rr = model.rhs(s)
    st = RunState(
        s=s, t=torch.zeros(B, dtype=dt, device=dev), rr=rr, rr0=rr.clone(),
        steps=torch.zeros(B, dtype=torch.long, device=dev), rejected=torch.zeros(B, dtype=torch.long, device=dev),
        nfev=torch.ones(B, dtype=torch.long, device=dev), njev=torch.zeros(B, dtype=torch.long, device=dev),
        status=torch.zeros(B, dtype=torch.long, device=dev),
        stiff_time=torch.full((B,), -1.0, dtype=dt, device=dev),
        used_ros=torch.full((B,), method in ("ros2", "lie-extrap"), dtype=torch.bool, device=dev),
        hist_t=torch.zeros(B, history, dtype=dt, device=dev), hist_l=torch.zeros(B, history, dtype=dt, device=dev),
        hist_n=torch.zeros(B, dtype=torch.long, device=dev), h=torch.zeros(B, dtype=dt, device=dev),
    )
    stride = torch.ones(B, dtype=torch.long, device=dev)
    stiff_cnt = torch.zeros(B, dtype=torch.long, device=dev)
    nonstiff_cnt = torch.zeros(B, dtype=torch.long, device=dev)
    best = rr.clone()
    since_best = torch.zeros(B, dtype=torch.long, device=dev)
    s_best = s.clone()
    stiff_name = method if method in ("ros2", "lie-extrap") else stiff_method
    rr_mark = rr.clone()
    t_mark = torch.zeros(B, dtype=dt, device=dev)
    h = initial_step(model, s, f, atol, rtol)
    st.nfev += 1
    _record(st, torch.arange(B, device=dev), stride, history, model)

    # already fitted at t = 0 (e.g. y = 0)
    st.status[rr <= tol_rr] = CONVERGED
    eps = torch.finfo(dt).eps
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=B, desc="gradient_flow", unit="problem")
    it = 0
    while True:
        running = st.status == RUNNING
        if not bool(running.any()):
            break
        it += 1
        for use_ros in (False, True):
            sel = running & (st.used_ros == use_ros)
            idx = torch.nonzero(sel).squeeze(-1)
            if idx.numel() == 0:
                continue
            full = idx.numel() == B
            view = model.subset(None if full else idx)
            y = st.s if full else st.s.index_select(0, idx)
            f0 = f if full else f.index_select(0, idx)
            t0 = st.t if full else st.t.index_select(0, idx)
            # a copy: h is updated in place below, and t must advance by the step actually taken
            hh = h.clone() if full else h.index_select(0, idx)
            hh = torch.minimum(hh, torch.as_tensor(t_max, dtype=dt, device=dev) - t0) if math.isfinite(t_max) else hh
            at = atol if full else atol.index_select(0, idx)
            if use_ros and stiff_name == "ros2":
                y_new, f_new, rr_new, err = ros2_step(view.rhs, view.jac, y, f0, hh, at, rtol)
                nf, q = 3, 2.0
                st.njev.index_add_(0, idx, torch.ones_like(idx))
            elif use_ros:
                y_new, f_new, rr_new, err, nf, _ = lie_extrap_step(view.rhs, view.jac, y, f0, hh, at, rtol,
                                                                   shifted=getattr(view, "shifted_solver", None))
                q = 5.0
                st.njev.index_add_(0, idx, torch.ones_like(idx))
            else:
                y_new, f_new, rr_new, err, stiff = dopri5_step(view.rhs, y, f0, hh, at, rtol)
                nf, q = 6, 5.0
            st.nfev.index_add_(0, idx, torch.full_like(idx, nf))
            acc = (err <= 1.0) & torch.isfinite(rr_new)
            # step-size control: classical controller with safety 0.9 and factor limits [0.2, 5]
            # (no growth right after a rejection).
            fac = 0.9 * err.clamp_min(1e-10) ** (-1.0 / q)
            fac = torch.where(acc, fac.clamp(0.2, 5.0), fac.clamp(0.1, 0.9))
            fac = torch.where(torch.isfinite(err), fac, torch.full_like(fac, 0.1))
            h_new = (hh * fac).clamp(max=torch.finfo(dt).max / 16)
            h.index_copy_(0, idx, torch.where(hh > 0, h_new, h.index_select(0, idx)))
            a = torch.nonzero(acc).squeeze(-1)
            rj = torch.nonzero(~acc).squeeze(-1)
            if rj.numel():
                st.rejected.index_add_(0, idx[rj], torch.ones_like(rj))
                # a step this small relative to t cannot change t: the integration is stuck
                r_idx = idx[rj]
                under = h.index_select(0, r_idx) <= 4 * eps * st.t.index_select(0, r_idx).abs().clamp_min(torch.finfo(dt).tiny)
                if bool(under.any()):
                    st.status[r_idx[under]] = UNDERFLOW
            if a.numel() == 0:
                continue
            ai = idx[a]
            st.s.index_copy_(0, ai, y_new.index_select(0, a))
            f.index_copy_(0, ai, f_new.index_select(0, a))
            st.t.index_copy_(0, ai, t0.index_select(0, a) + hh.index_select(0, a))
            st.rr.index_copy_(0, ai, rr_new.index_select(0, a))
            st.steps.index_add_(0, ai, torch.ones_like(ai))
            if not use_ros:
                sa = stiff.index_select(0, a)
                is_st = sa > STIFF_HRHO
                sc_ = stiff_cnt.index_select(0, ai) + is_st.long()
                ns_ = torch.where(is_st, torch.zeros_like(sc_), nonstiff_cnt.index_select(0, ai) + 1)
                sc_ = torch.where(ns_ >= NONSTIFF_RESET, torch.zeros_like(sc_), sc_)
                # the loss and time where the current stiff streak began
                new_streak = is_st & (stiff_cnt.index_select(0, ai) == 0)
                if bool(new_streak.any()):
                    ni = ai[new_streak]
                    rr_mark[ni] = st.rr[ni]
                    t_mark[ni] = st.t[ni]
                if method == "auto":
                    due = sc_ >= STIFF_COUNT
                    if bool(due.any()):
                        wi = ai[due]
                        # Switch only if finishing at the stability-pinned DP5 step would take
                        # long: remaining steps ~ log(rr / tol) / (rate * h).
                        tiny = torch.finfo(dt).tiny
                        rate = torch.log(rr_mark[wi] / st.rr[wi].clamp_min(tiny)) / (st.t[wi] - t_mark[wi]).clamp_min(tiny)
                        need = torch.log(st.rr[wi].clamp_min(tiny) / tol_rr[wi].clamp_min(tiny)).clamp_min(0.0)
                        remaining = need / (rate.clamp_min(tiny) * h[wi])
                        sw = (rate <= 0) | (remaining > STIFF_REMAINING_STEPS)
                        st.used_ros[wi[sw]] = True
                        st.stiff_time[wi[sw]] = st.t[wi[sw]]
                        sc_ = torch.where(due, torch.zeros_like(sc_), sc_)
                stiff_cnt.index_copy_(0, ai, sc_)
                nonstiff_cnt.index_copy_(0, ai, ns_)
            if callback is not None:
                callback(st.t.index_select(0, ai), st.s.index_select(0, ai), ai)
            _record(st, ai, stride, history, model)
            _check_stops(st, ai, model, best, since_best, tol_rr, t_max, max_steps, ynorm, xnorm, s_best)
        if bar is not None:
            bar.n = int((st.status != RUNNING).sum())
            bar.refresh()
        elif callable(progress) and it % 50 == 0:
            progress({"iteration": it, "done": int((st.status != RUNNING).sum()), "total": B,
                      "t_min_running": float(st.t[st.status == RUNNING].min()) if bool((st.status == RUNNING).any()) else float("nan")})
    if bar is not None:
        bar.close()
    st.h = h
    _record(st, torch.arange(B, device=dev), stride, history, model, final=True)
    return st


def stall_tests(view, s, rr, best, since_best, s_best, ai, ynorm, xnorm, finite, stag_steps, plateau_steps):
    """Update the best-loss trackers of problems ``ai`` and return ``(stagnated, plateau)`` masks.

    Stagnated: no 1% improvement over ``stag_steps`` with the residual within FLOOR_FACTOR of an
    estimated rounding floor that is itself below FLOOR_MAX_REL ||y|| (a success). Plateau: no 1%
    improvement over ``plateau_steps`` while the state has stopped moving, elsewhere (a failure).
    ``view()`` returns the model restricted to ``ai`` (built only when needed); ``best``,
    ``since_best``, ``s_best`` are full-batch trackers indexed by ``ai``; ``ynorm``, ``xnorm`` are
    already restricted to ``ai``.
    """
    b = best.index_select(0, ai)
    imp = rr < 0.99 * b
    sb = torch.where(imp, torch.zeros_like(ai), since_best.index_select(0, ai) + 1)
    best.index_copy_(0, ai, torch.where(imp, rr, b))
    since_best.index_copy_(0, ai, sb)
    sbest = torch.where(imp.unsqueeze(-1), s, s_best.index_select(0, ai))
    s_best.index_copy_(0, ai, sbest)
    stag = torch.zeros_like(imp)
    plat = torch.zeros_like(imp)
    if bool((sb >= stag_steps).any()):
        yn = ynorm
        fl = FLOOR_FACTOR * floor_residual(view(), s, yn, xnorm)
        stag = finite & (sb >= stag_steps) & (rr <= fl ** 2) & (fl <= FLOOR_MAX_REL * yn)
        still = (s - sbest).abs().amax(-1) <= PLATEAU_MOVE * (1.0 + sbest.abs().amax(-1))
        plat = finite & ~stag & (sb >= plateau_steps) & still
    return stag, plat


def _check_stops(st, ai, model, best, since_best, tol_rr, t_max, max_steps, ynorm, xnorm, s_best):
    rr = st.rr.index_select(0, ai)
    s = st.s.index_select(0, ai)
    finite = torch.isfinite(s).all(-1) & torch.isfinite(rr)
    conv = finite & (rr <= tol_rr.index_select(0, ai))
    stag, plat = stall_tests(lambda: model.subset(ai), s, rr, best, since_best, s_best, ai,
                             ynorm.index_select(0, ai), xnorm.index_select(0, ai), finite,
                             STAGNATION_STEPS, PLATEAU_STEPS)
    div = (~finite) | (rr > EXPLODE_FACTOR * st.rr0.index_select(0, ai).clamp_min(torch.finfo(rr.dtype).tiny))
    tl = st.t.index_select(0, ai) >= t_max
    sl = st.steps.index_select(0, ai) >= max_steps
    code = torch.full_like(ai, RUNNING)
    code = torch.where(sl, torch.full_like(code, STEP_LIMIT), code)
    code = torch.where(tl, torch.full_like(code, TIME_LIMIT), code)
    code = torch.where(plat, torch.full_like(code, PLATEAU), code)
    code = torch.where(stag, torch.full_like(code, STAGNATED), code)
    code = torch.where(conv, torch.full_like(code, CONVERGED), code)
    code = torch.where(div, torch.full_like(code, DIVERGED), code)
    st.status.index_copy_(0, ai, code)


def _record(st, ai, stride, H, model, final=False):
    """Append (t, ||r||^2) for problems ``ai`` to the subsampled history (<= H points each)."""
    if H <= 0:
        return
    if not final:
        take = (st.steps.index_select(0, ai) % stride.index_select(0, ai)) == 0
        ai = ai[take]
        if ai.numel() == 0:
            return
    else:
        # the final state is always recorded unless it is already the last point
        n = st.hist_n.index_select(0, ai)
        last_t = st.hist_t[ai, (n - 1).clamp_min(0)]
        ai = ai[(n == 0) | (last_t != st.t.index_select(0, ai))]
        if ai.numel() == 0:
            return
    full = st.hist_n.index_select(0, ai) >= H
    if bool(full.any()):
        fi = ai[full]
        half = (H + 1) // 2
        st.hist_t[fi, :half] = st.hist_t[fi][:, ::2][:, :half]
        st.hist_l[fi, :half] = st.hist_l[fi][:, ::2][:, :half]
        st.hist_n[fi] = half
        stride[fi] *= 2
    pos = st.hist_n.index_select(0, ai)
    st.hist_t[ai, pos] = st.t.index_select(0, ai)
    st.hist_l[ai, pos] = st.rr.index_select(0, ai)
    st.hist_n[ai] += 1


def decay_rate(times: np.ndarray, rr: np.ndarray) -> float:
    """Exponential decay rate of the loss, ``-d log L / dt``, over the last third of the history.

    A least-squares slope of ``log L`` against ``t``; 0.0 when fewer than 3 positive points exist
    (never NaN). For the sum loss the rate is in 1/(time unit of that loss).
    """
    ok = (rr > 0) & np.isfinite(rr)
    t, l = times[ok], rr[ok]
    if t.size < 3:
        return 0.0
    k = max(3, t.size // 3)
    t, l = t[-k:], np.log(l[-k:])
    span = float(np.ptp(t))
    if not (span > 0 and np.isfinite(span)):
        return 0.0
    # least-squares slope in the time normalized to [0, 1] (times may be ~1e300: centring and
    # squaring them directly overflows), then back to 1/time; a closed form, no polyfit warnings.
    u = (t - t[0]) / span
    u = u - u.mean()
    den = float(np.dot(u, u))
    if not den > 0:
        return 0.0
    slope = float(np.dot(u, l - l.mean())) / den / span
    return float(-slope) if np.isfinite(slope) else 0.0
