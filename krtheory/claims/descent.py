"""GD: what finite-step gradient descent converges to (THEORY.md s9, derived).

GD does not conserve the flow invariant (D = 2: each step multiplies w+ w- by 1 - 16 eta^2 g^2),
so its limit is not argmin Q_alpha; it matches the shaped potential with the *end-of-run*
c_i = (w+ w-)_i (phi = 0) much better, and its distance to the flow limit shrinks linearly in the
step. Checked over the steps eta0 / 2, eta0 / 4, eta0 / 8 (eta0 = the engine's default step):

- GD vs flow: log-log slope of ||b_GD(eta) - b_flow|| in eta equals 1 (within 0.1: the O(eta^2)
  term bends it by <= 0.07 over this range, measured on 12 problems);
- GD vs end-of-run-c potential: error O(eta^2), slope 2 within 0.2 (measured <= 0.16), and at the smallest step at
  most 1/10 of the GD vs Q_alpha error (measured 1/50 .. 1/100).

Witnesses: gradient_descent and gradient_flow (dynamics); prediction: shaped_potential_solution.
"""
from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

from krtheory import strategies as kst
from krtheory.claims import problems as P
from krtheory.claims.base import Claim, SubCheck, evidence
from krtheory.claims.flows import FlowRequest, flow, flow_note, rel_dist, solve
from krtheory.claims.registry import register
from krtheory.strategies import Instance

FRACTIONS = (0.5, 0.25, 0.125)


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _gd_check(inst: Instance, ctx, *, scale_factor: float = 1.0):
    from krtheory.dynamics import gradient_descent
    from krtheory.solvers import shaped_potential_solution

    p, a = inst.problem, inst.alpha
    fl = flow(ctx, p, alpha=a, depth=2)
    q = solve(ctx, p, log_alpha=inst.log_alpha, depth=2).x
    eta0 = ctx.memo(("gd-step", p.key, a), lambda: float(gradient_descent(p.X, p.y, a, 2, device=ctx.device, max_steps=1).step_size))
    etas = np.array([eta0 * f for f in FRACTIONS])
    # one batched GD call over the three steps (same problem, same alpha)
    X3, y3 = np.stack([p.X] * 3), np.stack([p.y] * 3)
    gd = ctx.memo(("gd", p.key, a, tuple(etas), ctx.device),
                  lambda: gradient_descent(X3, y3, np.full(3, a), 2, step=etas, device=ctx.device, max_steps=200_000))
    notes = [flow_note(fl)]
    e_flow, e_c, e_q = [], [], []
    for b in range(3):
        ok = bool(np.asarray(gd.success)[b])
        notes.append(type(notes[0])(ok, str(np.asarray(gd.status)[b]), float(np.asarray(gd.rate)[b]),
                                    float(np.asarray(gd.loss)[b])))
        beta = gd.beta[b]
        sc = shaped_potential_solution(p.X, p.y, gd.gd_product[b] * scale_factor, np.zeros(p.d)).x
        e_flow.append(rel_dist(beta, fl.beta))
        e_c.append(rel_dist(beta, sc))
        e_q.append(rel_dist(beta, q))
    s_flow, s_c = _slope(etas, e_flow), _slope(etas, e_c)
    subs = [SubCheck("|slope of ||b_GD - b_flow|| in eta - 1|", abs(s_flow - 1.0), 0.1),
            SubCheck("|slope of ||b_GD - b_c|| in eta - 2|", abs(s_c - 2.0), 0.2),
            SubCheck("err(end-of-run c) / err(Q_alpha) at the smallest step (<= 0.1)", e_c[-1] / e_q[-1], 0.1)]
    return evidence(subs, flows=notes,
                    metrics={"eta0": eta0, "err_vs_flow": e_flow, "err_vs_c": e_c, "err_vs_Q": e_q,
                             "slope_flow": s_flow, "slope_c": s_c})


@st.composite
def _instances(draw):
    p = draw(kst.problems(n=(2, 4), d=(3, 8)))
    return Instance.make(p, alpha=draw(kst.alphas(0.3, 1.0)), depth=2)


register(Claim(
    id="GD",
    title="finite-step GD: end-of-run c, error linear in the step",
    statement="GD's limit matches argmin sum c_i q(beta_i/c_i) with c = (w+ w-)(end) to O(eta^2), much better "
              "than argmin Q_alpha, and its distance to the flow limit is linear in the step eta.",
    source="derived",
    reference="THEORY.md s9",
    strategy=_instances(),
    default_examples=lambda seed: (Instance.make(P.gauss(seed), alpha=0.5, depth=2, label="gauss-a0.5"),
                                   Instance.make(P.sparse(seed), alpha=1.0, depth=2, label="sparse-a1")),
    check=_gd_check,
    tolerance_reason="slopes within 0.1 / 0.2 (the next order bends them by <= 0.07 / <= 0.16 over eta0/2..eta0/8, "
                     "measured on the defaults and 10 drawn problems); ratio <= 0.1 where 0.01-0.02 is measured",
    mutation=lambda i, c: _gd_check(i, c, scale_factor=1.01),
    mutation_description="end-of-run c scaled by 1.01",
    flow_requests=lambda i: [FlowRequest(i.problem, i.alpha, 2.0)],
))
