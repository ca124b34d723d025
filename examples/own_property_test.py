"""A property test a user could copy into their own suite (run: pytest examples/own_property_test.py).

It uses the public strategies of krtheory to draw small sparse problems and initialization scales,
integrates the raw-parameter gradient flow, and asserts two facts of the paper:

1. the flow limit is the minimizer of Q_alpha (Theorem 1), compared with the dual-Newton solver;
2. on a sparse problem the flow limit's l1 norm grows with alpha (towards the min-l2 interpolator's),
   i.e. it decreases as alpha decreases (the rich regime, Theorem 2), checked on a pair of scales.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from krtheory import strategies as kst
from krtheory.dynamics import gradient_flow
from krtheory.solvers import implicit_bias_solution


@settings(max_examples=3, deadline=None, derandomize=True, database=None)
@given(kst.problems(n=(2, 4), d=(4, 8), sparsity=(1, 2)), kst.alphas(0.3, 3.0))
def test_flow_is_the_implicit_bias_solution(problem, alpha):
    flow = gradient_flow(problem.X, problem.y, alpha, 2, device="cpu")
    assert flow.success, flow.message
    ref = implicit_bias_solution(problem.X, problem.y, alpha, 2).x
    # the engine's accuracy target is 1e-6 relative (measured ~1e-10)
    assert np.linalg.norm(flow.beta - ref) <= 1e-6 * np.linalg.norm(ref)


@settings(max_examples=3, deadline=None, derandomize=True, database=None)
@given(kst.problems(n=(2, 4), d=(5, 8), sparsity=1), kst.alphas(0.3, 1.0))
def test_l1_norm_decreases_as_alpha_decreases(problem, alpha):
    small, large = alpha, 4 * alpha
    flows = gradient_flow(problem.X, problem.y, np.array([small, large]), 2, device="cpu")
    assert np.all(flows.success)
    l1 = np.abs(flows.beta).sum(axis=1)
    assert l1[0] <= l1[1] * (1 + 1e-9)
