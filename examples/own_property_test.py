"""A property test a user could copy into their own suite (run: pytest examples/own_property_test.py).

It uses the public strategies of krtheory to draw small sparse problems and initialization scales,
integrates the raw-parameter gradient flow, and asserts two facts of the paper:

1. the flow limit is the minimizer of Q_alpha (Theorem 1), compared with the dual-Newton solver;
2. the kernel-regime bound of Theorem 2: at alpha = sqrt(2(1+eps)(1+2/eps)||beta*_l2||) the flow's
   limit has ||beta||^2 <= (1+eps)||beta*_l2||^2. (A tempting "the l1 norm decreases as alpha
   decreases" is not a theorem: ||beta_alpha||_1 need not be monotone in alpha.)
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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
@given(kst.problems(n=(2, 4), d=(5, 8), sparsity=1), st.sampled_from([0.1, 0.5, 1.0]))
def test_kernel_regime_bound_holds_for_the_flow(problem, eps):
    # Theorem 2 (kernel side): alpha >= sqrt(2(1+eps)(1+2/eps)||beta*_l2||) implies
    # ||beta_alpha||^2 <= (1+eps)||beta*_l2||^2, checked on the integrated flow, not the solver.
    l2 = np.linalg.lstsq(problem.X, problem.y, rcond=None)[0]
    alpha = np.sqrt(2 * (1 + eps) * (1 + 2 / eps) * np.linalg.norm(l2))
    flow = gradient_flow(problem.X, problem.y, alpha, 2, device="cpu")
    assert flow.success, flow.message
    assert np.sum(flow.beta**2) <= (1 + eps) * np.sum(l2**2) * (1 + 1e-9)
