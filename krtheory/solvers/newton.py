"""The globalized dual Newton iteration shared by the implicit-bias and distance solvers."""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import dsyrk

from .result import _EPS, _TINY, InterpolationResult, _norm, _primal_residual


# --------------------------------------------------------------------------------------------
# the globalized dual Newton iteration
# --------------------------------------------------------------------------------------------
def _beta_from(lb, sgn):
    with np.errstate(over="ignore"):
        b = sgn * np.exp(lb)
    return b


def _newton_step_qr(X, lw, g):
    """Newton step from a QR factorization of W^(1/2) X^T (d x n): (R^T R) delta = -g.

    Never forms X W X^T, whose condition is the square of that of W^(1/2) X^T: near the edge
    the weights span 1e16 and the explicitly formed Hessian loses the step's digits.  Twice the
    flops of the syrk path; used by the edge-variable refinement.
    """
    n, d = X.shape
    if d < n:  # W^(1/2) X^T cannot have full column rank: the ridged normal equations decide
        return _newton_step(X, lw, g)
    m = float(np.max(lw))
    A = (X * np.sqrt(np.exp(lw - m))).T
    R = sla.qr(A, mode="r", check_finite=False)[0][:n]
    dR = np.abs(np.diag(R))
    if dR.size and np.min(dR) > X.shape[0] * _EPS * np.max(dR):
        z = sla.solve_triangular(R, -g, trans="T", check_finite=False)
        delta = sla.solve_triangular(R, z, check_finite=False)
        if np.all(np.isfinite(delta)):
            return delta, -m
    return _newton_step(X, lw, g)


def _newton_step(X, lw, g):
    """Solve (X diag(exp(lw)) X^T) delta = -g; returns (delta_tilde, log_scale), delta = e^s delta~.

    The weights are normalized by their largest value first (e^-2000 at alpha = e^-1000 would
    underflow); the scale e^-max(lw) is returned as a log and applied by the caller inside the
    step limit.  Jacobi scaling with a 1e-13 relative ridge: the ridge only matters on
    (numerically) singular Hessians (support smaller than n at tiny alpha, dependent rows), where
    it picks a damped, minimum-norm-like step instead of a rounding-dominated one.  Falls back to
    an eigen-decomposition pseudo-inverse.
    """
    m = float(np.max(lw))
    w = np.exp(lw - m)
    # H = X diag(w) X^T as a symmetric rank-k update (BLAS dsyrk): half the flops of a GEMM,
    # which is the whole cost at n = 1000, d = 10000.  A.T is Fortran-ordered: no copy.
    A = X * np.sqrt(w)
    C = dsyrk(1.0, A.T, trans=1, lower=1)
    H = np.tril(C) + np.tril(C, -1).T
    dg = np.diag(H).copy()
    s = np.where(dg > 0, 1.0 / np.sqrt(np.where(dg > 0, dg, 1.0)), 1.0)
    Hs = H * s[:, None] * s[None, :]
    n = Hs.shape[0]
    Hs[np.diag_indices(n)] += 1e-13 * max(1.0, float(np.max(np.diag(Hs))))
    try:
        # Hs is symmetric positive definite (ridge); LU with partial pivoting is backward stable
        # on it and has less call overhead than scipy's Cholesky wrappers at small n
        z = np.linalg.solve(Hs, -g * s)
        if np.all(np.isfinite(z)):
            return z * s, -m
    except (np.linalg.LinAlgError, ValueError):
        pass
    lam, V = np.linalg.eigh(Hs)
    cut = n * _EPS * max(float(np.max(lam)), _TINY)
    inv = np.where(lam > cut, 1.0 / np.where(lam > cut, lam, 1.0), 0.0)
    return (V @ (inv * (V.T @ (-g * s)))) * s, -m


def _ray_start(X, y, model, beta_l2):
    """Start point: the exact minimizer of F along the ray nu = kappa nu_2, beta_l2 = X^T nu_2.

    ``F'(kappa) = sum_i |b_i| |beta_i(kappa b)| - <nu_2, y>`` with b = X^T nu_2 (every term is
    positive because sign beta_i = sign b_i), so the root is found by bisection on the log of
    that sum (logsumexp: no overflow at alpha = e^-1000).  This puts the largest coordinates on
    the right scale at once, which the Newton iteration alone would reach only in many capped
    steps; for large alpha it is the kernel (min-l2) solution itself to first order.
    """
    nu2, *_ = np.linalg.lstsq(X.T, beta_l2, rcond=None)
    b = X.T @ nu2
    target = float(nu2 @ y)
    bmax = float(np.max(np.abs(b)))
    if not (target > 0 and bmax > 0):
        return np.zeros(X.shape[0])
    logt = math.log(target)
    nz = b != 0
    logb = np.log(np.abs(b[nz]))
    kappa = model.ray(bmax)

    def phi(t):
        lb = model.log_abs_beta(kappa(t) * b)
        if lb is None:
            return math.inf
        lb = lb[nz] + logb
        m = float(np.max(lb))
        if not np.isfinite(m):
            return -math.inf if m < 0 else math.inf
        return m + math.log(float(np.sum(np.exp(lb - m)))) - logt

    # phi is increasing in t; bisect until both ends are finite, then Illinois false position.
    # A start point needs only ~1e-3 accuracy in log scale (Newton does the rest).
    lo, hi = 0.0, 1.0
    flo, fhi = -math.inf, phi(hi)
    if fhi < 0:
        return kappa(hi) * nu2
    for _ in range(60):
        if math.isfinite(flo) and math.isfinite(fhi):
            break
        mid = 0.5 * (lo + hi)
        fm = phi(mid)
        if fm < 0:
            lo, flo = mid, fm
        else:
            hi, fhi = mid, fm
    side = 0
    for _ in range(40):
        if not (math.isfinite(flo) and math.isfinite(fhi)) or hi - lo < 1e-12:
            break
        t = hi - fhi * (hi - lo) / (fhi - flo)
        ft = phi(t)
        if abs(ft) < 1e-3:
            lo = t
            break
        if ft < 0:
            lo, flo = t, ft
            if side == -1:
                fhi *= 0.5
            side = -1
        else:
            hi, fhi = t, ft
            if side == 1:
                flo *= 0.5
            side = 1
    return kappa(lo) * nu2


def _dual_newton(X, y, model, tol, max_iter, nu0=None):
    """Damped Newton on F(nu) = value(X^T nu) - <nu, y> with Armijo backtracking.

    Globalization: the step is first limited by ``model.step_limit`` (domain |u| < 1 for D > 2,
    |delta u| <= 30 for the exponential model), then halved until Armijo's condition holds on
    F; because F is only known to ~eps |<nu, y>| (large at tiny alpha), a step that decreases
    ||grad F|| by the Armijo fraction is accepted too.

    Stopping: once ``||X beta - y|| <= tol ||y||`` up to two more (quadratically convergent) steps
    are taken while they halve the residual.  Independently the iteration stops when it stalls
    (two accepted steps in a row that do not halve the residual) at the rounding floor
    ``floor = eps (|| |X| (|beta| s (|X|^T |nu|)) || + || |X| |beta| || + ||y||)``, with ``s`` the
    sensitivity ``|d log beta_i / d u_i|`` (1 for D = 2, ~p / (1 - |u_i|) for D > 2): the error
    that rounding ``u = X^T nu`` alone causes.  The best iterate (smallest residual) is returned.
    Returns (nu, u, beta, nit, status, message).
    """
    n, d = X.shape
    ynorm = _norm(y)
    absX = np.abs(X)
    nu = np.zeros(n) if nu0 is None else nu0.copy()
    u = X.T @ nu
    ev = model.evaluate(u)
    if ev is None:  # internal error: nu0 = 0 is always inside the domain
        raise RuntimeError("initial dual point outside the domain")
    lb, sgn, lw, val = ev
    beta = _beta_from(lb, sgn)
    g = X @ beta - y
    gn = _norm(g)
    if ynorm == 0.0:  # tilted potential with y = 0: measure relative to the terms of X beta
        ynorm = max(_norm(absX @ np.abs(beta)), _TINY)

    def floor_of(nu, u, beta):
        ab = np.abs(beta)
        uerr = absX.T @ np.abs(nu)
        return _EPS * (_norm(absX @ (ab * model.sensitivity(u, None) * uerr)) + _norm(absX @ ab) + ynorm)

    best = (gn, nu, u, beta)
    status, msg, nit = "maxiter", f"no convergence in {max_iter} Newton iterations", 0
    extra = stall = 0
    for it in range(max_iter + 3):
        if not np.isfinite(gn):
            status, msg = "failed", "non-finite dual gradient"
            break
        if gn <= tol * ynorm:
            status, msg = "converged", f"||X beta - y|| <= tol ||y|| (tol = {tol:g})"
            if extra >= 2:
                break
            extra += 1
        elif it >= max_iter:
            break
        delta, log_s = (_newton_step_qr if getattr(model, "qr_solve", False) else _newton_step)(X, lw, g)
        du = X.T @ delta
        tau_max = model.step_limit(u, du)
        # full Newton step is e^log_s * delta; never beyond the model's step limit
        t = math.exp(min(log_s, math.log(tau_max))) if tau_max > 0 else 0.0
        F0 = val - float(nu @ y)
        slope = float(g @ delta)  # directional derivative per unit multiplier of delta
        accepted = False
        for _ in range(60):
            nu_t = nu + t * delta
            u_t = X.T @ nu_t
            ev_t = model.evaluate(u_t)
            if ev_t is not None:
                lb_t, sgn_t, lw_t, val_t = ev_t
                beta_t = _beta_from(lb_t, sgn_t)
                if np.all(np.isfinite(beta_t)) and np.isfinite(val_t):
                    g_t = X @ beta_t - y
                    gn_t = _norm(g_t)
                    F_t = val_t - float(nu_t @ y)
                    if (slope < 0 and F_t <= F0 + 1e-4 * t * slope) or gn_t <= (1.0 - 1e-4 * t) * gn:
                        accepted = True
                        break
            t *= 0.5
        if not accepted:
            break
        nit += 1
        halved = gn_t <= 0.5 * gn
        if status == "converged" and not halved:
            break  # polishing no longer helps
        nu, u, lb, sgn, lw, val, beta, g, gn = nu_t, u_t, lb_t, sgn_t, lw_t, val_t, beta_t, g_t, gn_t
        if gn < best[0]:
            best = (gn, nu, u, beta)
        stall = 0 if halved else stall + 1
        if stall >= 2 and best[0] <= floor_of(best[1], best[2], best[3]):
            break
    gn, nu, u, beta = best
    if gn <= tol * ynorm:
        status, msg = "converged", f"||X beta - y|| <= tol ||y|| (tol = {tol:g})"
    else:
        fl = floor_of(nu, u, beta)
        if gn <= fl:
            status = "converged"
            msg = (f"converged to the rounding floor: ||X beta - y|| / ||y|| = {gn / ynorm:.3e} <= "
                   f"{fl / ynorm:.3e} (tol = {tol:g} not reachable in float64 here)")
        else:
            status = "failed"
            msg = (f"stopped after {nit} Newton iterations at ||X beta - y|| / ||y|| = {gn / ynorm:.3e}"
                   f" (rounding floor {fl / ynorm:.3e}, tol {tol:g})")
    return nu, u, beta, nit, status, msg


def _finish(X, y, model, nu, u, beta, nit, status, msg, info) -> InterpolationResult:
    pr = _primal_residual(X, beta, y)
    success = status == "converged" and bool(np.all(np.isfinite(beta)))
    if not np.all(np.isfinite(beta)):
        beta = np.where(np.isfinite(beta), beta, 0.0)
        msg += " (non-finite entries replaced by 0)"
    st = model.stationarity(beta, u) / max(1.0, float(np.max(np.abs(u), initial=0.0)))
    return InterpolationResult(
        x=beta, success=success, message=msg, nit=nit, kkt_residual=max(pr, st),
        primal_residual=pr, dual=nu,
        info={**info, "stationarity_residual": st, "max_abs_u": float(np.max(np.abs(u), initial=0.0))},
    )
