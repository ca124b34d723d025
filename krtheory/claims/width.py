"""W: the width-k D = 2 model and its shaped potential (THEORY.md s7, an unconfirmed reading).

beta_i = sum_{j <= k} U_ij V_ij from a random init; the flow gives beta_i = A_i e^{-4 s_i} - B_i e^{4 s_i}
with A_i = ||U_i(0) + V_i(0)||^2 / 4, B_i = ||U_i(0) - V_i(0)||^2 / 4, so its limit is the shaped
potential minimizer with c_i = sqrt(A_i B_i), phi_i = (1/2) ln(A_i / B_i).

Witness: :func:`krtheory.dynamics.width_flow` (the model's own parameters U, V); prediction:
:func:`krtheory.solvers.shaped_potential_solution`. Tolerance: relative 1e-6 as for T1 (measured
~1e-11 on the defaults).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from krtheory import strategies as kst
from krtheory.claims import problems as P
from krtheory.claims.base import Claim, SubCheck, evidence
from krtheory.claims.flows import FLOW_MAX_STEPS, flow_note, rel_dist
from krtheory.claims.implicit_bias import FLOW_TOL, FLOW_TOL_REASON
from krtheory.claims.registry import register
from krtheory.strategies import Instance


def _factors(inst: Instance):
    d, k, sigma, seed = inst.problem.d, int(inst.param("k")), float(inst.param("sigma")), int(inst.param("init_seed"))
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, sigma, (d, k)), rng.normal(0.0, sigma, (d, k))


def _width_check(inst: Instance, ctx, *, scale_factor: float = 1.0):
    from krtheory.dynamics import width_flow
    from krtheory.solvers import shaped_potential_solution

    p = inst.problem
    U, V = _factors(inst)
    key = ("width-flow", p.key, int(inst.param("k")), float(inst.param("sigma")), int(inst.param("init_seed")), ctx.device)
    res = ctx.memo(key, lambda: width_flow(p.X, p.y, U, V, device=ctx.device, max_steps=FLOW_MAX_STEPS))
    A = np.sum((U + V) ** 2, axis=1) / 4
    B = np.sum((U - V) ** 2, axis=1) / 4
    c = np.sqrt(A * B) * scale_factor
    phi = 0.5 * np.log(A / B)
    sol = shaped_potential_solution(p.X, p.y, c, phi)
    if not sol.success:
        raise RuntimeError(f"shaped_potential_solution failed: {sol.message}")
    beta0 = np.sum(U * V, axis=1)
    return evidence([SubCheck("||b_width_flow - argmin sum c q(b/c) - phi b|| / ||.||", rel_dist(res.beta, sol.x), FLOW_TOL)],
                    flows=[flow_note(res)],
                    metrics={"beta0_norm": float(np.linalg.norm(beta0)), "mean_c": float(np.mean(c)),
                             "k_sigma2_over_2": int(inst.param("k")) * float(inst.param("sigma")) ** 2 / 2,
                             "max_abs_phi": float(np.max(np.abs(phi)))})


def _defaults(seed):
    return (Instance.make(P.sparse(seed), depth=2, label="sparse-k4-s0.5", k=4, sigma=0.5, init_seed=700 + seed),
            Instance.make(P.gauss(seed), depth=2, label="gauss-k8-s0.3", k=8, sigma=0.3, init_seed=701 + seed))


@st.composite
def _instances(draw):
    p = draw(kst.problems(n=(2, 4), d=(3, 8)))
    return Instance.make(p, depth=2, k=draw(st.integers(1, 8)), sigma=draw(st.sampled_from([0.2, 0.5, 1.0])),
                         init_seed=draw(st.integers(0, 2**31 - 1)))


register(Claim(
    id="W",
    title="width-k D = 2: shaped potential with c = sqrt(AB)",
    statement="For beta_i = sum_j U_ij V_ij from any init, the flow limit is argmin sum_i [c_i q(beta_i/c_i) - "
              "phi_i beta_i] s.t. X beta = y, c_i = sqrt(A_i B_i), phi_i = ln(A_i/B_i)/2, "
              "A_i = ||U_i(0)+V_i(0)||^2/4, B_i = ||U_i(0)-V_i(0)||^2/4.",
    source="unconfirmed",
    reference="THEORY.md s7",
    strategy=_instances(),
    default_examples=_defaults,
    check=_width_check,
    tolerance_reason=FLOW_TOL_REASON,
    mutation=lambda i, c: _width_check(i, c, scale_factor=1.01),
    mutation_description="predict with c * 1.01 (q's argument scaled by 1%)",
))
