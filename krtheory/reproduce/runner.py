"""``krtheory reproduce``: run registered experiments and write their figure, CSV and summary.

Exit codes (returned by :func:`main`): 0 every key check passed, 1 a reproduction's key check
failed (or it crashed), 2 usage error (unknown name, unwritable output directory, impossible
sizes, unknown device). Outputs of experiment ``NAME`` go to ``DIR/NAME/``: ``NAME.png``,
``NAME.csv``, ``summary.json``, ``summary.md`` and ``cache/`` (finished points; rerunning resumes from them).
"""
from __future__ import annotations

import ast
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from krtheory._validation import InvalidInputError
from krtheory.reproduce.context import RunContext
from krtheory.reproduce.outputs import format_table, save_figure, summary_markdown, write_csv, write_json
from krtheory.reproduce.registry import Experiment, all_experiments, get_experiment

__all__ = ["main", "run_reproduction", "resolve_params", "ReproductionOutcome"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class ReproductionOutcome:
    """Result of one reproduction: where its files are, its summary dict and whether it passed."""

    name: str
    out_dir: Path
    summary: dict
    passed: bool
    table: str


def _coerce(name: str, text: str, default: Any):
    """Parse an override ``text`` to the type of ``default`` (int, float, bool, str or a list)."""
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes"):
                return True
            if text.lower() in ("0", "false", "no"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (list, tuple)):
            items = [s for s in text.replace(";", ",").split(",") if s.strip()]
            elem = default[0] if default else 0.0
            return type(default)(_coerce(name, s.strip(), elem) for s in items)
    except ValueError:
        raise InvalidInputError(f"--set {name}={text}: cannot read {text!r} as {type(default).__name__}") from None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def resolve_params(exp: Experiment, quick: bool, overrides: Mapping[str, Any] | Sequence[str] | None) -> dict:
    """Defaults for ``quick`` updated by ``overrides`` (a mapping or ``KEY=VALUE`` strings), validated.

    Raises :class:`InvalidInputError` for unknown keys or impossible sizes.
    """
    params = dict(exp.defaults(quick))
    items: list[tuple[str, Any]] = []
    if overrides:
        if isinstance(overrides, Mapping):
            items = list(overrides.items())
        else:
            for s in overrides:
                if "=" not in s:
                    raise InvalidInputError(f"--set expects KEY=VALUE, got {s!r}")
                k, v = s.split("=", 1)
                items.append((k.strip(), v.strip()))
    for k, v in items:
        if k not in params:
            raise InvalidInputError(
                f"{exp.name}: unknown parameter {k!r}; known: {', '.join(sorted(params))}")
        params[k] = _coerce(k, v, params[k]) if isinstance(v, str) else v
    exp.validate(params)
    return params


def _check_device(device: str | None) -> None:
    if device is None:
        return
    from krtheory.dynamics._common import resolve_device

    resolve_device(device)  # the engine's own check (InvalidInputError naming the device)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".krtheory-write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise InvalidInputError(f"output directory {str(out)!r} is not writable ({exc.strerror or exc})") from None


def _versions() -> dict:
    import numpy
    import scipy
    import torch

    import krtheory

    return {"krtheory": krtheory.__version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__}


def run_reproduction(name: str, out: str | Path = "krtheory-out", *, quick: bool = False, seed: int = 0,
                     device: str | None = None, overrides=None, show_progress: bool = False,
                     params: dict | None = None) -> ReproductionOutcome:
    """Run one experiment and write ``out/name/{name}.png, {name}.csv, summary.json``.

    ``overrides`` changes size parameters (``{"d": 300}`` or ``["d=300"]``); they are validated
    (:class:`InvalidInputError` for unknown names, unwritable ``out`` or impossible sizes).
    Finished points are cached in ``out/name/cache`` so an interrupted run resumes.
    """
    exp = get_experiment(name)
    if params is None:
        params = resolve_params(exp, quick, overrides)
    _check_device(device)
    out_dir = Path(out) / exp.name
    _check_writable(out_dir)
    ctx = RunContext(name=exp.name, version=exp.version, out_dir=out_dir, params=params, seed=int(seed),
                     quick=bool(quick), device=device, show_progress=show_progress)
    t0 = time.perf_counter()
    report = exp.run(ctx)
    wall = time.perf_counter() - t0
    png, csv_path = out_dir / f"{exp.name}.png", out_dir / f"{exp.name}.csv"
    save_figure(report.figure, png)
    write_csv(csv_path, report.rows)
    passed = all(c.passed for c in report.checks)
    summary = {
        "experiment": exp.name,
        "title": exp.title,
        "paper_figure": exp.figure_ref,
        "quick": bool(quick),
        "seed": int(seed),
        "device": device,
        "params": params,
        "unconfirmed_paper_settings": list(exp.unconfirmed),
        "comparisons": [
            {"quantity": c.quantity, "paper": c.paper, "measured": c.measured, "unit": c.unit, "note": c.note}
            for c in report.comparisons
        ],
        "checks": [
            {"name": c.name, "passed": bool(c.passed), "measured": c.measured, "expected": c.expected,
             "detail": c.detail}
            for c in report.checks
        ],
        "passed": passed,
        "wall_time_s": wall,
        "points": dict(ctx.stats),
        "files": {"figure": png.name, "csv": csv_path.name, "markdown": "summary.md", "cache": "cache/"},
        "versions": _versions(),
        **({"extra": dict(report.extra)} if report.extra else {}),
    }
    write_json(out_dir / "summary.json", summary)
    (out_dir / "summary.md").write_text(summary_markdown(summary))
    notes = [f"paper setting unconfirmed (THEORY.md s8): {u}" for u in exp.unconfirmed]
    notes.append(f"wall time {wall:.1f} s; points computed {ctx.stats['computed']}, from cache "
                 f"{ctx.stats['cached']} (they cost {ctx.stats['cached_compute_s']:.1f} s when computed); "
                 f"files in {out_dir}")
    table = format_table(f"{exp.name}: {exp.title} ({exp.figure_ref}){' [quick]' if quick else ''}",
                         report.comparisons, report.checks, notes)
    return ReproductionOutcome(exp.name, out_dir, summary, passed, table)


def _list() -> str:
    lines = []
    for exp in all_experiments().values():
        lines.append(f"{exp.name:20s} {exp.figure_ref:14s} {exp.title}")
    return "\n".join(lines)


def main(args) -> int:
    """Entry point called by :mod:`krtheory.cli` with the parsed ``argparse`` namespace."""
    if getattr(args, "list", False):
        print(_list())
        return EXIT_OK
    name = getattr(args, "name", None)
    if not name:
        print("krtheory reproduce: give an experiment name or 'all'; known:\n" + _list(), file=sys.stderr)
        return EXIT_USAGE
    quick = bool(getattr(args, "quick", False))
    overrides = getattr(args, "set", None) or []
    device = getattr(args, "device", None)
    try:
        names = list(all_experiments()) if name == "all" else [get_experiment(name).name]
        if overrides and name == "all":
            raise InvalidInputError("--set applies to a single experiment, not to 'all'")
        plan = [(n, resolve_params(get_experiment(n), quick, overrides)) for n in names]
        _check_device(device)
        out = Path(getattr(args, "out", "krtheory-out") or "krtheory-out")
        _check_writable(out)
    except InvalidInputError as exc:
        print(f"krtheory reproduce: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    code = EXIT_OK
    index = []
    for n, params in plan:
        try:
            outcome = run_reproduction(n, out, quick=quick, seed=getattr(args, "seed", 0) or 0, device=device,
                                       params=params, show_progress=not getattr(args, "no_progress", False))
        except KeyboardInterrupt:
            print(f"krtheory reproduce {n}: interrupted; finished points are cached in {out / n / 'cache'}; "
                  "rerun the same command to resume", file=sys.stderr)
            return 130
        except Exception as exc:  # a crash in one reproduction must not hide the others' results
            traceback.print_exc(file=sys.stderr)
            print(f"krtheory reproduce {n}: crashed: {type(exc).__name__}: {exc}", file=sys.stderr)
            index.append({"experiment": n, "passed": False, "error": f"{type(exc).__name__}: {exc}"})
            code = EXIT_FAIL
            continue
        print(outcome.table + "\n", flush=True)
        index.append({"experiment": n, "passed": outcome.passed, "wall_time_s": outcome.summary["wall_time_s"],
                      "summary": str(outcome.out_dir / "summary.json")})
        if not outcome.passed:
            code = EXIT_FAIL
    if len(plan) > 1:
        write_json(out / "index.json", {"quick": quick, "seed": getattr(args, "seed", 0), "runs": index})
    return code
