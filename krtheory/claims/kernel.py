"""K: the kernel (lazy) regime (THEORY.md s5).

- ``K-tangent``: the tangent kernel at w+ = w- = alpha 1 is K(x, x') = 2 D^2 alpha^{2(D-1)} <x, x'>
  (witness: torch autograd Jacobian of f(w, x) = <w+^D - w-^D, x>; when the symbolic layer
  provides ``formulas["tangent_kernel"]`` its factor is compared too).
- ``K-movement``: relative parameter movement ||w(inf) - w(0)|| / ||w(0)|| = Theta(alpha^{-D}).
- ``K-kernel-change``: relative tangent-kernel change ||K(inf) - K(0)||_F / ||K(0)||_F = Theta(alpha^{-2D})
  (the first-order change cancels under unbiased init).
- ``K-linearized``: the linearized model's flow converges to beta*_l2 (witness:
  ``krtheory.dynamics.linearized_flow`` when the engine provides it, else scipy's Radau on the
  linear ODE).
- ``K-gap``: max_t ||w(t) - w_lin(t)|| / ||w(0)|| = Theta(alpha^{-2D}) (witness: scipy's DOP853
  in delta-coordinates at rtol 1e-12 against the linearized flow in closed form; the engine's
  ``lazy_distance`` has an accuracy floor of ~3e-7 in this quantity (measured at alpha = 8, 16 for
  D = 2), which would bend the slope; its value at the smallest alpha is reported next to scipy's).

Predictions for movement and kernel change (derived here): the flow conserves w+ w- (D = 2) or
w+^{2-D} + w-^{2-D} (D > 2) and ends at beta_alpha = argmin Q_alpha^D, so each coordinate's end
point solves the invariant and w+^D - w-^D = beta_alpha,i. With w+- = alpha (1 + x+-), D > 2:
(1 + x+-)^{2-D} = 1 -+ t, t = h_D^{-1}(beta_i / alpha^D); D = 2: log(1 + x+-) = +- asinh(beta_i / (2 alpha^2)) / 2.
The flow's measured quantities (from its log-weights, so no digits are lost to w = alpha (1 + O(alpha^-D)))
must match these to 1e-6 relative, and their log-log slopes over alpha must be -D and -2D.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from krtheory import strategies as kst
from krtheory.claims import problems as P
from krtheory.claims.base import Claim, SubCheck, evidence
from krtheory.claims.flows import FlowRequest, flow, flow_note, rel_dist, solve
from krtheory.claims.registry import register
from krtheory.strategies import Instance

K_ALPHAS = {2: (4.0, 8.0, 16.0), 3: (2.0, 4.0, 8.0)}


def _slope(x, y):
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


# ---------------------------------------------------------------------------------------- K-tangent
def _symbolic_kernel_factor(D: float, alpha: float):
    """The symbolic layer's tangent-kernel factor at (D, alpha), or None if it does not provide one."""
    try:
        from krtheory.symbolic import derive
    except ImportError:
        return None
    try:
        expr = derive(D).formulas.get("tangent_kernel")
    except Exception:  # noqa: BLE001 - the symbolic layer's own tests report its failures
        return None
    if expr is None:
        return None
    subs = {}
    for s in expr.free_symbols:
        if s.name.startswith("alpha") or s.name == "a":
            subs[s] = alpha
        elif s.name == "D":
            subs[s] = D
    val = expr.subs(subs)
    return float(val) if not val.free_symbols else None


def _tangent_check(inst: Instance, ctx, *, alpha_factor: float = 1.0):
    import torch

    p, D, a = inst.problem, inst.depth, inst.alpha
    X = torch.as_tensor(np.array(p.X), dtype=torch.float64)
    w0 = torch.full((2 * p.d,), a, dtype=torch.float64)

    def f(w):
        return X @ (w[: p.d] ** D - w[p.d:] ** D)

    J = torch.autograd.functional.jacobian(f, w0)  # (n, 2d)
    K_emp = (J @ J.T).numpy()
    factor = 2.0 * D * D * (a * alpha_factor) ** (2.0 * (D - 1.0))
    K_pred = factor * (p.X @ p.X.T)
    subs = [SubCheck("||K_autograd - 2 D^2 alpha^{2(D-1)} X X^T||_F / ||.||_F",
                     float(np.linalg.norm(K_emp - K_pred) / np.linalg.norm(K_pred)), 1e-13)]
    # the symbolic derivation is cached per depth; a new real depth costs ~14 s of SymPy, so the
    # symbolic factor is compared at the integer depths the other claims derive anyway
    sym = _symbolic_kernel_factor(D, a * alpha_factor) if D in (2.0, 3.0, 4.0) else None
    if sym is not None:
        subs.append(SubCheck("|symbolic factor / claimed factor - 1|", abs(sym / factor - 1.0), 1e-13))
    return evidence(subs, metrics={"symbolic_checked": sym is not None})


register(Claim(
    id="K-tangent",
    title="tangent kernel at init = 2 D^2 alpha^{2(D-1)} <x, x'>",
    statement="At w+ = w- = alpha 1 the tangent kernel of f(w, x) = <w+^D - w-^D, x> is the scaled linear kernel "
              "K(x, x') = 2 D^2 alpha^{2(D-1)} <x, x'> (8 alpha^2 <x, x'> for D = 2).",
    source="derived",
    reference="THEORY.md s5",
    strategy=kst.instances(kst.problems(n=(1, 5), d=(2, 10)), kst.alphas(0.1, 10.0), kst.depths(real=(2.0, 5.0))),
    default_examples=lambda seed: tuple(Instance.make(P.sparse(seed), alpha=a, depth=D, label=f"sparse-D{D}-a{a:g}")
                                        for D in (2, 3, 2.5) for a in (0.7, 1.3)),
    check=_tangent_check,
    tolerance_reason="autograd and the formula agree to rounding (a few ulp of the entries of X X^T): 1e-13",
    mutation=lambda i, c: _tangent_check(i, c, alpha_factor=1.01),
    mutation_description="formula evaluated at alpha * 1.01",
))


# ---------------------------------------------------------------------------------------- movement / kernel change
def _log1p_x_from_beta(b: np.ndarray, a: float, D: float):
    """(log(w+/alpha), log(w-/alpha)) on the invariant manifold with w+^D - w-^D = b (per coordinate)."""
    if D == 2:
        s = np.arcsinh(b / (2.0 * a * a)) / 2.0
        return s, -s
    from krtheory.numeric import potential

    t = np.asarray(potential(D).link_inverse(b / a ** D), dtype=float)  # h_D(t) = b / alpha^D
    return np.log1p(-t) / (2.0 - D), np.log1p(t) / (2.0 - D)


def _movement(lp, lm):
    """||w - alpha 1|| / ||alpha 1|| from log(w/alpha), without cancellation."""
    d = lp.size
    return float(math.sqrt(np.sum(np.expm1(lp) ** 2 + np.expm1(lm) ** 2) / (2 * d)))


def _kernel_change(X, lp, lm, D):
    k = 0.5 * (np.expm1((2 * D - 2) * lp) + np.expm1((2 * D - 2) * lm))
    return float(np.linalg.norm((X * k) @ X.T) / np.linalg.norm(X @ X.T))


def _lazy_check(inst: Instance, ctx, *, quantity: str, alpha_factor: float = 1.0):
    p, D = inst.problem, inst.depth
    alphas = K_ALPHAS[int(D)]
    meas, pred, notes = [], [], []
    for a in alphas:
        res = flow(ctx, p, alpha=a, depth=D)
        notes.append(flow_note(res))
        la = math.log(a)
        lp = np.asarray(res.log_w_plus, dtype=float) - la
        lm = np.asarray(res.log_w_minus, dtype=float) - la
        bq = solve(ctx, p, log_alpha=la, depth=D).x
        qp, qm = _log1p_x_from_beta(bq, a * alpha_factor, D)
        if quantity == "movement":
            meas.append(_movement(lp, lm))
            pred.append(_movement(qp, qm))
        else:
            meas.append(_kernel_change(p.X, lp, lm, D))
            pred.append(_kernel_change(p.X, qp, qm, D))
    meas, pred = np.asarray(meas), np.asarray(pred)
    order = D if quantity == "movement" else 2 * D
    slope = _slope(alphas, meas)
    subs = [SubCheck(f"max relative |measured - predicted| {quantity}", float(np.max(np.abs(meas / pred - 1.0))), 1e-6),
            SubCheck(f"|log-log slope + {order:g}|", abs(slope + order), 0.05)]
    return evidence(subs, flows=notes, metrics={"slope": slope, "measured": meas.tolist(), "predicted": pred.tolist()})


def _lazy_defaults(seed):
    return tuple(Instance.make(p, depth=D, label=f"{n}-D{D}")
                 for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed))) for D in (2, 3))


def _lazy_reqs(inst):
    return [FlowRequest(inst.problem, a, inst.depth) for a in K_ALPHAS[int(inst.depth)]]


_LAZY_STRATEGY = st.builds(lambda p, D: Instance.make(p, depth=D), kst.problems(n=(2, 4), d=(3, 8)), kst.depths((2, 3)))
_LAZY_REASON = ("the end point on the invariant manifold is exact given beta_alpha, so measured and predicted agree to "
                "the flow's accuracy (1e-6, measured ~1e-9); slopes over alpha in [4, 16] (D = 2) / [2, 8] (D = 3) "
                "are within 0.05 of the exponent (the next order is relatively O(alpha^-D))")

register(Claim(
    id="K-movement",
    title="lazy training: movement Theta(alpha^-D)",
    statement="The relative movement ||w(inf) - w(0)|| / ||w(0)|| of the flow is Theta(alpha^{-D}) as alpha -> inf, and "
              "equals the movement to the invariant-manifold point with beta = argmin Q_alpha^D.",
    source="derived",
    reference="THEORY.md s5",
    strategy=_LAZY_STRATEGY,
    default_examples=_lazy_defaults,
    check=lambda i, c: _lazy_check(i, c, quantity="movement"),
    tolerance_reason=_LAZY_REASON,
    mutation=lambda i, c: _lazy_check(i, c, quantity="movement", alpha_factor=1.01),
    mutation_description="prediction at alpha * 1.01",
    flow_requests=_lazy_reqs,
))

register(Claim(
    id="K-kernel-change",
    title="lazy training: kernel change Theta(alpha^-2D)",
    statement="The relative change of the tangent kernel, ||K(inf) - K(0)||_F / ||K(0)||_F, is Theta(alpha^{-2D}) "
              "(its first-order change cancels under unbiased initialization).",
    source="derived",
    reference="THEORY.md s5",
    strategy=_LAZY_STRATEGY,
    default_examples=_lazy_defaults,
    check=lambda i, c: _lazy_check(i, c, quantity="kernel"),
    tolerance_reason=_LAZY_REASON,
    mutation=lambda i, c: _lazy_check(i, c, quantity="kernel", alpha_factor=1.01),
    mutation_description="prediction at alpha * 1.01",
    flow_requests=_lazy_reqs,
))


# ---------------------------------------------------------------------------------------- linearized model
def _lin_matrix(p, a, D):
    """A = X J_beta with J_beta = D alpha^{D-1} [I, -I]: the linearized model is beta_lin = J_beta delta_w."""
    return D * a ** (D - 1) * np.hstack([p.X, -p.X])


def _linearized_limit_scipy(p, a, D, c=2.0):
    """Integrate the linearized model's flow d(delta_w)/dt = -c A^T (A delta_w - y) (sum loss: c = 2)
    with scipy's Radau to 40 times its slowest time constant; return beta_lin(T)."""
    from scipy.integrate import solve_ivp

    A = _lin_matrix(p, a, D)
    K = A @ A.T
    lam_min = float(np.linalg.eigvalsh(c * K)[0])
    T = 40.0 / lam_min
    G, h = c * (A.T @ A), c * (A.T @ p.y)
    sol = solve_ivp(lambda t, x: h - G @ x, (0.0, T), np.zeros(2 * p.d), method="Radau", jac=-G,
                    rtol=1e-12, atol=1e-14 * max(1.0, float(np.abs(h).max()) / lam_min))
    if not sol.success:
        raise RuntimeError(f"scipy Radau failed on the linearized flow: {sol.message}")
    dw = sol.y[:, -1]
    return D * a ** (D - 1) * (dw[: p.d] - dw[p.d:]), "scipy Radau (rtol 1e-12)"


def _linearized_limit(ctx, p, a, D):
    try:
        from krtheory.dynamics import linearized_flow
    except ImportError:
        return ctx.memo(("lin-scipy", p.key, a, D), lambda: _linearized_limit_scipy(p, a, D))
    res = ctx.memo(("lin", p.key, a, D, ctx.device), lambda: linearized_flow(p.X, p.y, a, D, device=ctx.device))
    b = np.asarray(res.beta_limit, dtype=float)
    return (b[0] if b.ndim == 2 else b), "krtheory.dynamics.linearized_flow"


def _linearized_check(inst: Instance, ctx, *, metric_tilt: float = 0.0):
    p, D, a = inst.problem, inst.depth, inst.alpha
    b_lin, witness = _linearized_limit(ctx, p, a, D)
    # prediction: min-l2 interpolator; the mutation tilts the metric, argmin ||W b|| with W = diag(1 + tilt i/d)
    w = 1.0 + metric_tilt * np.arange(p.d) / p.d
    Xw = p.X / w ** 2
    pred = Xw.T @ np.linalg.solve(p.X @ Xw.T, p.y)
    return evidence([SubCheck("||b_linearized(inf) - b*_l2|| / ||b*_l2||", rel_dist(b_lin, pred), 1e-8)],
                    metrics={"witness": witness})


register(Claim(
    id="K-linearized",
    title="linearized (kernel) model's flow -> beta*_l2",
    statement="The flow of the model linearized at w+ = w- = alpha 1 (kernel K = 2 D^2 alpha^{2(D-1)} X X^T) "
              "converges to the min-l2 interpolator X^+ y, for every alpha and D.",
    source="derived",
    reference="THEORY.md s5",
    strategy=kst.instances(kst.problems(n=(1, 5), d=(2, 10)), kst.alphas(0.3, 3.0), kst.depths((2, 3, 4))),
    default_examples=lambda seed: tuple(Instance.make(p, alpha=a, depth=D, label=f"{n}-D{D}-a{a:g}")
                                        for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed)))
                                        for D, a in ((2, 1.0), (3, 0.7))),
    check=_linearized_check,
    tolerance_reason="the linear flow is integrated to 40 slowest time constants (residual e^-40) at rtol 1e-12: 1e-8",
    mutation=lambda i, c: _linearized_check(i, c, metric_tilt=0.01),
    mutation_description="prediction = min-norm interpolator in a metric tilted by up to 1%",
))


# ---------------------------------------------------------------------------------------- trajectory gap
def _gap_scipy(p, a, D, c=2.0, n_times=200):
    """max_t ||w(t) - w_lin(t)|| / ||w(0)||: true flow integrated by scipy DOP853 in delta-coordinates
    w = alpha (1 + delta) (THEORY.md s5: storing w directly bends the D = 3 slope), linearized flow in
    closed form through the eigen-decomposition of its kernel."""
    from scipy.integrate import solve_ivp

    X, y, d = p.X, p.y, p.d
    aD = a ** D

    def beta(dp, dm):
        return aD * (np.expm1(D * np.log1p(dp)) - np.expm1(D * np.log1p(dm)))

    def rhs(t, s):
        dp, dm = s[:d], s[d:]
        # a rejected trial stage may step past delta = -1 (NaN); the integrator then shrinks the step
        with np.errstate(invalid="ignore"):
            g = X.T @ (X @ beta(dp, dm) - y)
            k = c * D * a ** (D - 2)
            return np.concatenate([-k * np.exp((D - 1) * np.log1p(dp)) * g, k * np.exp((D - 1) * np.log1p(dm)) * g])

    A = _lin_matrix(p, a, D)
    lam, V = np.linalg.eigh(c * (A @ A.T))
    T = 30.0 / lam[0]
    times = np.concatenate([[0.0], np.geomspace(1e-3 / lam[-1], T, n_times)])
    sol = solve_ivp(rhs, (0.0, T), np.zeros(2 * d), method="DOP853", t_eval=times, rtol=1e-12, atol=1e-16)
    if not sol.success:
        raise RuntimeError(f"scipy DOP853 failed on the true flow: {sol.message}")
    # linearized: delta_w(t) = A^T K^{-1} (I - exp(-c K t)) y  (in units of alpha: divide by alpha)
    Vy = V.T @ y
    gaps = []
    for j, t in enumerate(sol.t):
        dw = A.T @ (V @ ((1.0 - np.exp(-lam * t)) / (lam / c) * Vy)) / a
        gaps.append(np.linalg.norm(sol.y[:, j] - dw))
    return float(np.max(gaps) / math.sqrt(2 * d)), "scipy DOP853 in delta-coordinates (rtol 1e-12)"


def _gap(ctx, p, a, D):
    return ctx.memo(("gap-scipy", p.key, a, D), lambda: _gap_scipy(p, a, D))


def _engine_gap(ctx, p, a, D):
    """The dynamics engine's own measurement (``lazy_distance``), or None if it has none."""
    try:
        from krtheory.dynamics import lazy_distance
    except ImportError:
        return None
    res = ctx.memo(("lazy", p.key, a, D, ctx.device), lambda: lazy_distance(p.X, p.y, a, D, device=ctx.device))
    return float(np.max(np.asarray(res.trajectory_gap)))


GAP_ALPHAS = {2: (4.0, 8.0, 16.0), 3: (2.0, 4.0, 8.0)}


def _gap_check(inst: Instance, ctx, *, exponent_factor: float = 1.0):
    p, D = inst.problem, inst.depth
    alphas = GAP_ALPHAS[int(D)]
    vals = [_gap(ctx, p, a, D) for a in alphas]
    gaps = [v[0] for v in vals]
    slope = _slope(alphas, gaps)
    order = -2 * D * exponent_factor
    subs = [SubCheck(f"|log-log slope of the trajectory gap - ({order:g})|", abs(slope - order), 0.05)]
    metrics = {"slope": slope, "gaps": gaps, "witness": vals[0][1]}
    eng = _engine_gap(ctx, p, alphas[0], D)
    if eng is not None:
        # reported, not judged: the engine's lazy_distance agrees with scipy to 1e-10 .. 2e-5 relative
        # at the smallest alpha (the two take the max over different time grids: the engine's accepted
        # steps vs 200 log-spaced times), but has a floor of a few 1e-7 (relative to ||w0||) at
        # larger alpha (measured at alpha = 8, 16, D = 2), which would bend the slope
        metrics["engine_gap_smallest_alpha"] = eng
        metrics["engine_vs_scipy_rel"] = abs(eng / gaps[0] - 1.0)
    return evidence(subs, metrics=metrics)


register(Claim(
    id="K-gap",
    title="lazy training: linearization gap Theta(alpha^-2D)",
    statement="The largest distance between the true and the linearized trajectories, relative to ||w(0)||, "
              "max_t ||w(t) - w_lin(t)|| / ||w(0)||, is Theta(alpha^{-2D}) as alpha -> inf.",
    source="derived",
    reference="THEORY.md s5",
    strategy=st.builds(lambda p, D: Instance.make(p, depth=D), kst.problems(n=(2, 4), d=(3, 8)), kst.depths((2, 3))),
    default_examples=lambda seed: tuple(Instance.make(p, depth=D, label=f"{n}-D{D}")
                                        for n, p in (("sparse", P.sparse(seed)), ("gauss", P.gauss(seed))) for D in (2, 3)),
    check=_gap_check,
    tolerance_reason=("slope over alpha in [4, 16] (D = 2) / [2, 8] (D = 3) within 0.05 of -2D (measured within 2e-4); the next order is "
                      "relatively O(alpha^-D) (measured slopes -4.00 / -6.00 in THEORY.md s5)"),
    mutation=lambda i, c: _gap_check(i, c, exponent_factor=1.1),
    mutation_description="predicted exponent -2D scaled by 1.1 (10%)",
))
