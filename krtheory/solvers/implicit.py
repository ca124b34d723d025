"""argmin Q_alpha^D s.t. X beta = y (and the D = 2 shaped potential): regimes and dispatch.

See the package docstring (:mod:`krtheory.solvers`) for the method, the regimes and the KKT
residual.
"""
from __future__ import annotations

import math

import numpy as np

from krtheory._validation import (
    InvalidInputError,
    check_depth,
    check_finite_array,
    resolve_log_alpha,
)

from .minnorm import min_l1_interpolator
from .models import _EdgeModel, _ExpModel, _LimitExpModel, _LimitModel, _PowerModel
from .newton import _dual_newton, _finish, _ray_start
from .result import (
    _EPS,
    _TINY,
    InterpolationResult,
    _check_max_iter,
    _check_tol,
    _norm,
    _normalized_problem,
    _primal_residual,
    _rescaled,
    _zero_result,
)


# below this edge 1 - max|u| the direct Newton (eps/e relative in beta) is polished in the edge
# variable: from 2e-13 relative upwards it pays for one more short Newton run
EDGE_REFINE = 1e-3


def edge_switch(depth: float) -> float:
    """Edge 1 - |u| below which the asymptotic-l1 model beats the direct Newton (D > 2).

    Direct: beta resolved to ~eps/e (rounding of u next to 1). Limit model: (e/2)^p. They are equal
    at e = (eps 2^p)^(1/(p+1)); the factor 0.1 leaves room for a certificate margin below 2.
    """
    p = depth / (depth - 2.0)
    # in logs: 2^p overflows for D - 2 < ~2e-3 (p > 1024); the switch tends to 0.2 as D -> 2
    return 0.1 * math.exp((math.log(_EPS) + p * math.log(2.0)) / (p + 1.0))


def _asymptotic_l2(X, y, beta_l2, log_scale, log_umax, log_nl, info):
    """alpha -> infinity beyond the float range: beta = beta_l2, nu = nu_2 / (alpha^D h_D'(0)).

    ``log_nl`` = log of the nonlinearity scale ``(p + 1) max|u|`` (``max|u|`` at D = 2): the
    relative error of the linear model is O(exp(2 log_nl)).
    """
    nu2, *_ = np.linalg.lstsq(X.T, beta_l2, rcond=None)
    with np.errstate(under="ignore"):
        nu = nu2 * math.exp(max(-log_scale, -745.0))
    pr = _primal_residual(X, beta_l2, y)
    st = float(_norm(beta_l2 - X.T @ nu2) / max(_norm(beta_l2), _TINY))
    model_error = math.exp(2.0 * log_nl)
    return InterpolationResult(
        x=beta_l2, success=True, nit=0, kkt_residual=max(pr, st), primal_residual=pr, dual=nu,
        message=f"asymptotic-l2 regime: max|X^T nu| ~ e^{log_umax:.0f}, beta = min-l2 interpolator to "
                f"relative {model_error:.1e}",
        info={**info, "regime": "asymptotic-l2", "model_error": model_error, "log_max_abs_u": log_umax,
              "log_dual_scale": -log_scale, "stationarity_residual": st, "edge": 1.0},
    )


def _tight_set(X, y):
    """min-l1 LP, its max-margin certificate, the tight set S (|x_i^T cert| = 1), signs, margin."""
    d = X.shape[1]
    lp = min_l1_interpolator(X, y)
    cert = lp.info.get("certificate")
    if not lp.success or cert is None:
        return None
    z = X.T @ cert
    S = np.flatnonzero(np.abs(z) >= 1.0 - 1e-9)
    if S.size == 0:
        return None
    off = np.setdiff1d(np.arange(d), S)
    margin = float(1.0 - np.max(np.abs(z[off]))) if off.size else 1.0
    return lp, cert, S, np.sign(z[S]), off, margin


def _asymptotic_l1_exp(X, y, la, tol, max_iter):
    """D = 2 asymptotic-l1 regime (log_alpha -> -infinity); None if inapplicable."""
    ts = _tight_set(X, y)
    if ts is None:
        return None
    lp, cert, S, sgn, off, margin = ts
    d = X.shape[1]
    L = -2.0 * la
    model = _LimitExpModel(sgn)
    # start: mu = t cert puts every beta_i (i in S) at e^t; t matches the l1 norm on average
    t0 = math.log(lp.info["l1_norm"] / S.size)
    mu, uS, bS, nit, status, msg = _dual_newton(X[:, S], y, model, tol, max_iter, t0 * cert)
    beta = np.zeros(d)
    beta[S] = bS
    v = sgn * uS
    # neglected: relative e^(-2L) on S; off S |beta_i| <= exp(-L margin + |x_i^T mu|)
    log_bmax = float(np.max(v))
    log_off = (-L * margin + float(np.max(np.abs(X[:, off].T @ mu)))) if off.size else -math.inf
    model_error = math.exp(min(0.0, max(-2.0 * L, log_off - log_bmax)))
    st = float(np.max(np.abs(np.log(np.abs(bS)) - v))) / max(1.0, L + float(np.max(np.abs(v))))
    pr = _primal_residual(X, beta, y)
    info = {"method": "implicit_bias", "depth": 2.0, "log_alpha": la, "regime": "asymptotic-l1",
            "model_error": model_error, "margin": margin, "support": S, "lp_unique": lp.info["unique"],
            "stationarity_residual": st, "max_abs_u": L + float(np.max(np.abs(v)))}
    msg = "asymptotic-l1 regime (limit model on the l1 support): " + msg
    return InterpolationResult(x=beta, success=status == "converged", message=msg, nit=nit + int(lp.nit),
                               kkt_residual=max(pr, st), primal_residual=pr, dual=L * cert + mu, info=info)


def _asymptotic_l1(X, y, D, la, tol, max_iter):
    """Solve the D > 2 asymptotic-l1 regime; returns an InterpolationResult or None if inapplicable."""
    ts = _tight_set(X, y)
    if ts is None:
        return None
    lp, cert, S, sgn, off, margin = ts
    d = X.shape[1]
    XS = X[:, S]
    model = _LimitModel(D, sgn)
    # start: mu = -kappa cert gives eta = kappa on S; kappa minimizes the dual along that ray
    l1 = lp.info["l1_norm"]
    kappa = (S.size / l1) ** (1.0 / model.p)
    mu, uS, bS, nit, status, msg = _dual_newton(XS, y, model, tol, max_iter, -kappa * cert)
    beta = np.zeros(d)
    beta[S] = bS
    eta = -sgn * uS
    scale_log = (D - 2.0) * la                       # e_i = alpha^(D-2) eta_i
    log_e = scale_log + np.log(eta)
    log_edge = float(np.min(log_e))
    p = model.p
    model_error = math.exp(min(0.0, p * (log_edge - math.log(min(2.0, max(margin, 1e-300))))))
    # stationarity of the real problem: edge recovered from beta_i through the exact h_D,
    # log h(1 - e) = -p log e + log1p(-(e/(2-e))^p) = log|beta_i| - D log alpha
    target = np.log(np.abs(bS)) - D * la
    le = -target / p
    for _ in range(3):
        e = np.exp(le)
        le = (-target + np.log1p(-np.exp(p * (le - np.log(2.0 - e))))) / p
    st_rel = float(np.max(np.abs(np.expm1(le - log_e))))           # relative mismatch of the edges
    st = float(np.max(np.exp(log_e) * np.abs(np.expm1(le - log_e))))  # in u units (|u| <= 1)
    pr = _primal_residual(X, beta, y)
    with np.errstate(under="ignore"):
        dual = cert + math.exp(max(scale_log, -745.0)) * mu
    info = {"method": "implicit_bias", "depth": D, "log_alpha": la, "regime": "asymptotic-l1",
            "edge": math.exp(log_edge) if log_edge > -745 else 0.0, "log_edge": log_edge,
            "model_error": model_error, "margin": margin, "support": S,
            "lp_unique": lp.info["unique"], "stationarity_residual": st,
            "edge_relative_stationarity": st_rel, "max_abs_u": 1.0}
    ok = status == "converged"
    msg = "asymptotic-l1 regime (limit model on the l1 support): " + msg
    return InterpolationResult(x=beta, success=ok, message=msg, nit=nit + int(lp.nit),
                               kkt_residual=max(pr, st), primal_residual=pr, dual=dual, info=info)


def _edge_refine(X, y, D, la, nu1, tol, max_iter, info):
    """Re-solve from nu1 (a converged direct Newton point) with the edge kept exactly (_EdgeModel)."""
    model = _EdgeModel(_PowerModel(D, la), X, nu1)
    if model.S.size == 0:
        return None
    n = X.shape[0]
    delta, w, beta, nit, status, msg = _dual_newton(X, y, model, tol, max_iter, np.zeros(n))
    if status != "converged" or not np.all(np.isfinite(beta)):
        return None
    _, e, _ = model.parts(w)
    pr = _primal_residual(X, beta, y)
    st = model.stationarity(beta, w)
    out = {**info, "regime": "newton", "edge": float(np.min(e)), "edge_refined": True,
           "stationarity_residual": st, "max_abs_u": float(1.0 - np.min(e))}
    return InterpolationResult(x=beta, success=True, message=msg + " (edge-variable refinement)", nit=nit,
                               kkt_residual=max(pr, st), primal_residual=pr, dual=nu1 + delta, info=out)


# --------------------------------------------------------------------------------------------
# public solvers
# --------------------------------------------------------------------------------------------
def implicit_bias_solution(X, y, alpha=None, depth=2, *, log_alpha=None, tol: float = 1e-12,
                           max_iter: int = 200) -> InterpolationResult:
    """``argmin Q_alpha^D(beta) s.t. X beta = y`` (THEORY.md s2 Thm 1, s4 Thm 3).

    Parameters
    ----------
    X : (n, d) float64 array (torch tensors accepted, results are NumPy)
    y : (n,) float64, in the range of X
    alpha : float > 0, or ``log_alpha`` : float (exactly one; log_alpha = -1000 is fine)
    depth : real D >= 2
    tol : relative tolerance on ``||X beta - y|| / ||y||`` (the dual gradient)
    max_iter : Newton iterations

    Returns an :class:`InterpolationResult` with ``dual = nu`` (``beta = alpha^D h_D(X^T nu)``)
    and ``info``: ``regime`` ("newton" | "asymptotic-l1" | "asymptotic-l2", see the package
    docstring), ``edge`` = 1 - max|X^T nu| (D > 2; ``log_edge`` in the asymptotic-l1 regime),
    ``model_error`` (asymptotic regimes), ``log_alpha``, ``depth``.  Never NaN; ``success=False`` with a message if Newton fails.
    The problem is solved exactly normalized (``X = 2^a Xn``, ``y = 2^b yn``, max entries in
    [1/2, 1); ``info["log2_scale_X"] = a``, ``info["log2_scale_y"] = b``) through the identities
    ``beta_alpha(2^a Xn, y) = beta_alpha(Xn, 2^-a y)`` and ``beta_alpha(Xn, s yn) = s
    beta_{alpha s^(-1/D)}(Xn, yn)`` (THEORY.md s3 scale covariance), i.e. at
    ``log_alpha - (b - a) log(2) / D`` (``info["solved_log_alpha"]``); ``beta = 2^(b-a) beta_n``,
    ``nu = 2^-a nu_n`` (``X^T nu`` unchanged), residuals from the normalized problem (invariant).
    So ``y * 1e170`` or ``X * 1e-200`` are ordinary inputs.
    Raises InvalidInputError for bad input (see :mod:`krtheory._validation`) and where the
    minimizer itself overflows float64.
    """
    la = resolve_log_alpha(alpha, log_alpha)
    D = check_depth(depth)
    tol, max_iter = _check_tol(tol), _check_max_iter(max_iter)
    Xn, yn, beta_l2n, sc = _normalized_problem(X, y)
    la_n = la - sc.x_exp * math.log(2.0) / D
    res = _implicit_normalized(Xn, yn, beta_l2n, D, la_n, tol, max_iter)
    extra = {"log_alpha": la, "solved_log_alpha": la_n}
    if "log_dual_scale" in res.info:  # dual = nu_2 e^(log_dual_scale), nu_2 = X^+T beta_l2 (original X)
        extra["log_dual_scale"] = res.info["log_dual_scale"] - sc.x_exp * math.log(2.0)
    return _rescaled(res, sc, -sc.ex, extra)


def _implicit_normalized(X, y, beta_l2, D, la, tol, max_iter) -> InterpolationResult:
    """:func:`implicit_bias_solution` on a normalized problem (max|X|, max|y| in [1/2, 1))."""
    info = {"method": "implicit_bias", "depth": D, "log_alpha": la, "regime": "newton"}
    if not np.any(y):
        return _zero_result(X, y, "implicit_bias", {**info, "edge": 1.0})
    # kernel side far outside the float range: u = X^T nu ~ beta_l2 / (alpha^D h_D'(0)); once
    # |u| < 1e-13 the minimizer equals beta_l2 to relative O(u^2) < 1e-26 (THEORY.md s3, s4)
    # The linear model's relative error is O(((p + 1) u)^2) for D > 2 (h_D(u) = 2p u (1 + (p + 1)(p + 2)
    # u^2 / 6 + ...)), O(u^2) for D = 2: as D -> 2 (p -> inf) u itself shrinks like 1/p and only
    # (p + 1) u measures the distance from the kernel regime (h_D(v / p) -> 2 sinh v).
    log_c1 = math.log(2.0) if D == 2.0 else math.log(2.0 * D / (D - 2.0))
    log_umax = math.log(float(np.max(np.abs(beta_l2)))) - D * la - log_c1
    log_nl = log_umax + (0.0 if D == 2.0 else math.log(D / (D - 2.0) + 1.0))
    if log_nl < -30.0:
        return _asymptotic_l2(X, y, beta_l2, D * la + log_c1, log_umax, log_nl, info)
    if D == 2.0:
        # far on the rich side (L = -2 log alpha > 200) the limit model is exact in float as soon as
        # L * margin > ~40; it is used when its own error bound is below eps, else the direct Newton
        tried = la < -100.0
        nu0 = None
        if tried:
            ares = _asymptotic_l1_exp(X, y, la, tol, max_iter)
            if ares is not None and ares.success and ares.info["model_error"] <= _EPS:
                return ares
            if ares is not None and ares.success:
                # small certificate margin: the limit point is not exact but is an excellent start
                # (support already on its scale; the capped steps from the ray would need ~L/30)
                nu0 = ares.dual
        model = _ExpModel(2.0 * la, 0.0)
        if nu0 is None:
            nu0 = _ray_start(X, y, model, beta_l2)
        nu, u, beta, nit, status, msg = _dual_newton(X, y, model, tol, max_iter, nu0)
        res = _finish(X, y, model, nu, u, beta, nit, status, msg, info)
        if not res.success and la < 0 and not tried:
            ares = _asymptotic_l1_exp(X, y, la, tol, max_iter)
            if ares is not None and ares.success and ares.info["model_error"] <= 1e-8:
                return ares
        return res
    # D > 2: predicted support edge e ~ (alpha / B^(1/D))^(D-2) with B >= max|beta_i| (B = ||beta_l2||_1)
    e_sw = edge_switch(D)
    B = float(np.sum(np.abs(beta_l2)))
    log_e_pred = (D - 2.0) * (la - math.log(B) / D)
    tried = False
    ares = None
    if log_e_pred < math.log(e_sw):
        tried = True
        ares = _asymptotic_l1(X, y, D, la, tol, max_iter)
        if ares is not None and ares.success and ares.info["log_edge"] < math.log(e_sw):
            return ares
    model = _PowerModel(D, la)
    nu, u, beta, nit, status, msg = _dual_newton(X, y, model, tol, max_iter, _ray_start(X, y, model, beta_l2))
    if status != "converged":
        # from the ray start the damped Newton can need more than max_iter steps to sort out a
        # support whose edges (~1e-6) sit just above edge_switch with a small certificate margin
        # (Fig. 1 instance, D = 4, alpha = 1e-3: 225 steps).  The limit-model point puts the
        # support on its scale at once (relative model_error); re-run the direct Newton from it.
        if ares is None:
            ares = _asymptotic_l1(X, y, D, la, tol, max_iter)
        if ares is not None and ares.success and model.evaluate(X.T @ ares.dual) is not None:
            w = _dual_newton(X, y, model, tol, max_iter, ares.dual)
            if w[4] == "converged":
                nu, u, beta, status, msg = w[0], w[1], w[2], w[4], w[5] + " (started from the asymptotic-l1 point)"
                nit += w[3]
    info["edge"] = float(1.0 - np.max(np.abs(u), initial=0.0))
    res = _finish(X, y, model, nu, u, beta, nit, status, msg, info)
    if res.success and info["edge"] < EDGE_REFINE:
        # u next to 1 is rounded to eps absolute (eps/e relative in beta): polish in the edge variable
        ref = _edge_refine(X, y, D, la, nu, tol, max_iter, info)
        if ref is not None:
            res = InterpolationResult(x=ref.x, success=True, message=ref.message, nit=res.nit + ref.nit,
                                      kkt_residual=ref.kkt_residual, primal_residual=ref.primal_residual,
                                      dual=ref.dual, info=ref.info)
    if not tried and (info["edge"] < e_sw or not res.success):
        if ares is None:
            ares = _asymptotic_l1(X, y, D, la, tol, max_iter)
        if ares is not None and ares.success and ares.info["log_edge"] < math.log(e_sw):
            return ares
    return res


def shaped_potential_solution(X, y, scale, tilt, *, tol: float = 1e-12, max_iter: int = 200) -> InterpolationResult:
    """D = 2 shaped potential: ``argmin sum_i [c_i q(beta_i / c_i) - phi_i beta_i] s.t. X beta = y``.

    ``scale`` = c (d,) > 0, ``tilt`` = phi (d,) (THEORY.md s2 "General initialization shape":
    c_i = alpha^2 u_i v_i, phi_i = ln(u_i / v_i); s7 width; s9 finite-step GD).  The minimizer is
    ``beta_i = 2 c_i sinh((X^T nu)_i + phi_i)``; ``dual = nu``.  With c = alpha^2, phi = 0 this is
    :func:`implicit_bias_solution` at D = 2.

    Solved exactly normalized like :func:`implicit_bias_solution`: with ``X = 2^a Xn``,
    ``y = 2^b yn`` the minimizer is ``2^(b-a)`` times that of ``(Xn, yn, c 2^(a-b), phi)`` (the
    objective is homogeneous of degree 1 in (beta, c)); ``log c`` is shifted, so c never
    under/overflows.
    """
    tol, max_iter = _check_tol(tol), _check_max_iter(max_iter)
    X, y, beta_l2, sc = _normalized_problem(X, y)
    d = X.shape[1]
    c = check_finite_array(scale, "scale")
    phi = check_finite_array(tilt, "tilt")
    if c.shape != (d,):
        raise InvalidInputError(f"scale must have shape ({d},) to match X, got {c.shape}")
    if phi.shape != (d,):
        raise InvalidInputError(f"tilt must have shape ({d},) to match X, got {phi.shape}")
    if not np.all(c > 0):
        raise InvalidInputError(f"scale must be > 0 entrywise, got min {float(np.min(c))!r}")
    info = {"method": "shaped_potential", "regime": "newton"}
    model = _ExpModel(np.log(c) - sc.x_exp * math.log(2.0), phi)
    if not np.any(y) and not np.any(phi):
        return _zero_result(X, y, "shaped_potential", {**info, **sc.info})
    nu, u, beta, nit, status, msg = _dual_newton(X, y, model, tol, max_iter, _ray_start(X, y, model, beta_l2))
    return _rescaled(_finish(X, y, model, nu, u, beta, nit, status, msg, info), sc, -sc.ex)
