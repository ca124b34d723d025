"""The reproduce framework: registry, runner exit codes, resumable cache, CSV/JSON writers.

A toy experiment (registered by monkeypatching the registry) whose numbers have a closed form
exercises the machinery without the numerical layers.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os

import numpy as np
import pytest

from krtheory._validation import InvalidInputError
from krtheory.reproduce import registry, runner
from krtheory.reproduce.context import RunContext, from_jsonable, to_jsonable
from krtheory.reproduce.fitting import loglog_fit
from krtheory.reproduce.outputs import new_figure, write_csv
from krtheory.reproduce.registry import Check, Comparison, Experiment, Report

CALLS = {"points": 0}


def _toy_run(ctx) -> Report:
    rows = []
    for k in ctx.progress(range(ctx.params["n"]), desc="points"):
        def compute(k=k):
            CALLS["points"] += 1
            return {"value": k**2 * ctx.params["scale"]}
        v = ctx.cached("point", {"k": k, "scale": ctx.params["scale"]}, compute)["value"]
        rows.append({"k": k, "value": v})
    fig, (ax,) = new_figure()
    ax.plot([r["k"] for r in rows], [r["value"] for r in rows])
    total = sum(r["value"] for r in rows)
    expected = ctx.params["scale"] * sum(k * k for k in range(ctx.params["n"]))
    return Report(rows=tuple(rows), figure=fig,
                  comparisons=(Comparison("sum", total, paper=expected),),
                  checks=(Check("sum of squares", total == expected and not ctx.params["fail"], total, str(expected)),))


def _toy_validate(p):
    if p["n"] < 1:
        raise InvalidInputError(f"toy: n must be >= 1, got {p['n']}")


TOY = Experiment(name="toy", title="toy", figure_ref="none", order=0,
                 defaults=lambda quick: {"n": 3 if quick else 5, "scale": 2.0, "fail": False},
                 validate=_toy_validate, run=_toy_run, unconfirmed=("toy setting",))


@pytest.fixture
def toy_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {"toy": TOY})
    CALLS["points"] = 0
    yield


def _args(**kw):
    base = dict(name=None, list=False, out="krtheory-out", quick=True, device=None, seed=0, no_progress=True, set=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_real_registry_lists_the_issue_experiments():
    names = set(registry.all_experiments())
    assert "potentials" in names
    for exp in registry.all_experiments().values():
        # every experiment's quick and full defaults pass its own validation
        exp.validate(exp.defaults(True))
        exp.validate(exp.defaults(False))


def test_run_writes_outputs_and_resumes_from_cache(toy_registry, tmp_path):
    assert runner.main(_args(name="toy", out=str(tmp_path))) == 0
    d = tmp_path / "toy"
    summary = json.loads((d / "summary.json").read_text())
    # 0^2 + 1^2 + 2^2 = 5 times scale 2 (closed form of the toy)
    assert summary["comparisons"][0]["measured"] == 10.0
    assert summary["passed"] is True
    assert summary["unconfirmed_paper_settings"] == ["toy setting"]
    assert summary["points"]["computed"] == 3 and CALLS["points"] == 3
    with open(d / "toy.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["value"]) for r in rows] == [0.0, 2.0, 8.0]
    assert (d / "toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (d / "summary.md").read_text()
    assert "| sum | 10 | 10 |" in md and "| sum of squares | 10 | 10.0 | PASS |" in md
    # second run: every point from the cache, nothing recomputed
    assert runner.main(_args(name="toy", out=str(tmp_path))) == 0
    summary2 = json.loads((d / "summary.json").read_text())
    assert CALLS["points"] == 3
    assert summary2["points"]["cached"] == 3 and summary2["points"]["computed"] == 0
    # a changed parameter changes the key: recomputed, not a stale hit
    assert runner.main(_args(name="toy", out=str(tmp_path), set=["scale=3"])) == 0
    assert CALLS["points"] == 6
    assert json.loads((d / "summary.json").read_text())["comparisons"][0]["measured"] == 15.0


def test_interrupted_run_keeps_finished_points(toy_registry, tmp_path):
    # simulate an interruption after the first point: the cache holds it, a rerun computes the rest
    params = runner.resolve_params(TOY, True, None)
    ctx = RunContext("toy", TOY.version, tmp_path / "toy", params, 0, True, show_progress=False)
    ctx.cached("point", {"k": 0, "scale": 2.0}, lambda: {"value": 0.0})
    out = runner.run_reproduction("toy", tmp_path, quick=True)
    pts = out.summary["points"]
    assert (pts["cached"], pts["computed"]) == (1, 2) and pts["cached_compute_s"] >= 0


def test_corrupt_cache_file_is_recomputed(toy_registry, tmp_path):
    runner.run_reproduction("toy", tmp_path, quick=True)
    files = sorted((tmp_path / "toy" / "cache").glob("*.json"))
    assert len(files) == 3
    files[0].write_text("{not json")
    out = runner.run_reproduction("toy", tmp_path, quick=True)
    assert out.summary["points"]["computed"] == 1 and out.passed


def test_failed_check_exits_1(toy_registry, tmp_path):
    assert runner.main(_args(name="toy", out=str(tmp_path), set=["fail=true"])) == 1


@pytest.mark.parametrize("kw, message", [
    (dict(name="nope"), "unknown reproduction 'nope'; known: toy"),
    (dict(name="toy", set=["n=0"]), "n must be >= 1"),
    (dict(name="toy", set=["m=1"]), "unknown parameter 'm'"),
    (dict(name="toy", set=["n=abc"]), "cannot read 'abc' as int"),
    (dict(name="toy", set=["n"]), "KEY=VALUE"),
    (dict(name="toy", device="nonsense-device"), "not a valid torch device"),
    (dict(name=None), "give an experiment name"),
])
def test_usage_errors_exit_2_with_a_message(toy_registry, tmp_path, capsys, kw, message):
    kw.setdefault("out", str(tmp_path))
    assert runner.main(_args(**kw)) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered by the file-in-the-way case")
def test_unwritable_dir_exits_2(toy_registry, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    assert runner.main(_args(name="toy", out=str(ro / "x"))) == 2
    assert "not writable" in capsys.readouterr().err


def test_out_path_blocked_by_a_file_exits_2(toy_registry, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert runner.main(_args(name="toy", out=str(blocker / "sub"))) == 2
    assert "not writable" in capsys.readouterr().err


def test_list_and_all(toy_registry, tmp_path, capsys):
    assert runner.main(_args(list=True)) == 0
    assert "toy" in capsys.readouterr().out
    assert runner.main(_args(name="all", out=str(tmp_path))) == 0
    index = json.loads((tmp_path / "index.json").read_text()) if (tmp_path / "index.json").exists() else None
    assert index is None  # a single registered experiment writes no index
    assert (tmp_path / "toy" / "summary.json").exists()


def test_cli_wiring(toy_registry, tmp_path):
    from krtheory.cli import main as cli_main

    assert cli_main(["reproduce", "toy", "--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    assert cli_main(["reproduce", "nope", "--out", str(tmp_path)]) == 2


def test_json_roundtrip_of_nonfinite_and_numpy():
    obj = {"a": np.float64(1.5), "b": np.array([1.0, math.inf]), "c": (np.int64(2), -math.inf), "d": math.nan}
    back = from_jsonable(json.loads(json.dumps(to_jsonable(obj))))
    assert back["a"] == 1.5 and back["b"] == [1.0, math.inf] and back["c"] == [2, -math.inf]
    assert math.isnan(back["d"])


def test_csv_union_of_columns_and_full_precision(tmp_path):
    x = 0.1 + 0.2  # 0.30000000000000004 needs 17 digits
    write_csv(tmp_path / "t.csv", [{"a": x}, {"b": 2, "a": None}])
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["a"] == repr(x) and float(rows[0]["a"]) == x
    assert rows[1] == {"a": "", "b": "2"}


def test_loglog_fit_recovers_a_power_law():
    x = np.geomspace(1, 100, 9)
    fit = loglog_fit(x, 3.0 * x**-2.5)
    assert fit.slope == pytest.approx(-2.5, abs=1e-12)  # exact power law: only rounding error
    assert math.exp(fit.intercept) == pytest.approx(3.0, rel=1e-12)
    with pytest.raises(InvalidInputError):
        loglog_fit([1.0], [1.0])


def test_rng_is_seed_and_tag_determined():
    ctx = RunContext("t", "1", None, {}, 7, True)
    a = ctx.rng("problem", 1).standard_normal(3)
    b = RunContext("t", "1", None, {}, 7, True).rng("problem", 1).standard_normal(3)
    c = ctx.rng("problem", 2).standard_normal(3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_progress_goes_to_stderr_not_stdout(toy_registry, tmp_path, capsys):
    assert runner.main(_args(name="toy", out=str(tmp_path), no_progress=False)) == 0
    cap = capsys.readouterr()
    assert "toy: points" in cap.err          # the tqdm bar's description
    assert "toy: points" not in cap.out and "sum of squares" in cap.out


def test_keyboard_interrupt_exits_130_and_keeps_points(monkeypatch, tmp_path, capsys):
    def interrupted(ctx):
        ctx.cached("point", {"k": 0}, lambda: {"value": 1.0})
        raise KeyboardInterrupt
    exp = Experiment(name="stop", title="stop", figure_ref="none", order=0, defaults=lambda q: {},
                     validate=lambda p: None, run=interrupted)
    monkeypatch.setattr(registry, "_REGISTRY", {"stop": exp})
    assert runner.main(_args(name="stop", out=str(tmp_path))) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert len(list((tmp_path / "stop" / "cache").glob("*.json"))) == 1
