"""``krtheory verify`` through the real argparse front end: exit codes, JSON, counterexamples."""
from __future__ import annotations

import json

import numpy as np
import pytest

from krtheory import cli
from krtheory.claims import registry

import _toy_claims as toy


@pytest.fixture
def toys():
    for c in (toy.TOY_PASS, toy.TOY_FAIL, toy.TOY_INCONCLUSIVE):
        registry.register(c, replace=True)
    yield toy
    for c in (toy.TOY_PASS, toy.TOY_FAIL, toy.TOY_INCONCLUSIVE):
        registry.unregister(c.id)


def _verify(*argv):
    return cli.main(["verify", "--no-progress", "--device", "cpu", *argv])


def test_exit_0_when_all_pass(toys, capsys):
    assert _verify("--claim", "toy-pass") == 0
    out = capsys.readouterr().out
    assert "toy-pass" in out and "pass" in out and "worst dev" in out


def test_exit_1_on_failure_prints_and_saves_counterexample(toys, tmp_path, capsys):
    cdir = tmp_path / "cex"
    code = _verify("--claim", "toy-pass", "--claim", "toy-fail", "--examples", "20", "--seed", "2",
                   "--counterexamples", str(cdir), "--json", str(tmp_path / "r.json"))
    assert code == 1
    out = capsys.readouterr().out
    assert "smallest counterexample" in out and "reproduce: krtheory verify --claim toy-fail --seed 2" in out
    files = list(cdir.glob("toy-fail-*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert z["X"].shape == (int(z["n"]), int(z["d"])) and z["y"].shape == (int(z["n"]),)
        assert int(z["d"]) == 6  # shrunk to the boundary of the false statement
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit_code"] == 1
    assert [c["id"] for c in report["claims"]] == ["toy-pass", "toy-fail"]


def test_exit_3_when_inconclusive(toys, capsys):
    assert _verify("--claim", "toy-pass", "--claim", "toy-stuck") == 3
    out = capsys.readouterr().out
    assert "INCONCLUSIVE toy-stuck" in out and "rate" in out


def test_exit_2_unknown_claim_names_known_ids(toys, capsys):
    assert _verify("--claim", "no-such-claim") == 2
    err = capsys.readouterr().err
    assert "no-such-claim" in err and "toy-pass" in err


def test_exit_2_bad_device(toys, capsys):
    assert cli.main(["verify", "--no-progress", "--device", "nonsense-device", "--claim", "toy-pass"]) == 2


def test_list(toys, capsys):
    assert _verify("--list") == 0
    out = capsys.readouterr().out
    assert "toy-fail" in out and "unconfirmed" in out


def test_real_claim_reports_bound_conservativeness(tmp_path, capsys):
    # T2-kernel runs the solver only (~0.3 s): the table, the bound-vs-needed lines and the JSON metrics
    assert _verify("--claim", "T2-kernel", "--json", str(tmp_path / "k.json")) == 0
    out = capsys.readouterr().out
    assert "T2-kernel" in out and "Theorem 2" in out and "conservative by" in out
    rep = json.loads((tmp_path / "k.json").read_text())
    (claim,) = rep["claims"]
    assert claim["verdict"] == "pass" and claim["examples_run"] == 4
    m = claim["instances"][0]["metrics"]
    # the kernel bound is sufficient, so it asks for at least the alpha actually needed
    assert m["log10_alpha_bound"] >= m["log10_alpha_needed"]
    assert m["conservativeness_log10"] == pytest.approx(m["log10_alpha_bound"] - m["log10_alpha_needed"])


def test_real_claim_with_capped_flows_is_inconclusive_exit_3(monkeypatch, capsys):
    # with a 3-step cap no T1 flow converges: every instance must be inconclusive (never pass,
    # never fail), the measured rate printed, and the exit status 3
    import krtheory.claims.flows as flows

    monkeypatch.setattr(flows, "FLOW_MAX_STEPS", 3)
    assert _verify("--claim", "T1") == 3
    out = capsys.readouterr().out
    assert "INCONCLUSIVE T1" in out and "step-limit" in out and "measured rate" in out


def test_exit_2_unwritable_json_before_running(toys, tmp_path, capsys):
    # a report that cannot be written is a usage error found up front (exit 2), not a refutation (exit 1)
    assert _verify("--claim", "toy-pass", "--json", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "not writable" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _verify("--claim", "toy-pass", "--json", str(blocker / "sub" / "r.json")) == 2
    assert "--json" in capsys.readouterr().err
