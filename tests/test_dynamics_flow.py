"""Tests of krtheory.dynamics.gradient_flow against independent references.

References: the D = 2 closed-form limit through a small Newton solve of the dual written here
(not krtheory.solvers), the 32-digit minimizers of ../shared/cases, scipy's Radau, the flow's
conserved invariant recomputed from the returned weights, and exact algebraic identities.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from krtheory._validation import InvalidInputError
from krtheory.dynamics import gradient_flow, width_flow


def dual_newton_d2(X, y, scale, tilt, log_scale=None, nu0=None, _return_nu=False):
    """argmin sum_i c_i q(b_i/c_i) - phi_i b_i s.t. X b = y (D = 2), via its dual (THEORY.md s2).

    Dual: min_nu sum_i 2 c_i cosh((X^T nu)_i + phi_i) - <nu, y>; beta = 2 c sinh(X^T nu + phi).
    ``c`` may be given as ``log_scale`` (c = 1e-200 needs |u| ~ 460, where cosh overflows unless
    it is formed as exp(log c + |u|)). Damped Newton to a gradient of ~1e-15: independent of the
    package's solver.
    """
    n = X.shape[0]
    lc = np.log(scale) if log_scale is None else log_scale
    if np.min(lc) < -20 and nu0 is None:
        # continuation in log c (warm starts): Newton from nu = 0 overshoots at extreme scales
        nu0 = np.zeros(n)
        for l in np.arange(0.0, float(np.min(lc)), -20.0):
            nu0 = dual_newton_d2(X, y, None, tilt, log_scale=np.maximum(lc, l), nu0=nu0, _return_nu=True)
    nu = np.zeros(n) if nu0 is None else nu0.copy()

    def two_c_sinh(u):
        return np.exp(lc + u) - np.exp(lc - u)

    def two_c_cosh(u):
        return np.exp(lc + u) + np.exp(lc - u)

    def f(nu):
        # a trial point of the line search may overflow to inf: that rejects it, as intended
        with np.errstate(over="ignore"):
            return np.sum(two_c_cosh(X.T @ nu + tilt)) - nu @ y

    for _ in range(500):
        u = X.T @ nu + tilt
        g = X @ two_c_sinh(u) - y
        if np.linalg.norm(g) < 1e-15 * max(1.0, np.linalg.norm(y)):
            break
        Hm = (X * two_c_cosh(u)) @ X.T
        step = np.linalg.solve(Hm, g)
        t, f0 = 1.0, f(nu)
        while not f(nu - t * step) <= f0 - 0.25 * t * (g @ step) and t > 1e-12:
            t /= 2
        if t <= 1e-12:  # no further decrease representable: converged to rounding
            break
        nu = nu - t * step
    return nu if _return_nu else two_c_sinh(X.T @ nu + tilt)


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(20261203)
    X = rng.standard_normal((4, 9))
    beta = np.zeros(9)
    beta[[2, 6]] = [1.0, -0.6]
    return X, X @ beta


def test_d2_limit_matches_dual_newton_batched_over_alpha(small_problem):
    X, y = small_problem
    alphas = np.array([1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0])
    r = gradient_flow(X, y, alphas, 2)
    assert r.beta.shape == (6, 9) and np.all(r.success), r.message
    for b, a in enumerate(alphas):
        ref = dual_newton_d2(X, y, np.full(9, a * a), np.zeros(9))
        # target of the issue is 1e-6; the integrator at rtol 1e-10 lands ~1e-10 away (measured),
        # so 1e-8 leaves two orders for platform differences.
        assert rel(r.beta[b], ref) < 1e-8, (a, rel(r.beta[b], ref))


def padded_batch(problems):
    """Stack problems of different (n, d) by zero-padding rows and columns.

    A zero column never moves (its gradient X^T r is 0) and a zero row with y = 0 adds nothing to
    the loss, so every padded problem has exactly the original flow on its own coordinates.
    """
    n = max(len(p["y"]) for p in problems)
    d = max(len(p["X"][0]) for p in problems)
    Xs, ys = np.zeros((len(problems), n, d)), np.zeros((len(problems), n))
    for b, p in enumerate(problems):
        X = np.array(p["X"])
        Xs[b, : X.shape[0], : X.shape[1]] = X
        ys[b, : X.shape[0]] = p["y"]
    return Xs, ys


def test_shared_cases_all_depths(problem_cases):
    """Flow limits vs the 32-digit Q-minimizers of ../shared/cases (D = 2, 3, 4).

    One padded batch per depth over the issue's alpha range (D in {2, 3}: the cases' 1e-2..1e2;
    D = 4: 1e-2..1e2; D = 2 also 1e-4).
    """
    worst = {}
    for D in (2, 3, 4):
        items = [(p, q) for p in problem_cases["problems"] for q in p["Q_minimizers"]
                 if q["D"] == D and not q["extra_alpha"] and q["alpha"] >= (1e-4 if D == 2 else 1e-2)]
        Xs, ys = padded_batch([p for p, _ in items])
        r = gradient_flow(Xs, ys, np.array([q["alpha"] for _, q in items]), D)
        assert np.all(r.success), r.message
        for b, (p, q) in enumerate(items):
            ref = np.array([float(v) for v in q["beta"]])
            worst[(p["name"], D, q["alpha"])] = rel(r.beta[b, : ref.size], ref)
            assert np.all(r.beta[b, ref.size:] == 0)
    # issue target: 1e-6 relative. Measured worst ~3e-10 (see benchmarks/DYNAMICS.md).
    bad = {k: v for k, v in worst.items() if v > 1e-6}
    assert not bad, bad


def test_batched_equals_single(small_problem):
    X, y = small_problem
    rng = np.random.default_rng(1)
    Xb = np.stack([X, rng.standard_normal((4, 9))])
    yb = np.stack([y, Xb[1] @ rng.standard_normal(9)])
    rb = gradient_flow(Xb, yb, np.array([0.3, 2.0]), 3)
    r0 = gradient_flow(Xb[0], yb[0], 0.3, 3)
    r1 = gradient_flow(Xb[1], yb[1], 2.0, 3)
    # per-problem step sizes and masking: each problem follows exactly its own step sequence,
    # so the batched run reproduces the single runs up to a few ulps of batched matmul order.
    assert rel(rb.beta[0], r0.beta) < 1e-12 and rel(rb.beta[1], r1.beta) < 1e-12
    assert rb.steps[0] == r0.steps and rb.steps[1] == r1.steps
    assert isinstance(r0.status, str) and r0.beta.shape == (9,)


def test_invariant_recomputed_from_weights(small_problem):
    X, y = small_problem
    r2 = gradient_flow(X, y, 0.1, 2)
    # D = 2: w+ w- = alpha^2 exactly along the flow; recomputed here from the returned weights.
    assert np.max(np.abs(r2.w_plus * r2.w_minus / 0.01 - 1)) < 1e-9
    assert r2.invariant_drift < 1e-9
    r3 = gradient_flow(X, y, 0.1, 3)
    inv = r3.w_plus ** -1.0 + r3.w_minus ** -1.0   # w^(2-D), D = 3: 2/alpha
    assert np.max(np.abs(inv / 20.0 - 1)) < 1e-8
    # and the reconstruction beta = w+^3 - w-^3 from the weights
    assert rel(r3.w_plus ** 3 - r3.w_minus ** 3, r3.beta) < 1e-9


def test_against_scipy_radau_stiff_case():
    """Raw-parameter ODE in scipy Radau (rtol 1e-12) vs the engine, at a fixed time.

    D = 3, alpha = 0.05, support smaller than n: the tail is stiff and the engine switches to its
    stiff method (measured at t ~ 290) before T = 600.
    """
    from scipy.integrate import solve_ivp

    rng = np.random.default_rng(7)
    X = rng.standard_normal((5, 8))
    bs = np.zeros(8)
    bs[1] = 1.0
    y = X @ bs
    y = y + X @ (0.05 * rng.standard_normal(8))
    a, D, T = 0.05, 3, 600.0

    def f(t, w):
        wp, wm = w[:8], w[8:]
        g = X.T @ (X @ (wp ** 3 - wm ** 3) - y)
        return np.concatenate([-2 * 3 * wp ** 2 * g, 2 * 3 * wm ** 2 * g])

    def jac(t, w):
        wp, wm = w[:8], w[8:]
        beta = wp ** 3 - wm ** 3
        g = X.T @ (X @ beta - y)
        G = X.T @ X
        m = np.concatenate([3 * wp ** 2, -3 * wm ** 2])
        bb = np.concatenate([3 * wp ** 2, -3 * wm ** 2])
        J = -2 * m[:, None] * np.block([[G, G], [G, G]]) * bb[None, :]
        J[np.diag_indices(16)] += -2 * np.concatenate([6 * wp * g, -6 * wm * g])
        return J

    sol = solve_ivp(f, (0, T), np.full(16, a), method="Radau", rtol=1e-12, atol=1e-16, jac=jac)
    wT = sol.y[:, -1]
    ref = wT[:8] ** 3 - wT[8:] ** 3
    r = gradient_flow(X, y, a, D, t_max=T, tol=0.0)
    assert r.status == "time-limit" and abs(r.time - T) < 1e-9 * T
    assert "lie-extrap" in r.method
    # both integrators at tight tolerances; their local errors accumulate over ~1e3 steps:
    # 1e-7 relative on beta(T) is ~1e3 times their tolerances.
    assert rel(r.beta, ref) < 1e-7
    assert rel(np.concatenate([r.w_plus, r.w_minus]), wT) < 1e-7


def test_loss_normalizations_rescale_time(small_problem):
    X, y = small_problem
    rs = gradient_flow(X, y, 0.3, 2, loss="sum")
    rh = gradient_flow(X, y, 0.3, 2, loss="half")
    rm = gradient_flow(X, y, 0.3, 2, loss="mean")
    # same curve in parameter space; the limit agrees to the integrator's accuracy
    assert rel(rh.beta, rs.beta) < 1e-8 and rel(rm.beta, rs.beta) < 1e-8
    # time to reach the tolerance scales with 1/c: c = 2, 1, 2/n (n = 4). Different step
    # sequences stop at slightly different losses, hence 5 %.
    assert rh.time / rs.time == pytest.approx(2.0, rel=0.05)
    assert rm.time / rs.time == pytest.approx(4.0, rel=0.05)
    assert rs.loss_normalization == "sum" and rh.loss == pytest.approx(0.5 * np.sum((X @ rh.beta - y) ** 2), rel=1e-6)


def test_general_init_shaped_limit(small_problem):
    """init=(u, v): the limit is argmin sum c q(b/c) - phi b with c = alpha^2 u v, phi = ln(u/v)."""
    X, y = small_problem
    rng = np.random.default_rng(3)
    u, v = np.exp(0.3 * rng.standard_normal(9)), np.exp(0.3 * rng.standard_normal(9))
    a = 0.2
    r = gradient_flow(X, y, a, 2, init=(u, v))
    ref = dual_newton_d2(X, y, a * a * u * v, np.log(u / v))
    assert r.success and rel(r.beta, ref) < 1e-8


def test_coordinates_agree_and_raw_floor(small_problem):
    X, y = small_problem
    rl = gradient_flow(X, y, 0.5, 3, coordinates="log")
    rd = gradient_flow(X, y, 0.5, 3, coordinates="delta")
    rr = gradient_flow(X, y, 0.5, 3, coordinates="raw")
    assert rel(rd.beta, rl.beta) < 1e-8 and rel(rr.beta, rl.beta) < 1e-8
    # trap (b): at alpha = 100, D = 4, beta = w+^4 - w-^4 formed from w ~ 100 cancels: the raw
    # run cannot reach 1e-20 and must stop at its floor, while the
    # log coordinates converge. Reference for both: the D = 2-style expectation that alpha = 100
    # is deep in the kernel regime, beta ~ X^+ y within ~alpha^(-2D) = 1e-16.
    big_log = gradient_flow(X, y, 100.0, 4, coordinates="log")
    big_raw = gradient_flow(X, y, 100.0, 4, coordinates="raw", max_steps=5000)
    bl2 = np.linalg.pinv(X) @ y
    assert big_log.status == "converged" and rel(big_log.beta, bl2) < 1e-9
    assert big_raw.status in ("plateau", "step-limit") and not big_raw.success
    assert rel(big_raw.beta, bl2) > 1e-3
    # the floor is (eps D alpha^D ||X||)^2-sized (THEORY.md s10): >= 1e6 above the log run's loss
    assert big_raw.loss > 1e6 * big_log.loss
    assert big_raw.loss < (1e3 * 2.2e-16 * 4 * 100.0 ** 4 * np.linalg.norm(X, 2)) ** 2


def test_zero_target_and_tiny_alpha(small_problem):
    X, y = small_problem
    r = gradient_flow(X, np.zeros(4), 0.1, 2)
    assert r.status == "converged" and r.time == 0.0 and np.all(r.beta == 0)
    # alpha = 1e-100 only through log-weights; D = 2 limit -> close to min-l1 (here the sparse
    # generator, recovered): compare with the dual Newton at alpha^2 = 1e-200.
    r = gradient_flow(X, y, log_alpha=math.log(1e-100), depth=2)
    ref = dual_newton_d2(X, y, None, np.zeros(9), log_scale=np.full(9, 2 * math.log(1e-100)))
    assert r.success and rel(r.beta, ref) < 1e-7
    assert np.all(np.isfinite(r.log_w_plus)) and r.log_w_plus.min() < -200


def test_step_count_grows_like_log_inverse_alpha(small_problem):
    """D = 3: time to fit grows like 1/alpha, the step count only like log(1/alpha)."""
    X, y = small_problem
    alphas = np.array([1e-2, 1e-4, 1e-6])
    r = gradient_flow(X, y, alphas, 3, tol=1e-12)
    assert np.all(r.success)
    assert r.time[2] / r.time[0] > 1e3  # the plateau time scale alpha^-(D-2) is really there
    # each factor 100 in alpha adds O(log) steps: far below the 1e4-fold growth of the time.
    assert r.steps[2] < 3 * r.steps[0], r.steps


def test_history_and_rate(small_problem):
    X, y = small_problem
    r = gradient_flow(X, y, 1.0, 2, history=16)
    t, L = r.history
    assert len(t) <= 16 and t[0] == 0.0 and t[-1] == r.time and L[-1] == pytest.approx(r.loss)
    assert np.all(np.diff(t) > 0)
    # L(0) = sum y^2 for the sum loss at beta(0) = 0
    assert L[0] == pytest.approx(float(y @ y), rel=1e-14)
    assert r.rate > 0


def test_time_limit_reports_rate_not_success(small_problem):
    X, y = small_problem
    r = gradient_flow(X, y, 0.01, 3, t_max=50.0)
    assert r.status == "time-limit" and not r.success
    assert "not converged" in r.message


def test_width_flow_invariant_and_limit(small_problem):
    X, y = small_problem
    rng = np.random.default_rng(11)
    k, s = 3, 0.3
    U0, V0 = s * rng.standard_normal((9, k)), s * rng.standard_normal((9, k))
    r = width_flow(X, y, U0, V0)
    assert r.success and r.w_plus.shape == (9, k)
    assert rel(X @ r.beta, y) < 1e-9
    assert rel(np.sum(r.w_plus * r.w_minus, -1), r.beta) < 1e-13
    assert np.max(np.abs((r.w_plus ** 2 - r.w_minus ** 2) - (U0 ** 2 - V0 ** 2))) < 1e-8
    # THEORY.md s7: the limit is the shaped-potential minimizer with c = sqrt(A B),
    # phi = ln(A/B)/2, A = |U+V|^2/4, B = |U-V|^2/4 (computed here, not by the engine).
    A = np.sum((U0 + V0) ** 2, -1) / 4
    Bq = np.sum((U0 - V0) ** 2, -1) / 4
    ref = dual_newton_d2(X, y, np.sqrt(A * Bq), 0.5 * np.log(A / Bq))
    assert rel(r.beta, ref) < 1e-7


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=-1.0), "alpha"),
    (dict(alpha=np.nan), "alpha"),
    (dict(alpha=1.0, depth=1.5), "depth"),
    (dict(alpha=1.0, loss="l2"), "loss"),
    (dict(alpha=1.0, method="rk4"), "method"),
    (dict(alpha=1.0, coordinates="polar"), "coordinates"),
    (dict(alpha=1.0, device=3), "device"),
    (dict(alpha=1.0, init=(np.ones(9), -np.ones(9))), "init"),
    (dict(alpha=1.0, init=(np.ones(3), np.ones(3))), "init"),
    (dict(alpha=1.0, rtol=0.0), "rtol"),
    (dict(alpha=np.ones(3), X=np.ones((2, 4, 9))), "alpha"),
])
def test_bad_inputs(small_problem, kwargs, match):
    X, y = small_problem
    kw = dict(kwargs)
    Xa = kw.pop("X", X)
    ya = y if Xa.ndim == 2 else np.ones(Xa.shape[:2])
    with pytest.raises(InvalidInputError, match=match):
        gradient_flow(Xa, ya, **kw)


def test_bad_problem_data():
    with pytest.raises(InvalidInputError, match="non-finite"):
        gradient_flow(np.array([[1.0, np.inf]]), np.array([1.0]), 1.0)
    with pytest.raises(InvalidInputError, match="range"):
        gradient_flow(np.ones((3, 2)), np.array([1.0, 2.0, 3.0]), 1.0)
    with pytest.raises(InvalidInputError, match="shape"):
        gradient_flow(np.ones((3, 5)), np.ones(4), 1.0)


def test_independent_of_derivations_and_solvers(small_problem):
    """Run the engine in a subprocess where importing symbolic/numeric/solvers fails."""
    code = textwrap.dedent("""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                for bad in ("krtheory.symbolic", "krtheory.numeric", "krtheory.solvers", "sympy"):
                    if name == bad or name.startswith(bad + "."):
                        raise ImportError("blocked: " + name)
                return None
        sys.meta_path.insert(0, Block())
        import numpy as np
        import krtheory.dynamics as dyn
        X = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]); y = np.array([1.0, -0.5])
        r = dyn.gradient_flow(X, y, 0.1, 3)
        g = dyn.gradient_descent(X, y, 1.0, 2)
        assert r.success and g.success
        assert not any(m.startswith(("krtheory.symbolic", "krtheory.numeric", "krtheory.solvers")) for m in sys.modules)
        print("OK", float(np.abs(X @ r.beta - y).max()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK")


def test_history_times_match_scipy_trajectory(small_problem):
    """Every recorded (t, L) lies on the true trajectory (scipy DOP853 at rtol 1e-13).

    Guards the time bookkeeping of accepted steps (t must advance by the step actually taken),
    which the limit alone cannot see.
    """
    from scipy.integrate import solve_ivp

    X, y = small_problem
    a, D = 0.7, 3
    r = gradient_flow(X, y, a, D, method="dopri5", tol=1e-16)
    t, L = r.history
    d = X.shape[1]

    def f(_, w):
        wp, wm = w[:d], w[d:]
        g = X.T @ (X @ (wp ** D - wm ** D) - y)
        return np.concatenate([-2 * D * wp ** (D - 1) * g, 2 * D * wm ** (D - 1) * g])

    sol = solve_ivp(f, (0, t[-1]), np.full(2 * d, a), method="DOP853", rtol=1e-13, atol=1e-15, t_eval=t)
    Lref = np.array([np.sum((X @ (w[:d] ** D - w[d:] ** D) - y) ** 2) for w in sol.y.T])
    # the residual is a difference of states: a state error ~rtol |s| = 1e-10 becomes a relative
    # loss error ~1e-10 / ||r||. Compare where L > 1e-4 L(0) (||r|| >~ 1e-2: <= 1e-8 expected);
    # a time/state mismatch by one step would show as ~kappa h ~ 1e-2.
    m = Lref > 1e-4 * Lref[0]
    assert m.sum() > 10
    assert np.max(np.abs(L[m] / Lref[m] - 1)) < 1e-6


def test_no_drift_along_interpolators_at_the_floor(small_problem):
    """Trap (c): once the loss sits at its floor, continuing the flow must not move beta.

    With the gradient formed as X^T(X beta - y) the residual's rounding noise has no systematic
    component along the interpolating set; (X^T X) beta - X^T y would drift it (THEORY.md s10).
    """
    X, y = small_problem
    r1 = gradient_flow(X, y, 0.2, 3)
    r2 = gradient_flow(X, y, 0.2, 3, tol=0.0, t_max=1e7)
    assert r1.status == "converged" and r2.status in ("stagnated", "time-limit")
    assert r2.time > 1e4 * r1.time
    # beta at the floor is determined to ~1e-10 by the integrator; no drift beyond that
    assert rel(r2.beta, r1.beta) < 1e-9


def test_progress_callable_receives_counts(small_problem):
    X, y = small_problem
    seen = []
    r = gradient_flow(X, y, np.array([0.5, 2.0]), 2, progress=seen.append)
    assert r.success.all() and seen
    assert all(s["total"] == 2 and 0 <= s["done"] <= 2 for s in seen)
    assert [s["iteration"] for s in seen] == sorted(s["iteration"] for s in seen)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=6)
@given(seed=st.integers(0, 2 ** 31 - 1), D=st.sampled_from([2, 3]), la=st.floats(-2.0, 1.0),
       c=st.floats(0.2, 5.0))
def test_scale_covariance_property(seed, D, la, c):
    """THEORY.md s3: beta_alpha(X, c y) = c * beta_{alpha c^(-1/D)}(X, y), for every depth.

    Both sides come from one batched call (two problems); the identity is exact for the flow
    (w -> c^(1/D) w maps one trajectory onto the other with time rescaled), so the limits agree
    to the integrator's accuracy (~1e-10; 1e-7 allowed).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 6))
    y = X @ rng.standard_normal(6)
    a = 10.0 ** la
    r = gradient_flow(np.stack([X, X]), np.stack([c * y, y]), np.array([a, a * c ** (-1.0 / D)]), D)
    assert np.all(r.success), r.message
    assert rel(r.beta[0], c * r.beta[1]) < 1e-7


def test_all_methods_reach_the_same_limit(small_problem):
    X, y = small_problem
    ref = dual_newton_d2(X, y, np.full(9, 0.09), np.zeros(9))
    # lie-extrap at rtol 1e-10 lands ~1e-10 from the limit; ros2 (order 2) is run at
    # rtol 1e-7, which bounds its path error to ~1e-6 (for D = 2 the limit is even insensitive
    # to path errors that keep s+ = -s- in range(X^T), which every RK step does)
    # (dopri5 alone is not run to the end here: this problem's tail is stiff for it, which is the
    # point of "auto"; it is compared along its trajectory in the history test)
    for method, rtol, tol_ in (("lie-extrap", 1e-10, 1e-8), ("ros2", 1e-7, 1e-5)):
        r = gradient_flow(X, y, 0.3, 2, method=method, rtol=rtol, progress=True if method == "ros2" else None)
        assert r.success and rel(r.beta, ref) < tol_, (method, rel(r.beta, ref))
        assert r.method == method
