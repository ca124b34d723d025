"""krtheory.check: a user's conjecture against the integrated flow."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

import krtheory
from krtheory import strategies as kst
from krtheory._validation import InvalidInputError
from krtheory.solvers import implicit_bias_solution, min_l1_interpolator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _small(alphas=(0.5, 2.0)):
    return kst.instances(kst.problems(n=(2, 3), d=(4, 6), sparsity=(1, 2)), kst.alphas(*alphas), kst.depths((2,)))


def test_false_threshold_is_refuted_with_a_real_counterexample():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import refute_conjecture as ex
    finally:
        sys.path.pop(0)
    res = ex.main(max_examples=12, seed=0, shrink_budget_s=6.0)
    assert res.refuted and res.holds is False
    cx = res.counterexample
    assert cx.alpha <= ex.THRESHOLD
    # independent confirmation with a different algorithm: the dual-Newton minimizer of Q_alpha
    # (Theorem 1) and the LP agree that the l1 excess exceeds eps (flow-vs-solver agree to ~1e-10,
    # so a margin of 1e-6 on the excess is ample)
    p = cx.instance.problem
    b = implicit_bias_solution(p.X, p.y, cx.alpha, 2).x
    l1 = np.sum(np.abs(min_l1_interpolator(p.X, p.y).x))
    assert np.sum(np.abs(b)) / l1 - 1 > ex.EPS + 1e-6
    assert abs(cx.l1_norm - np.sum(np.abs(b))) <= 1e-8 * np.sum(np.abs(b))
    text = str(res)
    assert "REFUTED" in text and f"seed {p.seed}" in text and "make_problem" in text


def test_true_statement_holds_with_evidence():
    # ||beta_flow||_1 >= ||beta*_l1||_1 for every interpolator (the LP optimum); 1e-9 relative slack
    # covers the LP's tolerance and the flow's ~1e-10 residual
    def statement(case):
        return case.l1_norm >= (1 - 1e-9) * case.min_l1_norm

    res = krtheory.check(statement, _small(), max_examples=2, seed=3)
    assert not res.refuted and res.holds is True and res.supported == 2 and res.inconclusive == 0
    assert "HELD on 2 of 2" in str(res)


def test_non_converged_flows_are_inconclusive_never_evidence():
    res = krtheory.check(lambda case: False, _small(), max_examples=3, seed=0, flow_options={"max_steps": 3})
    assert not res.refuted and res.holds is None
    assert res.inconclusive == len(res.records) >= 1
    assert all(r.flow_status == "step-limit" for r in res.records)


def test_same_seed_same_search():
    a = krtheory.check(lambda case: True, _small(), max_examples=3, seed=11, flow_options={"max_steps": 2})
    b = krtheory.check(lambda case: True, _small(), max_examples=3, seed=11, flow_options={"max_steps": 2})
    assert [r.instance.problem.key for r in a.records] == [r.instance.problem.key for r in b.records]


def test_bad_arguments():
    with pytest.raises(InvalidInputError, match="statement"):
        krtheory.check(42, _small())
    with pytest.raises(InvalidInputError, match="strategy"):
        krtheory.check(lambda c: True, [1, 2])
    with pytest.raises(InvalidInputError, match="max_examples"):
        krtheory.check(lambda c: True, _small(), max_examples=0)
    with pytest.raises(InvalidInputError, match="Instance"):
        krtheory.check(lambda c: True, st.just(3), max_examples=1)
