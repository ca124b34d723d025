"""The alpha -> 0 and alpha -> infinity limits of Theorem 3 and their rates (THEORY.md s4).

- ``T3-limits``: alpha -> 0 gives beta*_l1 (by vector where a strict dual margin certifies a
  unique l1 solution, by l1 norm otherwise); alpha -> infinity gives beta*_l2; D = 2, 3, 4.
- ``rate-potential``: at a fixed beta, 0 <= ||beta||_1 - Q_alpha^D(beta) <= (D/2) alpha^{D-2}
  sum |beta_i|^{2/D}, and the gap is asymptotically equal to that bound (slope D - 2).
- ``rate-l1``: the minimizer's l1 excess ||beta_alpha||_1 / ||beta*_l1||_1 - 1 ~ K alpha^D with
  K = sum_{i off S} |h_D(lambda_i)| (1 - |lambda_i|) / ||beta*_l1||_1 (derived here: lambda is the
  dual certificate, |S| = n; the relative correction is O(alpha^{D-2})).
- ``rate-kernel``: beta_alpha - beta*_l2 ~ kappa_D alpha^{-2D} P_null(beta*_l2^3) with
  kappa_D = 2 b / a from q_D(z) = a z^2 - b z^4 + ..., hence Theta(alpha^{-2D}) (slope -2D).

Witnesses: the dual-Newton solver (alpha far outside the range a flow can reach), the HiGHS LP
and mpmath; predictions: the limits / the derived leading terms. Series coefficients a, b come from
mpmath derivatives of the link h_D at 0, not from typed formulas.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from krtheory import strategies as kst
from krtheory.claims import _mp
from krtheory.claims import problems as P
from krtheory.claims.base import Claim, SubCheck, evidence
from krtheory.claims.flows import l1, l2, rel_dist, solve
from krtheory.claims.registry import register
from krtheory.strategies import Instance


def _slope(x, y) -> float:
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(lx, ly, 1)[0])


def _newton(ctx, p, la: float, D: float) -> np.ndarray:
    """The minimizer from the solver's dual Newton; refuses its limit models (a rate measured on
    a limit model would only restate the model)."""
    r = solve(ctx, p, log_alpha=la, depth=D)
    if r.info.get("regime") != "newton":
        raise RuntimeError(f"solver used its {r.info.get('regime')} model at log alpha = {la:.4g}, D = {D:g}: "
                           "the rate must be measured on the Newton solution")
    return r.x


def _exact_l1(ctx, p):
    """beta*_l1 on the LP's support, re-solved exactly (square X_S) when |S| = n; LP info."""
    res = l1(ctx, p)
    S = np.asarray(res.info["support"], dtype=int)
    beta = np.array(res.x, dtype=float)
    if len(S) == p.n and res.info.get("unique", False):
        beta = np.zeros(p.d)
        beta[S] = np.linalg.solve(p.X[:, S], p.y)
    return beta, res


# ---------------------------------------------------------------------------------------- T3-limits
SMALL_LOG_ALPHA = {2: -2000.0, 3: -25.0, 4: -25.0}
LARGE_LOG_ALPHA = 25.0
LIMIT_TOL = 1e-8
TREND_SMALL = {2: (-2.5, -5.0, -10.0, -20.0), 3: (-1.0, -2.0, -3.0, -4.0)}
TREND_LARGE = (0.5, 1.0, 1.5, 2.0)


def _limits_check(inst: Instance, ctx, *, scale: float = 1.0):
    p, D = inst.problem, inst.depth
    b1, lp = _exact_l1(ctx, p)
    b2 = l2(ctx, p).x
    small = solve(ctx, p, log_alpha=SMALL_LOG_ALPHA.get(int(D), -25.0), depth=D).x
    large = solve(ctx, p, log_alpha=LARGE_LOG_ALPHA, depth=D).x
    unique = bool(lp.info.get("unique", False))
    subs = []
    if unique:
        subs.append(SubCheck("alpha->0: ||b_alpha - b*_l1|| / ||b*_l1|| (unique, margin "
                             f"{lp.info['margin']:.3g})", rel_dist(small, scale * b1), LIMIT_TOL))
    else:
        subs.append(SubCheck("alpha->0: | ||b_alpha||_1 / ||b*_l1||_1 - 1 | (l1 solution not unique)",
                             abs(np.sum(np.abs(small)) / (scale * np.sum(np.abs(b1))) - 1.0), LIMIT_TOL))
    subs.append(SubCheck("alpha->inf: ||b_alpha - b*_l2|| / ||b*_l2||", rel_dist(large, scale * b2), LIMIT_TOL))
    # the approach itself, where the solver runs its dual Newton (at the extreme alphas above it may
    # use its limit models, "asymptotic-l1" / "asymptotic-l2"): the distance to each limit must
    # fall monotonically along a sequence of alphas towards it
    for side, seq in (("alpha->0", TREND_SMALL.get(int(D), TREND_SMALL[3])), ("alpha->inf", TREND_LARGE)):
        dists, used = [], []
        for la in seq:
            r = solve(ctx, p, log_alpha=la, depth=D)
            if r.info.get("regime") != "newton":
                continue
            used.append(la)
            if side == "alpha->0":
                dists.append(rel_dist(r.x, scale * b1) if unique else
                             abs(np.sum(np.abs(r.x)) / (scale * np.sum(np.abs(b1))) - 1.0))
            else:
                dists.append(rel_dist(r.x, scale * b2))
        rises = sum(1 for a, b in zip(dists, dists[1:]) if not b < a)
        if len(dists) >= 2:
            subs.append(SubCheck(f"{side}: steps along log alpha = {used} where the distance does not fall", float(rises), 0.0))
    k = int(p.spec.get("duplicate", 0) or 0)
    if k:
        # duplicated columns: every Q_alpha minimizer splits the weight equally (THEORY.md s8), so the
        # alpha -> 0 limit is the equal split, not the LP's vertex
        split = float(np.max(np.abs(small[:k] - small[p.d - k:])) / np.max(np.abs(small)))
        subs.append(SubCheck("alpha->0: equal split on duplicated columns, max |b_i - b_i'| / ||b||_inf", split, LIMIT_TOL))
    return evidence(subs, metrics={"unique_l1": unique, "margin": float(lp.info.get("margin", math.nan))})


def _limits_defaults(seed):
    return tuple(Instance.make(p, depth=D, label=f"{n}-D{D}")
                 for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed)), ("dup", P.dup(seed)))
                 for D in (2, 3, 4))


register(Claim(
    id="T3-limits",
    title="alpha -> 0: beta*_l1; alpha -> inf: beta*_l2",
    statement="As alpha -> 0 the potential minimizer tends to the min-l1 interpolator (the vector where "
              "a strict dual margin certifies uniqueness, its l1 norm otherwise); as alpha -> inf to the "
              "min-l2 interpolator X^+ y; D = 2, 3, 4.",
    source="Theorem 3",
    reference="THEORY.md s2, s4",
    strategy=st.builds(lambda p, D: Instance.make(p, depth=D), kst.problems(n=(2, 5), d=(3, 10), sparsity=(1, 3)),
                       kst.depths((2, 3, 4))),
    default_examples=_limits_defaults,
    check=_limits_check,
    tolerance_reason=("relative 1e-8 at log alpha = -2000 (D = 2), -25 (D > 2) and +25: the remaining "
                      "distances are alpha^{2 margin} (D = 2), O(alpha^D) and O(alpha^{-2D}), all below "
                      "1e-10 there; the LP support is re-solved exactly so HiGHS's 1e-9 tolerance "
                      "does not enter. At those alphas the solver may use its limit models (regime "
                      "asymptotic-l1 / asymptotic-l2), so the approach is also checked where it runs its "
                      "dual Newton: the distance must fall at every step of a log-alpha sequence (exact count)"),
    mutation=lambda i, c: _limits_check(i, c, scale=1.01),
    mutation_description="predicted limits scaled by 1.01",
))


# ---------------------------------------------------------------------------------------- rate-potential
RP_ALPHAS = (1e-4, 1e-3, 1e-2)


def _rate_potential_check(inst: Instance, ctx, *, alpha_factor: float = 1.0):
    from krtheory.numeric import potential

    D = inst.depth
    beta = np.asarray(inst.param("beta"), dtype=float)
    beta = beta[beta != 0]
    pot = potential(D)
    gaps, preds, pkg = [], [], []
    for a in RP_ALPHAS:
        z = beta / a ** D
        gaps.append(a ** D * sum(float(_mp.l1_gap_mp(D, zi)) for zi in z))
        pkg.append(a ** D * float(np.sum(pot.l1_gap(z))))
        preds.append((D / 2) * (a * alpha_factor) ** (D - 2) * float(np.sum(np.abs(beta) ** (2 / D))))
    gaps, preds, pkg = map(np.asarray, (gaps, preds, pkg))
    bound_viol = float(np.max(np.maximum(0.0, gaps - (D / 2) * np.asarray(RP_ALPHAS) ** (D - 2)
                                          * np.sum(np.abs(beta) ** (2 / D)))) / np.max(gaps))
    subs = [
        SubCheck("bound violation (||b||_1 - Q > (D/2) a^{D-2} sum|b|^{2/D}), relative", bound_viol, 1e-12),
        SubCheck("|gap / prediction - 1| at alpha = 1e-4", abs(gaps[0] / preds[0] - 1.0), 1e-4),
        SubCheck("|log-log slope - (D - 2)|", abs(_slope(RP_ALPHAS, gaps) - (D - 2)), 0.01),
        SubCheck("package l1_gap vs mpmath (relative)", float(np.max(np.abs(pkg / gaps - 1.0))), 1e-9),
    ]
    return evidence(subs, metrics={"slope": _slope(RP_ALPHAS, gaps), "ratio_at_1e-4": float(gaps[0] / preds[0])})


def _rp_defaults(seed):
    out = []
    for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed))):
        b = np.asarray(l2_vector(p))
        for D in (3, 4):
            out.append(Instance.make(p, depth=D, label=f"{n}-l2-D{D}", beta=b))
    return tuple(out)


def l2_vector(p):
    return np.linalg.lstsq(p.X, p.y, rcond=None)[0]


register(Claim(
    id="rate-potential",
    title="D > 2: potential gap ||b||_1 - Q = Theta(alpha^{D-2})",
    statement="For fixed beta and D > 2: 0 <= ||beta||_1 - Q_alpha^D(beta) <= (D/2) alpha^{D-2} sum |beta_i|^{2/D}, "
              "with equality to leading order as alpha -> 0 (slope D - 2).",
    source="derived",
    reference="THEORY.md s4",
    strategy=st.builds(lambda p, D: Instance.make(p, depth=D, beta=l2_vector(p)), kst.problems(n=(2, 4), d=(3, 8)),
                       kst.depths((3, 4))),
    default_examples=_rp_defaults,
    check=_rate_potential_check,
    tolerance_reason=("mpmath at 50 digits is exact here; the next term of |z| - q_D is C_D, so the gap / "
                      "prediction ratio at alpha = 1e-4 is 1 - O(alpha^2 |b|^{1 - 2/D}) < 1e-6 (tolerance 1e-4); "
                      "slope over alpha in [1e-4, 1e-2] within 0.01 of D - 2; the package's l1_gap within 1e-9"),
    mutation=lambda i, c: _rate_potential_check(i, c, alpha_factor=1.01),
    mutation_description="prediction evaluated at alpha * 1.01",
))


# ---------------------------------------------------------------------------------------- rate-l1
def _regular_l1(p) -> bool:
    """The rate-l1 hypothesis: unique l1 solution, support size n, margin >= 0.05."""
    from krtheory.solvers import min_l1_interpolator

    r = min_l1_interpolator(p.X, p.y)
    return bool(r.info.get("unique")) and len(r.info["support"]) == p.n and r.info["margin"] >= 0.05


RL1_TOP_EXCESS = 1e-7  # the grid top: predicted excess K alpha^D = 1e-7


def _rate_l1_check(inst: Instance, ctx, *, alpha_factor: float = 1.0):
    from krtheory.numeric import potential

    p, D = inst.problem, inst.depth
    b1, lp = _exact_l1(ctx, p)
    S = np.asarray(lp.info["support"], dtype=int)
    if not (lp.info.get("unique") and len(S) == p.n):
        raise ValueError("rate-l1 needs a unique l1 solution with |support| = n")
    off = np.setdiff1d(np.arange(p.d), S)
    lam = p.X[:, off].T @ np.linalg.solve(p.X[:, S].T, np.sign(b1[S]))  # the dual certificate off S
    link = potential(D).link(lam)
    n1 = float(np.sum(np.abs(b1)))
    K = float(np.sum(np.abs(link) * (1 - np.abs(lam)))) / n1
    # the asymptotic regime depends on the instance (K and the correction c grow as the margin
    # shrinks): start where the predicted excess runs from 1e-7 down by 4^D, and move the grid
    # down until the first-order correction c alpha^{D-2} is <= 2% at its top (so the neglected
    # second order is <= 4e-4), keeping the smallest excess >= 1e-10 (solver accuracy 1e-13)
    top = (RL1_TOP_EXCESS / K) ** (1.0 / D)
    floor = (1e-10 / K) ** (1.0 / D) * 4.0
    for _ in range(4):
        alphas = top * np.array([0.25, 0.5, 1.0])
        exc = np.array([np.sum(np.abs(_newton(ctx, p, math.log(a), D))) / n1 - 1.0 for a in alphas])
        # excess = K alpha^D (1 + c alpha^{D-2} + O(alpha^{2(D-2)})): fit r = excess / (K alpha^D)
        # linearly in alpha^{D-2}, compare the intercept with 1, then fit the exponent with the
        # first-order correction removed
        t = alphas ** (D - 2)
        r = exc / (K * (alphas * alpha_factor) ** D)
        r1, r0 = np.polyfit(t, r, 1)
        size = abs(r1 / r0) * t[-1]
        if size <= 0.02 or top <= floor:
            break
        top = max(floor, top * (0.02 / size) ** (1.0 / (D - 2)))
    slope = _slope(alphas, exc / (1.0 + (r1 / r0) * t))
    subs = [SubCheck("|log-log slope - D| (first-order correction removed)", abs(slope - D), 0.05),
            SubCheck("|excess / (K alpha^D) - 1| extrapolated to alpha -> 0", abs(r0 - 1.0), 0.01)]
    return evidence(subs, metrics={"slope": slope, "raw_slope": _slope(alphas, exc), "K": K, "ratio0": float(r0),
                                   "alpha_top": float(alphas[-1]), "correction_at_top": float(size),
                                   "correction": float(r1 / r0), "margin": float(lp.info["margin"])})


register(Claim(
    id="rate-l1",
    title="D > 2: minimizer's l1 excess = Theta(alpha^D)",
    statement="For D > 2 and a unique l1 solution with support size n: ||beta_alpha||_1 / ||beta*_l1||_1 - 1 "
              "= K alpha^D (1 + O(alpha^{D-2})), K = sum_{i not in S} |h_D(lambda_i)| (1 - |lambda_i|) / ||beta*_l1||_1, "
              "lambda the dual certificate.",
    source="derived",
    reference="THEORY.md s3, s4",
    strategy=st.builds(lambda p, D: Instance.make(p, depth=D),
                       kst.problems(n=(2, 4), d=(4, 8), noise=0.1).filter(_regular_l1), kst.depths((3, 4))),
    default_examples=lambda seed: tuple(Instance.make(p, depth=D, label=f"{n}-D{D}")
                                        for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed)))
                                        for D in (3, 4)),
    check=_rate_l1_check,
    tolerance_reason=("the relative correction is c alpha^{D-2} (the support's edge variable; c grows like "
                      "1/margin); the alpha grid starts where K alpha^D runs from 1e-7 down by 4^D and moves down until c alpha^{D-2} <= 2% "
                      "at its top (excess kept >= 1e-10); the correction is fitted and removed, leaving O(alpha^{2(D-2)}) "
                      "~ 4e-4 (measured <= 1.2e-3 over seeds 0-2); intercept within 1%, exponent within 0.05 of D; excesses >= 1e-10 so the solver's "
                      "1e-13 accuracy does not enter"),
    mutation=lambda i, c: _rate_l1_check(i, c, alpha_factor=1.01),
    mutation_description="prediction K alpha^D at alpha * 1.01 (3-4% change)",
))


# ---------------------------------------------------------------------------------------- rate-kernel
RK_ALPHAS = {2: (8.0, 16.0, 32.0), 3: (4.0, 8.0, 16.0), 4: (3.0, 6.0, 12.0)}


def _kappa(D: float) -> float:
    c1, c3 = _mp.link_taylor(D)
    a = 1.0 / (2.0 * c1)           # q_D(z) = a z^2 - b z^4 + ...  (series reversion of h_D)
    b = c3 / (4.0 * c1 ** 4)
    return 2.0 * b / a


def _rate_kernel_check(inst: Instance, ctx, *, alpha_factor: float = 1.0):
    p, D = inst.problem, inst.depth
    b2 = l2(ctx, p).x
    Q_, _ = np.linalg.qr(p.X.T)                      # orthonormal basis of row(X)
    w = b2 ** 3
    w_null = w - Q_ @ (Q_.T @ w)
    kappa = _kappa(D)
    alphas = RK_ALPHAS[int(D)]
    diffs = [_newton(ctx, p, math.log(a), D) - b2 for a in alphas]
    dist = np.array([np.linalg.norm(v) / np.linalg.norm(b2) for v in diffs])
    a0 = alphas[-1]
    pred = kappa * (a0 * alpha_factor) ** (-2 * D) * w_null
    slope = _slope(alphas, dist)
    subs = [SubCheck("|log-log slope + 2D|", abs(slope + 2 * D), 0.05),
            SubCheck("||(b_alpha - b*_l2) - kappa alpha^{-2D} P_null(b2^3)|| / ||prediction|| at the largest alpha",
                     rel_dist(diffs[-1], pred), 0.02)]
    return evidence(subs, metrics={"slope": slope, "kappa": kappa})


register(Claim(
    id="rate-kernel",
    title="kernel side: ||b_alpha - b*_l2|| = Theta(alpha^{-2D})",
    statement="beta_alpha - beta*_l2 = kappa_D alpha^{-2D} P_null(X)(beta*_l2^3) + O(alpha^{-4D}), kappa_D = 2b/a "
              "from q_D(z) = a z^2 - b z^4 + ... (D = 2: 1/24); so the relative distance is Theta(alpha^{-2D}).",
    source="derived",
    reference="THEORY.md s4",
    strategy=st.builds(lambda p, D: Instance.make(p, depth=D), kst.problems(n=(2, 4), d=(3, 8)), kst.depths((2, 3, 4))),
    default_examples=lambda seed: tuple(Instance.make(p, depth=D, label=f"{n}-D{D}")
                                        for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed)))
                                        for D in (2, 3, 4)),
    check=_rate_kernel_check,
    tolerance_reason=("the next order is relatively O(|b2|^2 alpha^{-2D}) <= 0.5% at the largest alpha; "
                      "vector prediction within 2%, slope within 0.05 of -2D; distances >= 1e-10 so the solver's "
                      "1e-13 accuracy does not enter"),
    mutation=lambda i, c: _rate_kernel_check(i, c, alpha_factor=1.01),
    mutation_description="prediction at alpha * 1.01 (4-8% change)",
))
