"""R: the parameter-distance regularizer vs the implicit bias (THEORY.md s6, the paper's Fig. 2).

R_alpha(beta) = min_w ||w - alpha 1||^2 s.t. w+^2 - w-^2 = beta. Checks, per problem:

1. the package's closed form R_alpha (Lagrange parametrization) against a direct numerical
   minimization over w (scipy, bounded 1-D search per coordinate) at alpha = 1: relative 1e-8
   (the bounded search resolves the minimum value to ~1e-12 relative, measured);
2. at intermediate alpha (= 1) argmin R_alpha and argmin Q_alpha are different interpolators
   (relative distance >= 1e3 x the solvers' 1e-9; measured 3e-3), and R_1 is no rescaling of Q:
   the best fit c Q_{a'} (over c and a') misses R_1 by >= 1% somewhere on b in [1e-2, 1e2]
   (measured 9.4%). Reported, not required: the *minimizers* come much closer -- argmin R_1 is
   within 5e-6 .. 2e-5 of argmin Q_{0.76} on the defaults, and on drawn problems as close as 1e-7;
3. both share the limits: argmin R_alpha -> beta*_l1 as alpha -> 0 (alpha = 1e-6) and -> beta*_l2 as
   alpha -> infinity (alpha = 1e6): relative 1e-6; R approaches l1 polynomially, the vector distance
   falls like alpha^2 (measured slope 2.00 between 1e-4 and 1e-5; at alpha = 1e-6 it is 2e-9 .. 1e-10,
   and below ~1e-7 the solver's edge resolution eps / (1 - |u|) takes over).
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from krtheory import strategies as kst
from krtheory.claims import problems as P
from krtheory.claims.base import Claim, SubCheck, evidence
from krtheory.claims.flows import l1, l2, rel_dist, solve
from krtheory.claims.registry import register
from krtheory.strategies import Instance

SOLVER_RES = 1e-9


def _r_direct(b: float, a: float) -> float:
    """min over w- = t > 0 of (sqrt(b + t^2) - a)^2 + (t - a)^2 (w+ = sqrt(b + t^2)), by bounded search."""
    from scipy.optimize import minimize_scalar

    def f(t):
        return (math.sqrt(b + t * t) - a) ** 2 + (t - a) ** 2

    lo = math.sqrt(max(-b, 0.0))
    hi = lo + 4.0 * (a + math.sqrt(abs(b)))
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-14 * (hi + 1.0), "maxiter": 2000})
    return float(res.fun)


def _min_r(ctx, p, a):
    from krtheory.regularizers import min_distance_interpolator

    def compute():
        r = min_distance_interpolator(p.X, p.y, a)
        if not r.success:
            raise RuntimeError(f"min_distance_interpolator failed at alpha = {a:g}: {r.message}")
        return r.x

    return ctx.memo(("min-R", p.key, float(a)), compute)


def _r_check(inst: Instance, ctx, *, alpha_factor: float = 1.0):
    from scipy.optimize import minimize_scalar

    from krtheory.regularizers import distance_regularizer

    p, a = inst.problem, 1.0
    bR = _min_r(ctx, p, a)
    bQ = solve(ctx, p, log_alpha=0.0, depth=2).x
    # 1. closed form vs direct minimization over w, on the coordinates of both minimizers
    bs = np.concatenate([bR, bQ])
    closed = np.asarray(distance_regularizer(bs, a * alpha_factor, reduce=False))
    direct = np.array([_r_direct(float(b), a) for b in bs])
    d1 = float(np.max(np.abs(closed - direct)) / np.max(np.abs(direct)))
    # 2. different interpolators, and no rescaling of alpha makes them equal
    sep = rel_dist(bR, bQ)
    best = minimize_scalar(lambda lc: rel_dist(bR, solve(ctx, p, log_alpha=lc, depth=2).x), bounds=(-4.0, 4.0),
                           method="bounded", options={"xatol": 1e-4})
    best_sep = float(best.fun)
    misfit = ctx.memo(("R-misfit", alpha_factor), lambda: _rescaling_misfit(alpha_factor))
    # 3. shared limits
    b1, lp = l1(ctx, p).x, l1(ctx, p)
    small = _min_r(ctx, p, 1e-6)
    if lp.info.get("unique"):
        d_small = rel_dist(small, b1)
        # polynomial approach: the distance falls like alpha^2 (slope 2 between 1e-4 and 1e-5)
        poly = math.log(rel_dist(_min_r(ctx, p, 1e-4), b1) / rel_dist(_min_r(ctx, p, 1e-5), b1)) / math.log(10.0)
        name = "alpha->0: ||argmin R - b*_l1|| / ||b*_l1||"
    else:
        d_small = abs(np.sum(np.abs(small)) / np.sum(np.abs(b1)) - 1.0)
        name = "alpha->0: | ||argmin R||_1 / ||b*_l1||_1 - 1 |"
        poly = None
    d_large = rel_dist(_min_r(ctx, p, 1e6), l2(ctx, p).x)
    subs = [SubCheck("closed-form R_alpha vs direct minimization over w (relative)", d1, 1e-8),
            SubCheck("solver resolution / ||argmin R_1 - argmin Q_1|| (different interpolators)",
                     SOLVER_RES / max(sep, 1e-300), 1e-3),
            SubCheck("max(0, 0.01 - min_{c, a'} max_b |log(c Q_a'(b) / R_1(b))|) (R is no rescaled Q)",
                     max(0.0, 0.01 - misfit), 0.0),
            SubCheck(name, d_small, 1e-6),
            *([SubCheck("|slope of ||argmin R - b*_l1|| in alpha - 2| (polynomial approach)", abs(poly - 2.0), 0.1)]
              if poly is not None else []),
            SubCheck("alpha->inf: ||argmin R - b*_l2|| / ||b*_l2||", d_large, 1e-6)]
    return evidence(subs, metrics={"separation_at_alpha_1": sep, "best_rescaled_separation": best_sep,
                                   "best_log_c": float(best.x), "rescaling_misfit": misfit})


def _rescaling_misfit(alpha_factor: float = 1.0) -> float:
    """min over (c, a') of max over b in [1e-2, 1e2] of |log(c Q_a'(b) / R_1(b))| (per coordinate, D = 2)."""
    from scipy.optimize import minimize

    from krtheory.numeric import potential
    from krtheory.regularizers import distance_regularizer

    q = potential(2).q
    b = np.geomspace(1e-2, 1e2, 41)
    R = np.asarray(distance_regularizer(b, alpha_factor, reduce=False))

    def f(x):
        a2 = math.exp(2 * x[1])
        return float(np.max(np.abs(np.log(math.exp(x[0]) * a2 * np.asarray(q(b / a2)) / R))))

    starts = [(lc, la) for lc in (-1.0, 0.0, 1.0) for la in (-1.0, 0.0, 1.0)]
    return min(minimize(f, s0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000}).fun
               for s0 in starts)


register(Claim(
    id="R",
    title="R_alpha vs Q_alpha: different at intermediate alpha, same limits",
    statement="The parameter-distance regularizer R_alpha(beta) = min ||w - alpha 1||^2 s.t. beta(w) = beta "
              "(closed form checked against direct minimization) is not a rescaling of Q_alpha, selects a "
              "different interpolator at alpha = 1, and shares both limits (l1 as alpha -> 0, l2 as alpha -> inf).",
    source="paper Fig. 2",
    reference="THEORY.md s6",
    # d - n >= 2: with a one-dimensional interpolating line every interpolator between b*_l1 and b*_l2 is
    # argmin Q_{c alpha} for some c, so "not a rescaling" is only testable from two free dimensions on
    strategy=st.builds(lambda p: Instance.make(p, depth=2), kst.problems(n=(2, 4), d=(4, 9), sparsity=(1, 2),
                                                                         min_extra_columns=2)),
    default_examples=lambda seed: (Instance.make(P.sparse(seed), depth=2, label="sparse"),
                                   Instance.make(P.gauss(seed), depth=2, label="gauss")),
    check=_r_check,
    tolerance_reason=("direct bounded minimization resolves r to ~1e-12 (tolerance 1e-8); separations must be "
                      ">= 1e3 x the solvers' 1e-9 resolution; limits at alpha = 1e-6 / 1e6 leave O(alpha^2) / "
                      "O(alpha^-4) residuals <= 2.4e-9; slope 2 within 0.1"),
    mutation=lambda i, c: _r_check(i, c, alpha_factor=1.01),
    mutation_description="closed form evaluated at alpha * 1.01",
))
