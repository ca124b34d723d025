"""Toy claims for testing the claims framework (not part of the package)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from krtheory import strategies as kst
from krtheory.claims.base import Claim, FlowNote, SubCheck, evidence


def _pinv_check(inst, ctx, *, perturb=1.0):
    # independent: numpy lstsq vs the normal-equations form X^T (X X^T)^{-1} y
    X, y = inst.problem.X, inst.problem.y
    a = np.linalg.lstsq(X, y, rcond=None)[0]
    b = perturb * (X.T @ np.linalg.solve(X @ X.T, y))
    dev = float(np.linalg.norm(a - b) / np.linalg.norm(b))
    # both are backward stable for these well-conditioned Gaussian X: rounding ~1e-15
    return evidence([SubCheck("||lstsq - normal eq|| / ||.||", dev, 1e-10)])


def _defaults(seed):
    return tuple(kst.Instance.make(kst.make_problem(seed + i, 3, 6)) for i in range(2))


TOY_PASS = Claim(
    id="toy-pass", title="toy: two min-norm formulas agree", statement="lstsq(X, y) = X^T (X X^T)^-1 y",
    source="derived", reference="tests", strategy=kst.instances(kst.problems(n=(2, 4), d=(3, 8))),
    default_examples=_defaults, check=_pinv_check, tolerance_reason="rounding of two stable solves",
    mutation=lambda i, c: _pinv_check(i, c, perturb=1.01), mutation_description="scale by 1.01",
)


def _size_check(inst, ctx):
    # false on purpose: "every problem has d < 6"
    return evidence([SubCheck("d - 5", max(0.0, float(inst.problem.d - 5)), 0.0)])


TOY_FAIL = Claim(
    id="toy-fail", title="toy: deliberately false", statement="every problem has d < 6",
    source="unconfirmed", reference="tests",
    strategy=kst.instances(kst.problems(n=(2, 4), d=(3, 12))),
    default_examples=lambda seed: (kst.Instance.make(kst.make_problem(seed, 3, 9), alpha=1.0),),
    check=_size_check, tolerance_reason="exact", mutation=_size_check, mutation_description="none",
)


def _stuck_check(inst, ctx):
    return evidence([SubCheck("dist", 1e-3, 1e-6)],
                    flows=[FlowNote(False, "max_steps", rate=0.02, loss=1e-9, time=100.0)])


TOY_INCONCLUSIVE = Claim(
    id="toy-stuck", title="toy: flow never converges", statement="-", source="derived", reference="tests",
    strategy=st.just(kst.Instance.make(kst.make_problem(0, 2, 4))),
    default_examples=lambda seed: (kst.Instance.make(kst.make_problem(seed, 2, 4)),),
    check=_stuck_check, tolerance_reason="-", mutation=_stuck_check, mutation_description="none",
)
