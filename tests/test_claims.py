"""Every built-in claim passes on its default instances, and each claim's mutation fails.

The default run integrates ~60 flows (batched) and takes ~20 s on 2 cores; it runs once per session
(module fixture) and is shared by the tests below.
"""
from __future__ import annotations

import math

import pytest

import krtheory.claims as C
from krtheory.claims.context import RunContext
from krtheory.claims.runner import run, run_claim

REQUIRED = {"T1", "T1-shape", "T2-rich", "T2-kernel", "T3", "T3-limits", "T3-rich", "rate-potential", "rate-l1",
            "rate-kernel", "K-tangent", "K-movement", "K-kernel-change", "K-linearized", "K-gap", "R", "W", "GD", "scale", "D-to-2",
            "series-0", "series-inf"}


@pytest.fixture(scope="module")
def ctx():
    return RunContext(device="cpu", seed=0)


@pytest.fixture(scope="module")
def default_report(ctx):
    return run(list(C.all_claims()), ctx=ctx)


def test_registry_has_the_required_claims():
    ids = {c.id for c in C.all_claims()}
    assert REQUIRED <= ids, REQUIRED - ids
    for c in C.all_claims():
        assert c.source in ("derived", "unconfirmed") or c.source.startswith(("Theorem", "paper")), c.source
        assert c.tolerance_reason and c.statement and c.mutation_description


def _ids():
    return [c.id for c in C.all_claims()]


@pytest.mark.parametrize("claim_id", _ids())
def test_claim_passes_on_defaults(default_report, claim_id):
    res = {r.claim.id: r for r in default_report.results}[claim_id]
    bad = [f"{o.instance!r}: {o.evidence.detail}" for o in res.outcomes if o.evidence.verdict != C.PASS]
    assert res.verdict == C.PASS, bad
    assert res.examples_run >= 1
    w = res.worst.evidence
    assert math.isfinite(w.deviation) and w.deviation <= w.tolerance


@pytest.mark.parametrize("claim_id", _ids())
def test_mutation_fails(default_report, ctx, claim_id):
    # the same comparison against a slightly wrong prediction (alpha * 1.01, q's argument * 1.01, a
    # constant by 10%) must fail on each sensitive instance; flows are cached from the default run
    claim = C.get(claim_id)
    sensitive = claim.sensitive_examples(0)
    assert sensitive
    for inst in sensitive:
        ev = claim.mutation(inst, ctx)
        assert ev.verdict == C.FAIL, f"{claim_id} mutation ({claim.mutation_description}) passed on {inst!r}: {ev.detail}"
        # and the unmutated check passes on the same instance
        assert claim.check(inst, ctx).verdict == C.PASS


def test_default_run_has_no_inconclusive(default_report):
    assert default_report.counts[C.INCONCLUSIVE] == 0
    assert default_report.exit_code == 0


def test_property_t1_random_problems(ctx):
    # property test: flow limit vs argmin Q_alpha on drawn problems (seeded hypothesis search)
    res = run_claim(C.get("T1"), RunContext(device="cpu", seed=1), examples=3)
    assert res.verdict == C.PASS, [o.evidence.detail for o in res.outcomes]
    assert sum(o.origin == "search" for o in res.outcomes) == 3


def test_property_t3_random_problems(ctx):
    res = run_claim(C.get("T3"), RunContext(device="cpu", seed=2), examples=2)
    assert res.verdict == C.PASS, [o.evidence.detail for o in res.outcomes]
