"""Tests for krtheory.solvers against independent references.

References: the 32-digit minimizers in ../shared/cases (mpmath at 70 digits, code shared with
nothing here), an mpmath Newton refinement at 50 digits written in this file from the closed
forms of THEORY.md, SLSQP on the primal, brute-force LP vertex enumeration, closed forms.
"""
from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize

from krtheory._validation import InvalidInputError
from krtheory.solvers import (
    InterpolationResult,
    implicit_bias_solution,
    min_l1_interpolator,
    min_l2_interpolator,
    shaped_potential_solution,
)

EPS = np.finfo(float).eps


def _arr(xs):
    return np.array([float(s) for s in xs])


def _rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _random_problem(seed, n=3, d=7, k=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    b = np.zeros(d)
    S = rng.choice(d, k, replace=False)
    b[S] = rng.choice([-1, 1], k) * (0.5 + np.abs(rng.standard_normal(k)))
    return X, X @ b


# ---------------------------------------------------------------------------------------------
# shared reference cases
# ---------------------------------------------------------------------------------------------
def test_q_minimizers_match_shared_cases(problem_cases):
    worst = {}
    for prob in problem_cases["problems"]:
        X, y = np.array(prob["X"], float), np.array(prob["y"], float)
        for case in prob["Q_minimizers"]:
            D, alpha = case["D"], case["alpha"]
            ref = _arr(case["beta"])
            res = implicit_bias_solution(X, y, alpha, D)
            assert res.success, (prob["name"], D, alpha, res.message)
            # 1e-9 relative everywhere (cases/README.md), plus the float64 resolution next to the
            # edge: u = X^T nu is rounded to ~eps, which moves beta by ~eps/(1 - |z|) relative
            # (README: D = 4, alpha = 1e-4 gives ~6e-8); 10x that as margin.
            edge = 1.0 - float(case["max_abs_z"]) if D > 2 else 1.0
            tol = 1e-9 + 10 * EPS / edge
            err = _rel(res.x, ref)
            assert err <= tol, (prob["name"], D, alpha, err, tol)
            if res.info.get("edge_refined"):
                # the edge-variable refinement keeps 1 - |u| exact on the support (Dot2 reference,
                # QR steps): the eps/edge loss is gone (measured <= 2e-13 at edge 1e-4)
                assert err < 1e-12
            if res.info["regime"] == "asymptotic-l1":
                # the limit model does not round u next to 1: its error is (e/margin)^p ~ 1e-15
                # here (D = 4, alpha = 1e-4), so the README's looser edge allowance is not needed
                assert err < 1e-12 and res.info["model_error"] < 1e-13
            assert res.kkt_residual <= max(1e-10, 100 * EPS / edge)
            assert np.all(np.isfinite(res.x))
            worst[(D, alpha)] = max(worst.get((D, alpha), 0.0), err)
    # the away-from-edge cases must be far better than the 1e-9 contract (they are ~1e-13)
    assert max(v for (D, a), v in worst.items() if not (D > 2 and a <= 1e-4)) < 1e-11


def test_zero_column_case_is_exactly_zero(problem_cases):
    prob = next(p for p in problem_cases["problems"] if p["kind"] == "zero_column")
    X, y = np.array(prob["X"], float), np.array(prob["y"], float)
    j = int(np.flatnonzero(~X.any(axis=0))[0])
    for D in (2, 3, 4):
        for alpha in (1e-4, 1.0, 100.0):
            # z_j = (X^T nu)_j = 0 exactly, so beta_j = alpha^D h_D(0) = 0 exactly
            assert implicit_bias_solution(X, y, alpha, D).x[j] == 0.0
    assert min_l1_interpolator(X, y).x[j] == 0.0
    assert abs(min_l2_interpolator(X, y).x[j]) == 0.0


def test_l1_l2_match_shared_cases(problem_cases):
    for prob in problem_cases["problems"]:
        X, y = np.array(prob["X"], float), np.array(prob["y"], float)
        r1 = min_l1_interpolator(X, y)
        ref1 = _arr(prob["min_l1"]["beta"])
        # the polished LP solution solves X_S b = y on the support: backward-stable, ~1e-15
        assert np.max(np.abs(r1.x - ref1)) <= 1e-12 * np.max(np.abs(ref1))
        assert list(r1.info["support"]) == list(prob["min_l1"]["support"])
        assert r1.info["unique"] == prob["min_l1"]["unique"]
        # the max-margin certificate is an LP optimum value: HiGHS tolerances 1e-10
        assert abs(r1.info["margin"] - prob["min_l1"]["strict_dual_certificate_margin"]) < 1e-8
        assert r1.kkt_residual < 1e-12
        r2 = min_l2_interpolator(X, y)
        ref2 = _arr(prob["min_l2"]["beta"])
        assert _rel(r2.x, ref2) < 1e-13  # SVD solve, cond(X) ~ 10: a few eps
        assert r2.kkt_residual < 1e-13


# ---------------------------------------------------------------------------------------------
# independent high-precision reference: mpmath Newton at 50 digits on the dual
# ---------------------------------------------------------------------------------------------
def _mp_dual_newton(X, y, link, dlink, nu0, dps=50, iters=60):
    """Solve X link(X^T nu) = y in mpmath from nu0 (Newton; residual checked)."""
    with mp.workdps(dps):
        Xm = mp.matrix(X.tolist())
        ym = mp.matrix(y.tolist())
        nu = mp.matrix([mp.mpf(v) for v in nu0])
        n, d = X.shape
        for _ in range(iters):
            u = Xm.T * nu
            b = mp.matrix([link(i, u[i]) for i in range(d)])
            r = Xm * b - ym
            if mp.norm(r) < mp.mpf(10) ** (-dps + 5):
                break
            H = mp.matrix(n, n)
            for i in range(d):
                wi = dlink(i, u[i])
                for a in range(n):
                    for c in range(n):
                        H[a, c] += Xm[a, i] * wi * Xm[c, i]
            nu = nu - mp.lu_solve(H, r)
        u = Xm.T * nu
        b = [link(i, u[i]) for i in range(d)]
        assert mp.norm(Xm * mp.matrix(b) - ym) < mp.mpf(10) ** (-dps + 10)
        return np.array([float(v) for v in b])


@pytest.mark.parametrize("D,alpha", [(2, 0.05), (3, 0.3), (2.5, 0.5), (4, 0.05)])
def test_random_problems_match_mpmath_dual_newton(D, alpha):
    X, y = _random_problem(7 + int(10 * D), n=3, d=6)
    res = implicit_bias_solution(X, y, alpha, D)
    assert res.success
    with mp.workdps(50):
        a = mp.mpf(alpha)
        if D == 2:
            link = lambda i, u: 2 * a**2 * mp.sinh(u)
            dlink = lambda i, u: 2 * a**2 * mp.cosh(u)
        else:
            p = mp.mpf(D) / (mp.mpf(D) - 2)
            link = lambda i, u: a**D * ((1 - u) ** (-p) - (1 + u) ** (-p))
            dlink = lambda i, u: a**D * p * ((1 - u) ** (-p - 1) + (1 + u) ** (-p - 1))
        ref = _mp_dual_newton(X, y, link, dlink, res.dual)
    edge = res.info.get("edge", 1.0)
    # float64 Newton: rounding of u = X^T nu costs ~eps * cond / edge; 1e-11 is >100x that here
    assert _rel(res.x, ref) < 1e-11 + 100 * EPS / edge


def _q2(z):
    # THEORY.md s2 stable form of q(z) = 2 - sqrt(4 + z^2) + z asinh(z/2) (z^2 never formed)
    return z * np.arcsinh(z / 2) - z * (z / (2 + np.hypot(2, z)))


def test_d2_matches_slsqp_on_the_primal():
    # A different algorithm on the primal problem; SLSQP reaches ~1e-8 on this small problem,
    # so the tolerance is 1e-6 relative.
    X, y = _random_problem(3, n=3, d=6)
    alpha = 0.7
    res = implicit_bias_solution(X, y, alpha, 2)
    obj = lambda b: alpha**2 * np.sum(_q2(b / alpha**2))
    jac = lambda b: np.arcsinh(b / (2 * alpha**2))
    sl = minimize(obj, np.linalg.pinv(X) @ y, jac=jac, method="SLSQP",
                  constraints=[{"type": "eq", "fun": lambda b: X @ b - y, "jac": lambda b: X}],
                  options={"ftol": 1e-15, "maxiter": 500})
    assert np.linalg.norm(X @ sl.x - y) < 1e-10 * np.linalg.norm(y)  # judged by feasibility, not its flag
    assert _rel(res.x, sl.x) < 1e-6
    # and the Newton answer has the lower objective among feasible points (up to rounding)
    assert obj(res.x) <= obj(sl.x) + 1e-12


def test_shaped_potential_matches_mpmath_and_reduces_to_q():
    X, y = _random_problem(11, n=3, d=6)
    rng = np.random.default_rng(5)
    c = np.exp(rng.uniform(-3, 1, 6))
    phi = rng.uniform(-1, 1, 6)
    res = shaped_potential_solution(X, y, c, phi)
    assert res.success
    with mp.workdps(50):
        cm = [mp.mpf(v) for v in c]
        pm = [mp.mpf(v) for v in phi]
        link = lambda i, u: 2 * cm[i] * mp.sinh(u + pm[i])
        dlink = lambda i, u: 2 * cm[i] * mp.cosh(u + pm[i])
        ref = _mp_dual_newton(X, y, link, dlink, res.dual)
    assert _rel(res.x, ref) < 1e-12  # well-conditioned, |u| = O(1): a few eps * cond(X)
    # c = alpha^2, phi = 0 is the unbiased potential Q_alpha (a different entry point)
    a = 0.3
    r1 = shaped_potential_solution(X, y, np.full(6, a * a), np.zeros(6))
    r2 = implicit_bias_solution(X, y, a, 2)
    assert _rel(r1.x, r2.x) < 1e-13


# ---------------------------------------------------------------------------------------------
# the LP against brute-force vertex enumeration
# ---------------------------------------------------------------------------------------------
def _l1_by_enumeration(X, y):
    # every basic feasible solution of the split LP is supported on independent columns:
    # enumerate supports of size <= n and keep the feasible one with the least l1 norm.
    n, d = X.shape
    best = math.inf
    for k in range(1, n + 1):
        for S in itertools.combinations(range(d), k):
            XS = X[:, S]
            if np.linalg.matrix_rank(XS) < k:
                continue
            bS, *_ = np.linalg.lstsq(XS, y, rcond=None)
            if np.linalg.norm(XS @ bS - y) <= 1e-10 * np.linalg.norm(y):
                best = min(best, float(np.sum(np.abs(bS))))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_l1_matches_vertex_enumeration(seed):
    rng = np.random.default_rng(100 + seed)
    n, d = (2, 5) if seed % 2 else (3, 6)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)  # dense y: generic LP, support size n
    res = min_l1_interpolator(X, y)
    ref = _l1_by_enumeration(X, y)
    assert abs(res.info["l1_norm"] - ref) <= 1e-12 * ref  # polished vertex: rounding only
    assert res.primal_residual < 1e-13
    # certificate: |X^T lambda| <= 1 and <lambda, y> = ||beta||_1 (strong duality)
    assert np.max(np.abs(X.T @ res.dual)) <= 1 + 1e-9
    assert abs(res.dual @ y - ref) <= 1e-9 * ref


# ---------------------------------------------------------------------------------------------
# degenerate but valid input
# ---------------------------------------------------------------------------------------------
def test_duplicated_columns_equal_split_and_lp_not_unique():
    X, y = _random_problem(21, n=3, d=6, k=2)
    j = int(np.argmax(np.abs(min_l1_interpolator(X, y).x)))  # a support column
    X2 = np.hstack([X, X[:, [j]]])  # column d duplicates column j
    for D, alpha in [(2, 1e-3), (3, 1e-2), (2, 1.0)]:
        r = implicit_bias_solution(X2, y, alpha, D)
        # u_j = u_d up to the summation order of X^T nu (BLAS): identical halves to rounding
        assert abs(r.x[j] - r.x[-1]) <= 1e-13 * abs(r.x[j])
        assert r.success and _rel(X2 @ r.x, y) < 1e-12
        if D == 2:
            # the pair acts as one column with the doubled scale c_j = 2 alpha^2 (sum of the two
            # 2 alpha^2 sinh(u_j) terms): the shaped potential on the original X, another entry point
            c = np.full(X.shape[1], alpha**2)
            c[j] *= 2
            rs = shaped_potential_solution(X, y, c, np.zeros(X.shape[1]))
            merged = r.x[:-1].copy()
            merged[j] += r.x[-1]
            assert _rel(merged, rs.x) < 1e-12
    lp = min_l1_interpolator(X2, y)
    lp0 = min_l1_interpolator(X, y)
    assert lp.info["unique"] is False and "NOT unique" in lp.message
    assert abs(lp.info["margin"]) < 1e-8  # the duplicate is tight for every certificate
    assert abs(lp.info["l1_norm"] - lp0.info["l1_norm"]) < 1e-12 * lp0.info["l1_norm"]
    assert lp0.info["unique"] is True


def test_y_zero_gives_zero():
    X, _ = _random_problem(1)
    y = np.zeros(3)
    for f in (lambda: implicit_bias_solution(X, y, 0.1, 2), lambda: implicit_bias_solution(X, y, 0.1, 3),
              lambda: min_l1_interpolator(X, y), lambda: min_l2_interpolator(X, y),
              lambda: shaped_potential_solution(X, y, np.ones(7), np.zeros(7))):
        r = f()
        assert r.success and np.all(r.x == 0.0) and r.primal_residual == 0.0


def test_square_exact_system_is_solved():
    # n >= d is valid when the fit is exact: the only interpolator is X^-1 y
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 4))
    b = rng.standard_normal(4)
    y = X @ b
    for D in (2, 3):
        r = implicit_bias_solution(X, y, 0.5, D)
        assert r.success and _rel(r.x, b) < 1e-12  # cond(X) ~ 10: rounding only


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(alpha=-1.0), "alpha"), (dict(alpha=0.0), "alpha"), (dict(alpha=math.inf), "alpha"),
    (dict(alpha=1.0, depth=1.5), "depth"), (dict(alpha=1.0, depth=math.nan), "depth"),
    (dict(alpha=None), "alpha"), (dict(alpha=1.0, log_alpha=0.0), "exactly one"),
    (dict(log_alpha=math.nan), "log_alpha"),
    (dict(alpha=1.0, tol=-1.0), "tol"), (dict(alpha=1.0, tol=math.nan), "tol"), (dict(alpha=1.0, tol="a"), "tol"),
    (dict(alpha=1.0, max_iter=2.5), "max_iter"), (dict(alpha=1.0, max_iter=-1), "max_iter"),
])
def test_bad_parameters(kwargs, match):
    X, y = _random_problem(0)
    with pytest.raises(InvalidInputError, match=match):
        implicit_bias_solution(X, y, **kwargs)


def test_bad_arrays():
    X, y = _random_problem(0)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    for f in (implicit_bias_solution, min_l1_interpolator, min_l2_interpolator):
        kw = {"alpha": 1.0} if f is implicit_bias_solution else {}
        with pytest.raises(InvalidInputError, match="non-finite"):
            f(Xn, y, **kw)
        with pytest.raises(InvalidInputError, match="shape"):
            f(X, y[:2], **kw)
        with pytest.raises(InvalidInputError, match="range of X"):
            f(np.vstack([X[:2], X[:1]]), y, **kw)  # row 3 = row 1, y_3 != y_1: inconsistent
    # n >= d and inconsistent: named as such
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidInputError, match="not underdetermined"):
        implicit_bias_solution(rng.standard_normal((6, 4)), rng.standard_normal(6), 1.0)
    with pytest.raises(InvalidInputError, match="scale"):
        shaped_potential_solution(X, y, -np.ones(7), np.zeros(7))
    with pytest.raises(InvalidInputError, match="tilt"):
        shaped_potential_solution(X, y, np.ones(7), np.zeros(3))
    with pytest.raises(InvalidInputError, match="max_iter"):
        shaped_potential_solution(X, y, np.ones(7), np.zeros(7), max_iter=True)
    with pytest.raises(InvalidInputError, match="support_tol"):
        min_l1_interpolator(X, y, support_tol=math.nan)
    with pytest.raises(InvalidInputError, match="margin_tol"):
        min_l1_interpolator(X, y, margin_tol=-1e-9)
    assert issubclass(InvalidInputError, ValueError)


# ---------------------------------------------------------------------------------------------
# far outside the float range
# ---------------------------------------------------------------------------------------------
def test_log_alpha_minus_1000_d2_reaches_the_rich_bound(problem_cases):
    for prob in problem_cases["problems"]:
        X, y = np.array(prob["X"], float), np.array(prob["y"], float)
        la = -1000.0
        r = implicit_bias_solution(X, y, depth=2, log_alpha=la)
        assert r.success and np.all(np.isfinite(r.x))
        assert r.primal_residual < 1e-12
        l1 = float(prob["min_l1"]["l1_norm"])
        B = l1
        d = X.shape[1]
        # THEORY.md s3 (Theorem 2, rich): the smallest eps for which alpha = e^-1000 satisfies
        # alpha <= min{(2(1+eps)B)^(-(2+eps)/(2 eps)), exp(-d/(eps B))} guarantees
        # ||beta_alpha||_1 <= (1 + eps) B.  Find it by bisection on log alpha.
        def ok(eps):
            return (la <= -(2 + eps) / (2 * eps) * math.log(2 * (1 + eps) * B)) and (la <= -d / (eps * B))
        lo, hi = 1e-9, float(d)
        for _ in range(100):
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        assert ok(hi)
        assert np.sum(np.abs(r.x)) <= (1 + hi) * B
        assert np.sum(np.abs(r.x)) >= B * (1 - 1e-12)  # no interpolator beats min-l1
        # with a strict certificate margin m, off-support coordinates are ~ exp(-2000 m) and the
        # support solves X_S b = y: the solution equals beta*_l1 to rounding (1e-12 relative).
        if prob["min_l1"]["unique"] and prob["min_l1"]["strict_dual_certificate_margin"] > 0.05:
            assert _rel(r.x, _arr(prob["min_l1"]["beta"])) < 1e-12


# ---------------------------------------------------------------------------------------------
# properties (hypothesis)
# ---------------------------------------------------------------------------------------------
@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), c=st.floats(1e-3, 1e3), log_a=st.floats(-4, 2),
       D=st.sampled_from([2, 3, 4, 2.5]))
def test_scale_covariance_and_oddness(seed, c, log_a, D):
    # THEORY.md s3 (derived): beta_alpha(X, c y) = c beta_{alpha c^(-1/D)}(X, y); beta(-y) = -beta(y)
    X, y = _random_problem(seed, n=3, d=6)
    r1 = implicit_bias_solution(X, c * y, depth=D, log_alpha=log_a)
    r2 = implicit_bias_solution(X, y, depth=D, log_alpha=log_a - math.log(c) / D)
    assert r1.success and r2.success
    e = min(r1.info.get("edge", 1.0), r2.info.get("edge", 1.0))
    # both solves are accurate to ~eps cond / edge; 1e-9 + 1e3 eps / edge covers the edge cases
    assert _rel(r1.x, c * r2.x) < 1e-9 + 1e3 * EPS / e
    r3 = implicit_bias_solution(X, -y, depth=D, log_alpha=log_a)
    # the iteration is sign-symmetric step by step: -y gives exactly the mirrored iterates
    assert np.array_equal(r3.x, -implicit_bias_solution(X, y, depth=D, log_alpha=log_a).x)


def test_result_object_and_torch_input():
    torch = pytest.importorskip("torch")
    X, y = _random_problem(2)
    r = implicit_bias_solution(torch.tensor(X), torch.tensor(y), 0.5, 3)
    r0 = implicit_bias_solution(X, y, 0.5, 3)
    assert isinstance(r, InterpolationResult) and np.array_equal(r.x, r0.x)
    assert r.beta is r.x
    assert "implicit_bias" in repr(r) and "kkt_residual" in r.summary()
    with pytest.raises(Exception):
        r.success = False  # frozen


# ---------------------------------------------------------------------------------------------
# asymptotic regimes (D > 2 rich side, every D kernel side) and the private log-space forms
# ---------------------------------------------------------------------------------------------
def test_tiny_alpha_depth3_uses_asymptotic_l1_regime(problem_cases):
    for prob in problem_cases["problems"]:
        X, y = np.array(prob["X"], float), np.array(prob["y"], float)
        l1 = prob["min_l1"]
        for D in (3, 4):
            r = implicit_bias_solution(X, y, depth=D, log_alpha=-1000.0)
            assert r.success and r.info["regime"] == "asymptotic-l1" and np.all(np.isfinite(r.x))
            assert r.info["edge"] == 0.0 and r.info["log_edge"] < -600  # edge below float range
            assert r.kkt_residual < 1e-13
            # unique LP with a strict certificate: beta_alpha -> beta*_l1 and the model error
            # (e/margin)^p is 0 in float: the answer is beta*_l1 to rounding (1e-13 relative)
            if l1["unique"]:
                assert _rel(r.x, _arr(l1["beta"])) < 1e-13


def test_asymptotic_and_direct_newton_agree_in_the_overlap():
    # D = 4, alpha = 3e-4: edge ~1e-7, so the direct Newton is good to ~eps/e ~ 2e-9 and the limit
    # model to (e/margin)^2 ~ 1e-12; they are different algorithms and must agree to 1e-8.
    from krtheory.solvers.implicit import _asymptotic_l1
    from krtheory.solvers.models import _PowerModel
    from krtheory.solvers.newton import _dual_newton, _ray_start

    X, y = _random_problem(5, n=4, d=9, k=2)
    D, la = 4.0, math.log(3e-4)
    a = _asymptotic_l1(X, y, D, la, 1e-12, 200)
    model = _PowerModel(D, la)
    nu, u, beta, nit, status, msg = _dual_newton(X, y, model, 1e-12, 200, _ray_start(X, y, model, np.linalg.pinv(X) @ y))
    assert a.success and status == "converged"
    assert 1e-9 < 1 - np.max(np.abs(u)) < 1e-6
    assert _rel(a.x, beta) < 1e-8


def test_asymptotic_regime_splits_duplicated_columns_equally():
    X, y = _random_problem(21, n=3, d=6, k=2)
    j = int(np.argmax(np.abs(min_l1_interpolator(X, y).x)))
    X2 = np.hstack([X, X[:, [j]]])
    r = implicit_bias_solution(X2, y, depth=3, log_alpha=-500.0)
    assert r.success and r.info["regime"] == "asymptotic-l1" and not r.info["lp_unique"]
    # the alpha -> 0 limit of Q_alpha^D is the equal split (THEORY.md s8), not the LP vertex
    assert abs(r.x[j] - r.x[-1]) <= 1e-14 * abs(r.x[j]) and r.x[j] != 0.0
    merged = r.x[:-1].copy()
    merged[j] += r.x[-1]
    lp0 = min_l1_interpolator(X, y)
    assert _rel(merged, lp0.x) < 1e-12  # the pair carries the weight of the unique original


def test_huge_alpha_uses_asymptotic_l2_regime():
    X, y = _random_problem(8)
    l2 = min_l2_interpolator(X, y).x
    for D in (2, 3, 4.5):
        r = implicit_bias_solution(X, y, depth=D, log_alpha=800.0)
        assert r.success and r.info["regime"] == "asymptotic-l2"
        # relative correction O(u^2) = e^-3000: beta is the min-l2 interpolator to rounding
        assert _rel(r.x, l2) < 1e-15
        # continuity with the Newton regime below the switch (|u| ~ e^-20 there, O(u^2) ~ 4e-18):
        r2 = implicit_bias_solution(X, y, depth=D, log_alpha=20.0 / D)
        assert r2.info["regime"] == "newton" and _rel(r2.x, l2) < 1e-12


def test_private_power_forms_match_numeric_potential():
    # the solver's log-space forms of h_D, h_D', H_D (needed for alpha^D outside the float
    # range) against krtheory.numeric.potential, written independently by another engineer.
    import krtheory.numeric as numeric
    from krtheory.solvers.models import _PowerModel

    a = np.concatenate([np.linspace(0.0, 0.99, 34)[1:], 1.0 - np.logspace(-3, -12, 10)])
    for D in (2.5, 3.0, 4.0, 7.0):
        P, M = numeric.potential(D), _PowerModel(D, 0.0)
        for mine, theirs in ((M.log_h(a), P.link(a)), (M.log_dh(a), P.link_derivative(a)),
                             (M.log_H(a), P.conjugate(a)), (M.log_h(a), P.link_from_edge(1 - a, 1.0)),
                             (M.log_H(a), P.conjugate_from_edge(1 - a))):
            # log values up to ~30 carry eps*30 absolute error: 1e-13 relative on the values
            assert np.max(np.abs(np.expm1(mine - np.log(theirs)))) < 1e-13


def test_shaped_potential_with_zero_y_and_tilt_is_not_zero():
    # y = 0 with phi != 0: beta(0) = 2 c sinh(phi) is not feasible; the minimizer is the tilted
    # point of the null space of X (beta != 0), checked by the 50-digit Newton of this file.
    X, _ = _random_problem(13, n=3, d=6)
    rng = np.random.default_rng(2)
    c, phi = np.ones(6), rng.uniform(-1, 1, 6)
    r = shaped_potential_solution(X, np.zeros(3), c, phi)
    assert r.success and np.max(np.abs(r.x)) > 0.1
    with mp.workdps(50):
        pm = [mp.mpf(v) for v in phi]
        ref = _mp_dual_newton(X, np.zeros(3), lambda i, u: 2 * mp.sinh(u + pm[i]),
                              lambda i, u: 2 * mp.cosh(u + pm[i]), r.dual)
    assert np.max(np.abs(r.x - ref)) < 1e-13  # |beta| ~ 1, cond(X) ~ 10: rounding only


def test_d2_far_rich_side_limit_model_agrees_with_direct_log_space_newton(problem_cases):
    # log_alpha = -1000: the public solver uses the D = 2 limit model (regime asymptotic-l1);
    # the log-space Newton on the full dual must land on the same point (different algorithms).
    from krtheory.solvers.models import _ExpModel
    from krtheory.solvers.newton import _dual_newton, _ray_start

    for prob in problem_cases["problems"]:
        X, y = np.array(prob["X"], float), np.array(prob["y"], float)
        r = implicit_bias_solution(X, y, depth=2, log_alpha=-1000.0)
        assert r.info["regime"] == "asymptotic-l1" and r.info["model_error"] <= EPS
        model = _ExpModel(-2000.0, 0.0)
        nu, u, beta, nit, status, msg = _dual_newton(X, y, model, 1e-12, 300,
                                                     _ray_start(X, y, model, np.linalg.pinv(X) @ y))
        assert status == "converged"
        # direct: u ~ 2000 carries eps * 2000 absolute error, i.e. ~5e-13 relative in beta
        assert _rel(beta, r.x) < 5e-12
        # and "beyond": log_alpha = -1e6 is the same limit point, still finite and feasible
        r6 = implicit_bias_solution(X, y, depth=2, log_alpha=-1e6)
        assert r6.success and np.all(np.isfinite(r6.x)) and _rel(r6.x, r.x) < 1e-13


def test_dot2_is_twice_working_precision():
    # Dot2 (Ogita-Rump-Oishi) against the exact rational dot product: error ~ eps^2 * sum|x_i v_i|
    from fractions import Fraction

    from krtheory.solvers.models import _dot2_cols

    rng = np.random.default_rng(9)
    X = rng.standard_normal((7, 5))
    v = rng.standard_normal(7)
    v[-1] = 0.0
    # make column 0 nearly cancel: its exact dot is tiny compared with its terms
    X[-1, 0] = 0.0
    v[-1] = 1.0
    X[-1, 0] = -float(sum(Fraction(a) * Fraction(b) for a, b in zip(X[:-1, 0], v[:-1])))
    hi, lo = _dot2_cols(X, v)
    for j in range(5):
        exact = sum(Fraction(a) * Fraction(b) for a, b in zip(X[:, j], v))
        terms = float(sum(abs(Fraction(a) * Fraction(b)) for a, b in zip(X[:, j], v)))
        assert abs(float(Fraction(hi[j]) + Fraction(lo[j]) - exact)) <= 10 * EPS**2 * terms


def test_d2_small_margin_far_rich_side_warm_starts_from_the_limit_point():
    # certificate margin 4e-4 at L = 3000: the limit model is not exact (off-support weights
    # exp(-L m) ~ e^-1 matter), so the log-space Newton finishes from the limit point.  Reference:
    # the same problem's log-space Newton run from the ray start with many more iterations.
    from krtheory.solvers.models import _ExpModel
    from krtheory.solvers.newton import _dual_newton, _ray_start

    rng = np.random.default_rng(1)
    X = rng.standard_normal((11, 80))
    rng.choice(80, 3, replace=False), rng.standard_normal(3)  # (draws kept: they fix this instance)
    y = X @ rng.standard_normal(80)
    assert min_l1_interpolator(X, y).info["margin"] < 1e-3
    r = implicit_bias_solution(X, y, depth=2, log_alpha=-1500.0)
    assert r.success and r.info["regime"] == "newton" and r.kkt_residual < 1e-12
    model = _ExpModel(-3000.0, 0.0)
    nu, u, beta, nit, status, msg = _dual_newton(X, y, model, 1e-12, 3000, _ray_start(X, y, model, np.linalg.pinv(X) @ y))
    assert status == "converged"
    assert _rel(r.x, beta) < 1e-10  # two log-space runs, u ~ 3000: ~eps * 3000 * cond each


# ---------------------------------------------------------------------------------------------
# robustness: extreme scales (exact power-of-two normalization), D -> 2, the final sanity check
# ---------------------------------------------------------------------------------------------
def _srel(a, b):
    # relative error without squaring entries near 1e300 (np.linalg.norm would overflow)
    m = float(np.max(np.abs(b)))
    return _rel(np.asarray(a) / m, np.asarray(b) / m)


def _attack_problem():
    # the reported setup: a 1-sparse planted beta (its own min-l1 solution: strict certificate)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 8))
    b = np.zeros(8)
    b[0] = 1.0
    return X, X @ b, b


@pytest.mark.parametrize("D", [2, 3])
@pytest.mark.parametrize("c", [1e170, 1e200])
def test_huge_y_follows_scale_covariance(D, c):
    # reported: y * 1e170 returned success with x = 0 (||y||^2 overflowed). Reference: THEORY.md s3
    # beta_alpha(X, c y) = c beta_{alpha c^(-1/D)}(X, y), solved at an O(1) scale. Both solves are
    # accurate to ~1e-14 (test_q_minimizers_match_shared_cases), c is not a power of two, so the
    # two normalized problems differ by rounding only: 1e-12 relative.
    X, y, _ = _attack_problem()
    r = implicit_bias_solution(X, y * c, alpha=0.1, depth=D)
    ref = implicit_bias_solution(X, y, log_alpha=math.log(0.1) - math.log(c) / D, depth=D)
    assert r.success and ref.success, r.message
    assert np.all(np.isfinite(r.x)) and np.max(np.abs(r.x)) > 0.1 * c
    assert _srel(r.x, c * ref.x) < 1e-12
    assert r.primal_residual < 1e-12 and math.isfinite(r.kkt_residual)


@pytest.mark.parametrize("D", [2, 3, 2.5])
@pytest.mark.parametrize("Xs,ys", [(1e-200, 1.0), (1e150, 1.0), (1e250, 1.0), (1.0, 1e-250), (1e-100, 1e200)])
def test_extreme_scales_dense_problem_identity_and_dual(D, Xs, ys):
    # beta_alpha(a X, b y) = (b/a) beta_{alpha (b/a)^(-1/D)}(X, y) with the reference solved at
    # alpha' = 0.3, where the minimizer is dense and the Newton regime is used; the dual maps
    # so that u = X^T nu is unchanged (beta = alpha^D h_D(u)). Tolerances as above (1e-12);
    # u is determined by a Newton solve with conditioning ~1e2 here: 1e-10 absolute on |u| <= 1.
    X, _, _ = _attack_problem()
    y = X @ np.random.default_rng(5).standard_normal(8)
    s = ys / Xs
    la_ref = math.log(0.3)
    r = implicit_bias_solution(X * Xs, y * ys, log_alpha=la_ref + math.log(s) / D, depth=D)
    ref = implicit_bias_solution(X, y, log_alpha=la_ref, depth=D)
    assert r.success and r.nit < 30, r.message  # X * 1e-200 used to stop at 200 iterations
    assert _srel(r.x, s * ref.x) < 1e-12
    assert np.max(np.abs((X * Xs).T @ r.dual - X.T @ ref.dual)) < 1e-10
    assert r.primal_residual < 1e-12


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), kx=st.integers(-250, 250), ky=st.integers(-250, 250),
       log_a=st.floats(-3, 2), D=st.sampled_from([2, 3, 2.5]))
def test_scale_identity_property(seed, kx, ky, log_a, D):
    # beta_alpha(10^kx X, 10^ky y) = 10^(ky-kx) beta_{alpha'}(X, y), log alpha' = log alpha -
    # (ky - kx) log(10) / D, for every representable answer (|ky - kx| <= 250 keeps |beta| < 1e260);
    # powers of ten are not exact, so both solves differ by rounding: 1e-12 + 1e3 eps / edge as in
    # test_scale_covariance_and_oddness. info reports the user's log_alpha.
    X, y = _random_problem(seed, n=3, d=6)
    s = 10.0 ** (ky - kx)
    la_big = log_a + (ky - kx) * math.log(10.0) / D
    r = implicit_bias_solution(X * 10.0 ** kx, y * 10.0 ** ky, log_alpha=la_big, depth=D)
    ref = implicit_bias_solution(X, y, log_alpha=log_a, depth=D)
    assert r.success and ref.success, r.message
    e = min(r.info.get("edge", 1.0), ref.info.get("edge", 1.0))
    assert _srel(r.x, s * ref.x) < 1e-12 + 1e3 * EPS / e
    shift = (r.info["log2_scale_y"] - r.info["log2_scale_X"]) * math.log(2.0) / D
    assert r.info["log_alpha"] == la_big and math.isclose(r.info["solved_log_alpha"], la_big - shift,
                                                          rel_tol=1e-15, abs_tol=1e-13)
    assert r.primal_residual < 1e-12
    l1 = min_l1_interpolator(X * 10.0 ** kx, y * 10.0 ** ky)
    assert l1.success and math.isclose(l1.info["l1_norm"], s * min_l1_interpolator(X, y).info["l1_norm"],
                                       rel_tol=1e-12)


def test_tiny_X_rich_side_matches_identity():
    # reported: X * 1e-200 at alpha = 0.1 stopped after 200 iterations with overflow warnings.
    # X beta = y with X -> X / c is y -> c y, then scale covariance as above (1e-12 relative)
    X, y, _ = _attack_problem()
    c = 1e200
    r = implicit_bias_solution(X / c, y, alpha=0.1)
    ref = implicit_bias_solution(X, y, log_alpha=math.log(0.1) - math.log(c) / 2)
    assert r.success and _srel(r.x, c * ref.x) < 1e-12


def test_overflowing_answer_is_an_error():
    # beta ~ 1e100 / 1e-300 = 1e400 is not a float64: an error naming it, never inf/0 returned
    X, y, _ = _attack_problem()
    Xs, ys = X * 1e-300, y * 1e100
    for solve in (lambda: implicit_bias_solution(Xs, ys, alpha=0.1),
                  lambda: implicit_bias_solution(Xs, ys, alpha=0.1, depth=3),
                  lambda: min_l1_interpolator(Xs, ys), lambda: min_l2_interpolator(Xs, ys),
                  lambda: shaped_potential_solution(Xs, ys, np.ones(8), np.zeros(8))):
        with pytest.raises(InvalidInputError, match="interpolator x would overflow float64"):
            solve()


@pytest.mark.parametrize("Xs,ys", [(1e150, 1.0), (1e200, 1.0), (1e-150, 1.0), (1.0, 1e250), (1e-100, 1e-200)])
def test_min_l1_extreme_scales(Xs, ys):
    # reported: HiGHS "model error" at X * 1e150 / 1e200 and "infeasible" at X * 1e-150.
    # Reference: the planted 1-sparse b, certified the unique min-l1 solution on the unscaled
    # problem; beta_l1(a X, b y) = (b/a) beta_l1(X, y) (exactly: polished on the support by a
    # least-squares solve, rounding only: 1e-13). Certificate: X^T lambda is scale-free.
    X, y, b = _attack_problem()
    assert min_l1_interpolator(X, y).info["unique"]
    r = min_l1_interpolator(X * Xs, y * ys)
    assert r.success and r.info["unique"], r.message
    assert _srel(r.x, (ys / Xs) * b) < 1e-13
    z = (X * Xs).T @ r.dual
    assert abs(z[0] - 1.0) < 1e-12 and np.max(np.abs(z)) <= 1 + 1e-12
    assert math.isclose(r.info["l1_norm"], ys / Xs, rel_tol=1e-13)
    assert r.kkt_residual < 1e-12


def test_min_l2_extreme_scales():
    # reference: numpy's pseudo-inverse of the unscaled X (an SVD, formed independently), scaled
    # by the exact identity beta_l2(a X, b y) = (b/a) beta_l2(X, y); 1e-13 relative (cond(X) ~ 5)
    X, y, _ = _attack_problem()
    ref = np.linalg.pinv(X) @ y
    for Xs, ys in [(1e150, 1.0), (1.0, 1e300), (1e-200, 1.0), (1.0, 1e-300)]:
        r = min_l2_interpolator(X * Xs, y * ys)
        assert r.success and math.isfinite(r.kkt_residual) and r.primal_residual < 1e-14
        assert _srel(r.x, (ys / Xs) * ref) < 1e-13
        if r.dual is None:  # X * 1e-200: nu = X^+T beta ~ 1e400, kept in scaled form
            assert Xs == 1e-200 and "dual omitted" in r.message
            nu = r.info["dual_normalized"]
            assert np.all(np.isfinite(nu)) and r.info["dual_log2_scale"] > 1024
        else:
            assert _srel((X * Xs).T @ r.dual, r.x) < 1e-13


def test_shaped_potential_extreme_y_scale():
    # the objective is 1-homogeneous in (beta, c): beta(X, s y; c, phi) = s beta(X, y; c / s, phi)
    X, y, _ = _attack_problem()
    rng = np.random.default_rng(3)
    c, phi = np.exp(rng.standard_normal(8)), 0.3 * rng.standard_normal(8)
    s = 1e170
    r = shaped_potential_solution(X, y * s, c * s, phi)
    ref = shaped_potential_solution(X, y, c, phi)
    assert r.success and _srel(r.x, s * ref.x) < 1e-12


def test_depth_next_to_two():
    # reported: depth = 2.0000001 raised a raw OverflowError (2^p with p = D / (D - 2) ~ 2e7).
    # Every D > 2 works now, down to the smallest float above 2 (D - 2 = 4.4e-16, p = 4.5e15);
    # below 2 is invalid. The D > 2 code (power link in u, a different model from the D = 2
    # exponential one) must converge to the D = 2 answer: beta(D) - beta(2) = O(D - 2).
    X, _, _ = _attack_problem()
    y = X @ np.random.default_rng(5).standard_normal(8)
    D_min = float(np.nextafter(2.0, 3.0))
    with pytest.raises(InvalidInputError, match="depth"):
        implicit_bias_solution(X, y, alpha=0.1, depth=float(np.nextafter(2.0, 1.0)))
    for la in (math.log(0.1), -1000.0):
        b2 = implicit_bias_solution(X, y, log_alpha=la, depth=2)
        r = implicit_bias_solution(X, y, log_alpha=la, depth=D_min)
        assert b2.success and r.success, r.message
        # D - 2 = 4e-16: only solver error remains; both are ~1e-14 accurate at alpha = 0.1 and
        # ~eps * |log alpha^2| = 4e-13 at log_alpha = -1000 (package docstring): 1e-11
        assert _srel(r.x, b2.x) < (1e-12 if la > -10 else 1e-11)
    # first order in D - 2: the difference quotients at 1e-5 and 1e-8 agree to O(1e-5) (the
    # second-order term) + solver error / 1e-8 (~1e-6): 1e-4 relative
    b2 = implicit_bias_solution(X, y, alpha=0.1, depth=2).x
    g = [(implicit_bias_solution(X, y, alpha=0.1, depth=2 + h).x - b2) / h for h in (1e-5, 1e-8)]
    assert _srel(g[1], g[0]) < 1e-4 and np.linalg.norm(g[0]) > 1e-3


def test_edge_switch_is_finite_as_depth_tends_to_two():
    # edge_switch(D) = 0.1 (eps 2^p)^(1/(p+1)) from mpmath at 30 digits (2^p overflows float64
    # for p > 1024, i.e. D - 2 < 2e-3); a log-space float64 formula is good to ~p eps relative
    from krtheory.solvers import edge_switch
    for D in (3.0, 4.0, 2.001, 2 + 1e-7, float(np.nextafter(2.0, 3.0))):
        with mp.workdps(30):
            p = mp.mpf(D) / (mp.mpf(D) - 2)
            ref = float(mp.mpf("0.1") * (mp.mpf(EPS) * mp.power(2, p)) ** (1 / (p + 1)))
        assert math.isclose(edge_switch(D), ref, rel_tol=1e-13)


def test_result_constructor_sanity_check():
    # a claim of convergence must agree with the numbers: a non-finite residual or x withdraws it
    r = InterpolationResult(x=np.array([np.nan, 1.0, np.inf]), success=True,
                            message="||X beta - y|| <= tol ||y|| (tol = 1e-12)", nit=3,
                            kkt_residual=float("nan"), primal_residual=float("nan"))
    assert not r.success and np.array_equal(r.x, [0.0, 1.0, 0.0])
    assert "tol ||y||" not in r.message and "x had 2 non-finite" in r.message
    assert "primal_residual = nan" in r.message and r.primal_residual == math.inf
    r = InterpolationResult(x=np.ones(2), success=True, message="ok", nit=1, kkt_residual=math.inf,
                            primal_residual=0.0)
    assert not r.success and "kkt_residual = inf" in r.message
    ok = InterpolationResult(x=np.ones(2), success=True, message="ok", nit=1, kkt_residual=1e-16,
                             primal_residual=1e-16, dual=np.zeros(1))
    assert ok.success and ok.message == "ok"
    failed = InterpolationResult(x=np.zeros(2), success=False, message="HiGHS failed", nit=0,
                                 kkt_residual=math.inf, primal_residual=1.0)
    assert failed.message == "HiGHS failed"  # an honest failure is left alone


def test_complex_input_is_rejected():
    X, y, _ = _attack_problem()
    for solve in (lambda A: implicit_bias_solution(A, y, alpha=0.1), min_l1_interpolator_y(y),
                  lambda A: min_l2_interpolator(A, y),
                  lambda A: shaped_potential_solution(A, y, np.ones(8), np.zeros(8))):
        with pytest.raises(InvalidInputError, match="real"):
            solve(X + 1j)
    with pytest.raises(InvalidInputError, match="real"):
        implicit_bias_solution(X, y + 0j, alpha=0.1)


def min_l1_interpolator_y(y):
    return lambda A: min_l1_interpolator(A, y)


def test_power_log_forms_near_depth_two_match_mpmath():
    # D -> 2: p = D / (D - 2) and k = 2 / (D - 2) are huge, so p artanh(a) passes 710 (sinh,
    # cosh overflow) at small a. Reference: mpmath at 40 digits from the closed forms of
    # THEORY.md s4, h = (1-a)^-p - (1+a)^-p, h' = p[(1-a)^-(p+1) + (1+a)^-(p+1)],
    # H = ((D-2)/2)[(1-a)^-k + (1+a)^-k - 2]. The float64 logs carry ~eps * (p a) absolute
    # error from rounding p and a (values of log up to ~1e4 here): 1e-12 relative on log values.
    from krtheory.solvers.models import _PowerModel

    for D in (2 + 1e-3, 2 + 1e-5, 2 + 1e-7):
        M = _PowerModel(D, 0.0)
        a = np.array([1e-9, 1e-6, 3e-4, 0.01, 0.2, 0.45]) * min(1.0, 1e4 * (D - 2) / D)
        for ai, lh, ldh, lH in zip(a, M.log_h(a), M.log_dh(a), M.log_H(a)):
            with mp.workdps(40):
                Dm, am = mp.mpf(D), mp.mpf(ai)
                p, k = Dm / (Dm - 2), 2 / (Dm - 2)
                ref_h = mp.log((1 - am) ** -p - (1 + am) ** -p)
                ref_dh = mp.log(p * ((1 - am) ** -(p + 1) + (1 + am) ** -(p + 1)))
                ref_H = mp.log((Dm - 2) / 2 * ((1 - am) ** -k + (1 + am) ** -k - 2))
            for mine, ref in ((lh, ref_h), (ldh, ref_dh), (lH, ref_H)):
                assert math.isfinite(mine)
                assert abs(mine - float(ref)) <= 1e-12 * max(1.0, abs(float(ref))), (D, ai)


@pytest.mark.parametrize("tag, D, alpha", [("sparse-regression", 4.0, 1e-3), ("depth-threshold", 3.0, 1.73e-5)])
def test_edge_just_above_switch_warm_starts_from_the_limit_point(tag, D, alpha):
    # Regression: the Fig. 1 / depth-threshold instances (n = 100, d = 1000, seed 0) with support
    # edges 1.5e-6 / 2.3e-5, just above where the asymptotic-l1 model is accepted (edge_switch)
    # and a small certificate margin (5e-3 / 1e-3).  From the ray start the direct Newton needed
    # 225 > max_iter steps (success=False, KKT 7e-3 / 0.34); it now restarts from the limit point.
    import hashlib

    from krtheory.reproduce.problems import sparse_regression_problem

    # the generator RunContext(seed=0).rng(tag) builds (stable sha256 of the tag)
    words = [0, int.from_bytes(hashlib.sha256(tag.encode()).digest()[:4], "little")]
    P = sparse_regression_problem(100, 1000, 5, 0.01, np.random.default_rng(words))
    r = implicit_bias_solution(P.X, P.y, alpha=alpha, depth=D)
    assert r.success and r.info["regime"] == "newton", r.message
    assert r.primal_residual < 1e-12  # the requested tol
    # independent check of stationarity: beta = alpha^D ((1 - u)^-p - (1 + u)^-p), u = X^T nu, in
    # plain float64.  Rounding of u (~10 eps) next to the edge e >= 1.5e-6 costs p 10 eps / e < 2e-8
    p = D / (D - 2.0)
    u = P.X.T @ r.dual
    assert np.max(np.abs(u)) < 1.0
    ref = alpha ** D * ((1.0 - u) ** -p - (1.0 + u) ** -p)
    assert _rel(r.x, ref) < 2e-8
    # this close to the edge beta is l1-optimal to ~1e-9 (the converged gradient flow on the
    # Fig. 1 instance: excess 9.8e-10); the LP optimum is a lower bound up to its rounding
    l1 = min_l1_interpolator(P.X, P.y).info["l1_norm"]
    excess = float(np.sum(np.abs(r.x))) / l1 - 1.0
    assert -1e-12 < excess < 1e-8
