"""Gradient flow of the diagonal network (and of the width-k model), integrated adaptively.

``dw/dt = -grad_w L(w)`` with ``beta = w+^D - w-^D`` (THEORY.md s1), integrated in the model's own
parameters: no closed form for ``beta(t)``, no potential, no solver is used (the engine is the
independent witness of those). See :mod:`._models` for the coordinate systems and
:mod:`._steppers` for the integrators.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from krtheory._validation import InvalidInputError, check_interpolable

from ._common import (
    check_alpha_scale,
    check_choice,
    check_data_scale,
    check_dtype,
    check_positive,
    loss_constant,
    loss_value,
    prepare_init,
    prepare_problem,
    resolve_device,
    check_threads,
    torch_threads,
)
from ._driver import STATUS, decay_rate, integrate
from ._models import COORDINATES, DiagonalModel, WidthModel
from .result import FlowResult

METHODS = ("auto", "dopri5", "lie-extrap", "ros2")
COORDINATE_CHOICES = ("auto",) + COORDINATES


def _beta_l2_inf(Xn: np.ndarray, yn: np.ndarray, check_range: bool) -> np.ndarray:
    """``max_i |X^+ y|_i`` per problem (validating ``y`` in range(X) when asked)."""
    out = np.empty(Xn.shape[0])
    for b in range(Xn.shape[0]):
        if check_range:
            bl2 = check_interpolable(Xn[b], yn[b])
        else:
            bl2 = np.linalg.lstsq(Xn[b], yn[b], rcond=None)[0]
        out[b] = np.abs(bl2).max()
    return out


def _common_args(loss, method, rtol, atol, tol, t_max, max_steps, history, dtype, device):
    check_choice(loss, "loss", ("sum", "half", "mean"))
    check_choice(method, "method", METHODS)
    rtol = check_positive(rtol, "rtol")
    if not rtol < 1:
        raise InvalidInputError(f"rtol must be < 1, got {rtol!r}")
    if atol is not None:
        atol = check_positive(atol, "atol")
    tol = check_positive(tol, "tol") if tol != 0 else 0.0
    t_max = check_positive(t_max, "t_max", allow_inf=True)
    max_steps = check_positive(max_steps, "max_steps", integer=True)
    if isinstance(history, bool) or not isinstance(history, int) or history < 2:
        raise InvalidInputError(f"history must be an integer >= 2, got {history!r}")
    dtype = check_dtype(dtype)
    dev = resolve_device(device)
    return rtol, atol, tol, t_max, max_steps, dtype, dev


def gradient_flow(X, y, alpha=None, depth=2, *, log_alpha=None, loss="sum", init=None, method="auto",
                  coordinates="auto", rtol=1e-10, atol=None, tol=1e-20, t_max=math.inf,
                  max_steps=200_000, device=None, dtype=torch.float64, history=256, progress=None,
                  check_range=True, threads=1, _callback=None) -> FlowResult:
    """Integrate the gradient flow of the depth-``D`` diagonal network until it fits ``y``.

    Parameters
    ----------
    X : (n, d) or (B, n, d) array or tensor; y : (n,) or (B, n).
    alpha : float > 0 or (B,) array (a 1-D alpha with a 2-D X runs that problem for every alpha);
        or ``log_alpha`` (natural log) for scales outside the float range.
    depth : real D >= 2.
    loss : "sum" (paper, ``sum r^2``), "half" (``0.5 sum r^2``) or "mean" (``sum r^2 / n``). Time
        is in the units of this loss; the trajectory in parameter space is the same curve.
    init : None (unbiased ``w+-(0) = alpha``) or ``(u, v)``, ``u, v > 0`` of shape (d,) or (B, d):
        ``w+(0) = alpha u``, ``w-(0) = alpha v`` (then ``beta(0) = alpha^D (u^D - v^D)``).
    method : "auto": Dormand-Prince 5(4); a problem switches to the stiff order-5 extrapolated
        linearly implicit Euler ("lie-extrap", analytic Jacobian, n x n Woodbury solves) once the
        DP5 step is pinned by stability (h rho(J) > 3.25 on 15 steps) and finishing at that step
        would take more than 3000 steps: the stiff tail of trap (a). "dopri5" (never switches),
        "lie-extrap" (stiff method throughout), "ros2" (2-stage L-stable Rosenbrock of order 2
        throughout: cheap per step, but slow at tight rtol).
    coordinates : "auto" (= "log"), "log" (``w = w0 exp(s)``), "delta" (``w = w0 (1 + s)``),
        "raw" (``s = w``; suffers the float64 floor of trap (b)). Same ODE in every case.
    rtol, atol : local error tolerances on the state (RMS norm); ``atol=None`` sets, per problem,
        ``rtol * (size of the state's change)`` (``|beta*_l2| / (D alpha^D)`` capped at 1).
    tol : stop when ``||X beta - y||^2 <= tol * ||y||^2`` (relative; independent of ``loss``).
    t_max : time cap per problem (inf by default); max_steps : accepted-step cap per problem.
    device : None (CUDA when available, else CPU), or e.g. "cpu", "cuda:0". TF32 is disabled.
    history : at most this many (t, loss) points kept per problem (subsampled by 2 when full).
    progress : None, True (a tqdm bar) or a callable receiving a dict every 50 iterations.
    check_range : raise InvalidInputError unless ``y`` is in the range of ``X``.
    threads : CPU intra-op threads during the call (default 1: the work is latency-bound, and on
        shared cores more threads were measured 300x slower per operation); None keeps torch's.

    Returns a :class:`FlowResult`. Never NaN: a run whose state becomes non-finite or whose loss
    explodes stops with status "diverged" and its last accepted state; only error-controlled,
    finite steps are ever accepted.

    Stops (per problem): "converged" (loss at tol), "stagnated" (no 1 % progress over 60 steps
    while the residual is within 100 times the rounding floor ``8 eps (||X|| ||beta-scale|| + ||y||)``
    and that bound is below 1e-3 ||y||: counted as success), "plateau" (no 1 % progress over 500
    steps while the state has stopped moving, above that floor: not a success; typically y just
    outside range(X)), "time-limit", "step-limit", "diverged", "step-underflow".

    Refused up front (InvalidInputError, with the exact rescaling as remedy): ``||X||_2`` or
    ``||y||`` outside [1e-50, 1e50], and ``alpha^D ||X||_2 > e^600``; device types other than
    cpu/cuda; non-numeric alpha.
    """
    with torch_threads(check_threads(threads)):
        return _gradient_flow(X, y, alpha, depth, log_alpha, loss, init, method, coordinates, rtol, atol,
                              tol, t_max, max_steps, device, dtype, history, progress, check_range, _callback)


def _gradient_flow(X, y, alpha, depth, log_alpha, loss, init, method, coordinates, rtol, atol, tol, t_max,
                   max_steps, device, dtype, history, progress, check_range, _callback):
    rtol, atol, tol, t_max, max_steps, dtype, dev = _common_args(
        loss, method, rtol, atol, tol, t_max, max_steps, history, dtype, device)
    coords = check_choice(coordinates, "coordinates", COORDINATE_CHOICES)
    if coords == "auto":
        coords = "log"
    prob = prepare_problem(X, y, alpha, depth, device=dev, dtype=dtype, log_alpha=log_alpha)
    check_data_scale(prob)
    check_alpha_scale(prob)
    lu, lv = prepare_init(init, prob, dtype, dev)
    if coords == "raw" and float(prob.log_alpha.abs().max()) > 700:
        raise InvalidInputError("coordinates='raw' cannot represent alpha = exp(%.1f); use 'log'"
                                % float(prob.log_alpha.abs().max()))
    c = loss_constant(loss, prob.n)
    la = prob.log_alpha.unsqueeze(-1)
    model = DiagonalModel(prob.X, prob.y, la + lu, la + lv, prob.depth, c, coords)
    return _run(model, prob, loss=loss, method=method, rtol=rtol, atol=atol, tol=tol, t_max=t_max,
                max_steps=max_steps, history=history, progress=progress, check_range=check_range,
                coordinates=coords, dev=dev, callback=_callback)


def width_flow(X, y, U0, V0, *, loss="sum", method="auto", rtol=1e-10, atol=None, tol=1e-20,
               t_max=math.inf, max_steps=200_000, device=None, dtype=torch.float64, history=256,
               progress=None, check_range=True, threads=1) -> FlowResult:
    """Gradient flow of the width-k D = 2 model ``beta_i = sum_j U_ij V_ij`` (THEORY.md s7).

    ``U0, V0``: (d, k) or (B, d, k) initial factors (any sign; e.g. N(0, sigma^2) drawn by the
    caller). Other arguments as :func:`gradient_flow`. ``w_plus``/``w_minus`` of the result hold
    the final ``U``/``V``; ``invariant_drift`` is that of ``U^2 - V^2``.
    """
    with torch_threads(check_threads(threads)):
        return _width_flow(X, y, U0, V0, loss, method, rtol, atol, tol, t_max, max_steps, device, dtype,
                           history, progress, check_range)


def _width_flow(X, y, U0, V0, loss, method, rtol, atol, tol, t_max, max_steps, device, dtype, history,
                progress, check_range):
    rtol, atol, tol, t_max, max_steps, dtype, dev = _common_args(
        loss, method, rtol, atol, tol, t_max, max_steps, history, dtype, device)
    prob = prepare_problem(X, y, 1.0, 2, device=dev, dtype=dtype)
    check_data_scale(prob)
    UV = []
    for name, a in (("U0", U0), ("V0", V0)):
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        arr = np.asarray(a, dtype=np.float64)
        if arr.ndim == 2:
            arr = np.broadcast_to(arr, (prob.B,) + arr.shape)
        if arr.ndim != 3 or arr.shape[:2] != (prob.B, prob.d) or arr.shape[2] < 1:
            raise InvalidInputError(f"{name} must have shape ({prob.d}, k) or ({prob.B}, {prob.d}, k), got {np.shape(a)}")
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{name} has non-finite entries")
        UV.append(torch.as_tensor(np.array(arr), dtype=dtype, device=dev))
    if UV[0].shape != UV[1].shape:
        raise InvalidInputError(f"U0 and V0 must have the same shape, got {tuple(UV[0].shape)} and {tuple(UV[1].shape)}")
    c = loss_constant(loss, prob.n)
    model = WidthModel(None, None).bind(prob.X, prob.y, c, UV[0], UV[1])
    return _run(model, prob, loss=loss, method=method, rtol=rtol, atol=atol, tol=tol, t_max=t_max,
                max_steps=max_steps, history=history, progress=progress, check_range=check_range,
                coordinates="raw", dev=dev, callback=None, width=True)


def _run(model, prob, *, loss, method, rtol, atol, tol, t_max, max_steps, history, progress,
         check_range, coordinates, dev, callback, width=False):
    Xn, yn = prob.X64, prob.y64
    binf = torch.as_tensor(_beta_l2_inf(Xn, yn, check_range), dtype=prob.X.dtype, device=dev)
    if atol is None:
        atol_v = rtol * model.state_scale(binf)
    else:
        atol_v = torch.full((prob.B,), atol, dtype=prob.X.dtype, device=dev)
    ynorm = prob.y.norm(dim=-1)
    xnorm = torch.linalg.matrix_norm(prob.X, ord=2)
    tol_rr = tol * ynorm ** 2
    st = integrate(model, method=method, rtol=rtol, atol=atol_v, tol_rr=tol_rr, t_max=t_max,
                   max_steps=max_steps, history=history, ynorm=ynorm, xnorm=xnorm, progress=progress,
                   callback=callback)
    return build_result(st, model, prob, loss=loss, tol=tol, coordinates=coordinates, dev=dev,
                        width=width, method=method)


def _fmt_status(code, t, steps, L, tol_rel, rr, ynorm2, rate, drift):
    rel = rr / ynorm2 if ynorm2 > 0 else rr
    name = STATUS[code]
    base = f"at t = {t:.4g} after {steps} steps: ||r||^2/||y||^2 = {rel:.3e}"
    if name == "converged":
        return f"converged: {base} <= tol {tol_rel:.1e}"
    if name == "stagnated":
        return f"stagnated at the float rounding floor of the loss {base} (tol {tol_rel:.1e} not reachable)"
    if name == "plateau":
        return (f"not converged (plateau): the loss stopped decreasing {base} > tol {tol_rel:.1e} while the "
                "weights stopped moving: y may lie slightly outside the range of X (check_range accepts a "
                "small least-squares residual), or tol is below this problem's float64 floor in these coordinates "
                "(raw weights cancel in beta = w+^D - w-^D when beta << alpha^D: use coordinates='log')")
    if name == "diverged":
        return f"diverged: the state became non-finite or the loss exploded {base}"
    if name == "step-underflow":
        return (f"not converged: the step size underflowed {base} (the step fell below the rounding of t; "
                "with a tiny alpha at D > 2 the escape time ~ alpha^-(D-2) may exceed what float64 time resolves)")
    extra = ""
    if rate > 0 and rel > tol_rel > 0:
        extra = f"; loss decays at rate {rate:.3e}/time, ~{math.log(rel / tol_rel) / rate:.3g} more time to tol"
    return f"not converged ({name}): {base}{extra}"


def build_result(st, model, prob, *, loss, tol, coordinates, dev, width, method, step_size=None,
                 gd_product=None, status_override=None, messages=None):
    """Convert a finished :class:`RunState` into a :class:`FlowResult` (NumPy, no NaN)."""
    s = st.s
    beta = model.beta(s)
    to = lambda a: a.detach().cpu().numpy().astype(np.float64)  # noqa: E731
    if width:
        U, V = model.weights(s)
        wp, wm, lwp, lwm = to(U), to(V), None, None
    else:
        lp, lm = model.log_weights(s)
        wpt, wmt = model.weights(s)
        wp, wm, lwp, lwm = to(wpt), to(wmt), to(lp), to(lm)
    rr = to(st.rr)
    L = to(loss_value(st.rr, loss, prob.n))
    ynorm2 = to(prob.y.norm(dim=-1) ** 2)
    drift = to(model.invariant_drift(s))
    t = to(st.t)
    steps = st.steps.cpu().numpy()
    codes = st.status.cpu().numpy()
    hn = st.hist_n.cpu().numpy()
    ht, hl = to(st.hist_t), to(loss_value(st.hist_l, loss, prob.n))
    hist_t = [ht[b, : hn[b]].copy() for b in range(prob.B)]
    hist_l = [hl[b, : hn[b]].copy() for b in range(prob.B)]
    rate = np.array([decay_rate(hist_t[b], hist_l[b]) for b in range(prob.B)])
    status = np.array([STATUS[c] for c in codes]) if status_override is None else status_override
    if messages is None:
        messages = np.array([_fmt_status(int(codes[b]), t[b], int(steps[b]), L[b], tol, rr[b], ynorm2[b],
                                         rate[b], drift[b]) for b in range(prob.B)])
    success = np.isin(status, ("converged", "stagnated"))
    used = st.used_ros.cpu().numpy()
    stiff_time = to(st.stiff_time)
    if method == "gd":
        meth = np.array(["gd"] * prob.B)
    else:
        stiff_name = method if method in ("ros2", "lie-extrap") else "lie-extrap"
        meth = np.array([stiff_name if (u and stt < 0) else (f"dopri5+{stiff_name}" if u else "dopri5")
                         for u, stt in zip(used, stiff_time)])
    la = to(prob.log_alpha)
    beta_np = to(beta)
    # never hand out NaN: a diverged run keeps its last finite accepted state, and any
    # non-finite value that remains (e.g. overflow of w itself) is reported as such.
    for name, arr in (("beta", beta_np), ("loss", L)):
        if not np.all(np.isfinite(arr)):
            bad = ~np.isfinite(arr.reshape(prob.B, -1)).all(-1)
            status = np.where(bad, "diverged", status)
            success = success & ~bad
            # the status changed, so the message must say so too (it may have read "converged")
            messages = np.array([f"diverged: {name} is not representable in float64 (the run's own stop was: {m})"
                                 if bd else m for m, bd in zip(messages.astype(str), bad)])
    beta_np = np.nan_to_num(beta_np, nan=0.0, posinf=np.finfo(float).max, neginf=-np.finfo(float).max)
    L = np.nan_to_num(L, nan=np.finfo(float).max, posinf=np.finfo(float).max)
    drift = np.nan_to_num(drift, nan=np.finfo(float).max, posinf=np.finfo(float).max)

    def sq(a):
        if a is None:
            return None
        if prob.batched:
            return a
        return a[0]

    def sc(a):
        if prob.batched:
            return a
        v = a[0]
        return v.item() if hasattr(v, "item") else v

    hist = (hist_t, hist_l) if prob.batched else (hist_t[0], hist_l[0])
    return FlowResult(
        beta=sq(beta_np), w_plus=sq(wp), w_minus=sq(wm), log_w_plus=sq(lwp), log_w_minus=sq(lwm),
        loss=sc(L), time=sc(t), steps=sc(steps), rejected=sc(st.rejected.cpu().numpy()),
        nfev=sc(st.nfev.cpu().numpy()), njev=sc(st.njev.cpu().numpy()), status=sc(status),
        success=sc(success), message=sc(messages), invariant_drift=sc(drift), rate=sc(rate),
        history=hist, method=sc(meth), stiff_time=sc(stiff_time), coordinates=coordinates,
        loss_normalization=loss, device=str(dev), depth=float(model.D), alpha=sc(np.exp(la)),
        log_alpha=sc(la), tol=float(tol), step_size=None if step_size is None else sc(step_size),
        gd_product=sq(gd_product),
    )
