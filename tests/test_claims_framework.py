"""The claims framework: verdict logic, registry, runner, JSON report, counterexamples."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from krtheory.claims import FAIL, INCONCLUSIVE, PASS, FlowNote, SubCheck, evidence
from krtheory.claims import registry
from krtheory.claims.context import RunContext
from krtheory.claims.runner import (
    format_table, load_counterexample, recheck, report_json, run, run_claim, safe_check,
)

import _toy_claims as toy


@pytest.fixture
def toys():
    for c in (toy.TOY_PASS, toy.TOY_FAIL, toy.TOY_INCONCLUSIVE):
        registry.register(c, replace=True)
    yield toy
    for c in (toy.TOY_PASS, toy.TOY_FAIL, toy.TOY_INCONCLUSIVE):
        registry.unregister(c.id)


def test_verdict_logic():
    ok = SubCheck("a", 1e-9, 1e-6)
    bad = SubCheck("b", 2e-6, 1e-6)
    assert evidence([ok]).verdict == PASS
    ev = evidence([ok, bad])
    assert ev.verdict == FAIL and ev.deviation == 2e-6 and ev.tolerance == 1e-6
    # a non-converged flow is never a pass, whatever the numbers say
    stuck = FlowNote(False, "max_steps", rate=0.1, loss=1e-8)
    assert evidence([ok], flows=[stuck]).verdict == INCONCLUSIVE
    assert evidence([ok], flows=[stuck]).flow_rate == 0.1
    # NaN / inf deviations fail
    assert evidence([SubCheck("nan", math.nan, 1.0)]).verdict == FAIL
    assert evidence([SubCheck("inf", math.inf, 1.0)]).verdict == FAIL
    # zero tolerance: exact comparisons
    assert evidence([SubCheck("exact", 0.0, 0.0)]).verdict == PASS
    assert evidence([SubCheck("exact", 1e-300, 0.0)]).verdict == FAIL


def test_safe_check_turns_exceptions_into_failures():
    def boom(inst, ctx):
        raise RuntimeError("solver exploded")

    ev = safe_check(boom, None, RunContext(device="cpu"))
    assert ev.verdict == FAIL and "solver exploded" in ev.detail and math.isinf(ev.deviation)


def test_registry_get_and_unknown(toys):
    assert registry.get("toy-pass") is toy.TOY_PASS
    with pytest.raises(registry.UnknownClaimError) as info:
        registry.get("no-such-claim")
    assert "toy-pass" in str(info.value)  # the message lists the known ids
    with pytest.raises(ValueError):
        registry.register(toy.TOY_PASS)  # duplicate id


def test_run_pass_fail_inconclusive_and_exit_codes(toys, tmp_path):
    ctx = RunContext(device="cpu", seed=3)
    rep = run([toy.TOY_PASS], ctx=ctx)
    assert rep.exit_code == 0 and rep.results[0].verdict == PASS and rep.results[0].examples_run == 2
    rep = run([toy.TOY_PASS, toy.TOY_INCONCLUSIVE], ctx=ctx)
    assert rep.exit_code == 3
    rep = run([toy.TOY_PASS, toy.TOY_INCONCLUSIVE, toy.TOY_FAIL], ctx=ctx, counterexample_dir=tmp_path)
    assert rep.exit_code == 1
    table = format_table(rep)
    for cid in ("toy-pass", "toy-stuck", "toy-fail"):
        assert cid in table
    assert "FAIL" in table and "INCONCLUSIVE" in table


def test_search_shrinks_to_smallest_counterexample(toys, tmp_path):
    # toy-fail is false exactly when d >= 6: the shrunk counterexample must be d = 6, n = 2
    ctx = RunContext(device="cpu", seed=0)
    res = run_claim(toy.TOY_FAIL, ctx, examples=30, counterexample_dir=tmp_path)
    assert res.verdict == FAIL
    cx = res.counterexample
    assert cx.origin == "search"
    assert (cx.instance.problem.n, cx.instance.problem.d) == (2, 6)
    assert cx.instance.problem.seed == 0  # the seed shrinks to 0 too
    # saved and reloadable, bit for bit
    claim_id, inst = load_counterexample(cx.path)
    assert claim_id == "toy-fail"
    np.testing.assert_array_equal(inst.problem.X, cx.instance.problem.X)
    np.testing.assert_array_equal(inst.problem.y, cx.instance.problem.y)
    assert inst.depth == cx.instance.depth
    assert recheck(cx.path).verdict == FAIL
    assert "--claim toy-fail" in cx.reproduce and "--seed 0" in cx.reproduce


def test_search_is_reproducible(toys):
    a = run_claim(toy.TOY_PASS, RunContext(device="cpu", seed=5), examples=6)
    b = run_claim(toy.TOY_PASS, RunContext(device="cpu", seed=5), examples=6)
    ka = [o.instance.problem.key for o in a.outcomes]
    kb = [o.instance.problem.key for o in b.outcomes]
    assert ka == kb and len(ka) == 8


def test_json_report_schema(toys, tmp_path):
    rep = run([toy.TOY_PASS, toy.TOY_FAIL], ctx=RunContext(device="cpu"), counterexample_dir=tmp_path)
    data = json.loads(json.dumps(report_json(rep)))  # must be JSON-serializable
    assert data["schema"] == "krtheory-verify/1" and data["exit_code"] == 1
    assert data["counts"] == {"pass": 1, "fail": 1, "inconclusive": 0}
    c0, c1 = data["claims"]
    for c in (c0, c1):
        for k in ("id", "title", "statement", "source", "reference", "tolerance_reason", "mutation",
                  "verdict", "examples_run", "worst_deviation", "tolerance", "seconds", "instances",
                  "counterexample"):
            assert k in c
        for inst in c["instances"]:
            assert {"origin", "instance", "deviation", "tolerance", "verdict", "subchecks"} <= set(inst)
    assert c0["counterexample"] is None
    assert c1["counterexample"]["npz"].endswith(".npz")
    assert c1["counterexample"]["instance"]["n"] >= 2
