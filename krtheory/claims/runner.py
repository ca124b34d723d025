"""Run claims, collect evidence, shrink counterexamples, print the table: ``krtheory verify``.

For each claim: the embedded default instances (fixed seeds) are checked; with ``--examples N``
(or ``--thorough``) a seeded hypothesis search draws ``N`` more instances from the claim's strategy
and, if one fails, shrinks it to the smallest failing instance it can find within a time budget.
A failing claim's counterexample is saved as ``.npz`` (``X``, ``y``, ``alpha``, ``D``, seed,
sizes, extras) with a command line to reproduce it.

Exit status: 0 all pass, 1 some claim fails, 3 none fails but some is inconclusive (a flow that
did not converge within its cap), 2 usage error (unknown claim id).
"""
from __future__ import annotations

import json
import math
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from krtheory._validation import InvalidInputError
from krtheory.claims.base import FAIL, INCONCLUSIVE, PASS, Claim, Evidence, SubCheck, combine_verdicts
from krtheory.claims.context import RunContext, default_device
from krtheory.strategies import Instance, Problem

__all__ = [
    "Outcome",
    "Counterexample",
    "ClaimResult",
    "Report",
    "safe_check",
    "run_claim",
    "run",
    "format_table",
    "report_json",
    "save_counterexample",
    "load_counterexample",
    "recheck",
    "main",
]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
THOROUGH_EXAMPLES = 40


@dataclass(frozen=True)
class Outcome:
    """One checked instance: where it came from (``default`` / ``search``), evidence, seconds."""

    instance: Instance
    evidence: Evidence
    origin: str
    seconds: float


@dataclass(frozen=True)
class Counterexample:
    """The smallest failing instance found, where it was saved, and how to reproduce it."""

    claim_id: str
    instance: Instance
    evidence: Evidence
    origin: str
    seed: int
    path: str | None
    reproduce: str

    def to_json(self) -> dict:
        return {
            "claim": self.claim_id,
            "origin": self.origin,
            "seed": self.seed,
            "instance": self.instance.describe(),
            "evidence": self.evidence.to_json(),
            "npz": self.path,
            "reproduce": self.reproduce,
        }


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcomes: tuple[Outcome, ...]
    verdict: str
    seconds: float
    counterexample: Counterexample | None = None
    shrink_steps: int = 0

    @property
    def examples_run(self) -> int:
        return len(self.outcomes)

    @property
    def worst(self) -> Outcome | None:
        """The outcome with the largest deviation / tolerance ratio (what the table shows)."""
        if not self.outcomes:
            return None
        return max(self.outcomes, key=lambda o: o.evidence.ratio)

    def to_json(self) -> dict:
        worst = self.worst
        return {
            **self.claim.describe(),
            "verdict": self.verdict,
            "examples_run": self.examples_run,
            "worst_deviation": None if worst is None else _j(worst.evidence.deviation),
            "tolerance": None if worst is None else _j(worst.evidence.tolerance),
            "seconds": round(self.seconds, 3),
            "shrink_steps": self.shrink_steps,
            "instances": [
                {"origin": o.origin, "seconds": round(o.seconds, 3), "instance": o.instance.describe(),
                 **o.evidence.to_json()}
                for o in self.outcomes
            ],
            "counterexample": None if self.counterexample is None else self.counterexample.to_json(),
        }


@dataclass(frozen=True)
class Report:
    results: tuple[ClaimResult, ...]
    seconds: float
    seed: int
    device: str
    examples: int | None
    thorough: bool

    @property
    def counts(self) -> dict:
        out = {PASS: 0, FAIL: 0, INCONCLUSIVE: 0}
        for r in self.results:
            out[r.verdict] += 1
        return out

    @property
    def exit_code(self) -> int:
        c = self.counts
        if c[FAIL]:
            return EXIT_FAIL
        if c[INCONCLUSIVE]:
            return EXIT_INCONCLUSIVE
        return EXIT_OK


def _j(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def safe_check(check: Callable[[Instance, RunContext], Evidence], instance: Instance, ctx: RunContext) -> Evidence:
    """Run a check; an exception becomes a failing Evidence that names it (never a pass)."""
    try:
        ev = check(instance, ctx)
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        return Evidence(math.inf, 0.0, FAIL, f"error: {type(exc).__name__}: {exc}{where}",
                        (SubCheck("error", math.inf, 0.0),))
    if not isinstance(ev, Evidence):
        return Evidence(math.inf, 0.0, FAIL, f"error: check returned {type(ev).__name__}, not Evidence",
                        (SubCheck("error", math.inf, 0.0),))
    return ev


def _search(claim: Claim, ctx: RunContext, n: int, seed: int, strategy, *, shrink_budget_s: float,
            on_example: Callable[[], None] | None = None):
    """Seeded hypothesis search: ``n`` drawn instances, shrinking the first failure.

    Returns ``(outcomes, shrunk_instance_or_None, shrink_steps)``. Shrinking stops after
    ``shrink_budget_s`` seconds: later candidates are declined unchecked (so hypothesis keeps the
    smallest failure it has confirmed).
    """
    from krtheory._search import budgeted_find

    outcomes: list[Outcome] = []

    def judged(instance: Instance):
        ev = safe_check(claim.check, instance, ctx)
        return ev.verdict == FAIL, ev

    def record(instance: Instance, ev: Evidence, seconds: float) -> None:
        outcomes.append(Outcome(instance, ev, "search", seconds))
        if on_example is not None:
            on_example()

    shrunk, shrinks = budgeted_find(strategy, judged, max_examples=n, seed=seed,
                                    shrink_budget_s=shrink_budget_s, on_drawn=record)
    return outcomes, shrunk, shrinks


def save_counterexample(directory, claim_id: str, instance: Instance, seed: int) -> str | None:
    """Write ``X, y, beta_star, depth, log_alpha, alpha, seed, n, d`` and the extras as ``.npz``.

    Returns the path, or ``None`` for an instance without a problem (nothing to save beyond the
    printed parameters).
    """
    p = instance.problem
    if p is None:
        return None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in claim_id)
    path = directory / f"{safe_id}-seed{seed}-{p.key}.npz"
    params = {k: v for k, v in instance.params.items() if not isinstance(v, np.ndarray)}
    arrays = {f"param_{k}": v for k, v in instance.params.items() if isinstance(v, np.ndarray)}
    np.savez(
        path,
        X=p.X,
        y=p.y,
        beta_star=np.array([]) if p.beta_star is None else p.beta_star,
        depth=np.float64(instance.depth),
        log_alpha=np.float64(np.nan if instance.log_alpha is None else instance.log_alpha),
        alpha=np.float64(np.nan if instance.alpha is None else instance.alpha),
        seed=np.int64(-1 if p.seed is None else p.seed),
        search_seed=np.int64(seed),
        n=np.int64(p.n),
        d=np.int64(p.d),
        claim=np.str_(claim_id),
        label=np.str_(instance.label),
        spec=np.str_(json.dumps(dict(p.spec), default=str)),
        params=np.str_(json.dumps(params, default=str)),
        **arrays,
    )
    return str(path)


def load_counterexample(path) -> tuple[str, Instance]:
    """Inverse of :func:`save_counterexample`: ``(claim_id, instance)``."""
    with np.load(path, allow_pickle=False) as z:
        beta_star = z["beta_star"]
        spec = json.loads(str(z["spec"]))
        problem = Problem.from_arrays(z["X"], z["y"], beta_star if beta_star.size else None, spec)
        params = json.loads(str(z["params"]))
        for k in z.files:
            if k.startswith("param_"):
                params[k[len("param_"):]] = np.array(z[k])
        la = float(z["log_alpha"])
        instance = Instance(problem, float(z["depth"]), None if math.isnan(la) else la, params, str(z["label"]))
        return str(z["claim"]), instance


def recheck(path, ctx: RunContext | None = None) -> Evidence:
    """Re-run the saved claim on the saved counterexample (what the printed command does)."""
    from krtheory.claims.registry import get

    claim_id, instance = load_counterexample(path)
    return safe_check(get(claim_id).check, instance, ctx or RunContext())


def _reproduce_line(claim_id: str, origin: str, seed: int, examples: int | None, path: str | None) -> str:
    cmd = f"krtheory verify --claim {claim_id} --seed {seed}"
    if origin == "search" and examples:
        cmd += f" --examples {examples}"
    if path:
        cmd += (f"   # or: python -c \"from krtheory.claims.runner import recheck; "
                f"print(recheck('{path}'))\"")
    return cmd


def run_claim(
    claim: Claim,
    ctx: RunContext,
    *,
    examples: int | None = None,
    counterexample_dir=None,
    shrink_budget_s: float = 60.0,
    on_example: Callable[[], None] | None = None,
) -> ClaimResult:
    """Check ``claim`` on its default instances, then on ``examples`` drawn ones.

    The hypothesis search is seeded by ``ctx.seed`` (and the claim id), so a run is reproducible.
    A failure of a default instance with no search requested triggers a short search (10 draws)
    for a smaller counterexample; if none is found the failing default instance is reported.
    """
    t0 = time.perf_counter()
    outcomes: list[Outcome] = []
    try:
        defaults = tuple(claim.default_examples(ctx.seed))
    except Exception as exc:  # noqa: BLE001
        ev = Evidence(math.inf, 0.0, FAIL, f"error building default instances: {type(exc).__name__}: {exc}",
                      (SubCheck("error", math.inf, 0.0),))
        outcomes.append(Outcome(Instance(label="defaults"), ev, "default", 0.0))
        defaults = ()
    for inst in defaults:
        t1 = time.perf_counter()
        ev = safe_check(claim.check, inst, ctx)
        outcomes.append(Outcome(inst, ev, "default", time.perf_counter() - t1))
        if on_example is not None:
            on_example()

    search_seed = _claim_seed(ctx.seed, claim.id)
    default_failed = any(o.evidence.verdict == FAIL for o in outcomes)
    n_search = examples if examples is not None else (10 if default_failed else 0)
    shrunk, shrinks = None, 0
    if n_search:
        strategy = claim.thorough_strategy if (ctx.thorough and claim.thorough_strategy is not None) else claim.strategy
        found, shrunk, shrinks = _search(claim, ctx, n_search, search_seed, strategy,
                                         shrink_budget_s=shrink_budget_s,
                                         on_example=on_example if examples is not None else None)
        if examples is not None:
            outcomes.extend(found)

    verdict = combine_verdicts(o.evidence.verdict for o in outcomes) if outcomes else INCONCLUSIVE
    cex = None
    if verdict == FAIL:
        if shrunk is not None:
            inst, origin = shrunk, "search"
            ev = safe_check(claim.check, inst, ctx)
        else:
            failing = [o for o in outcomes if o.evidence.verdict == FAIL]
            worst = min(failing, key=lambda o: _size(o.instance))
            inst, ev, origin = worst.instance, worst.evidence, worst.origin
        path = None
        if counterexample_dir is not None:
            path = save_counterexample(counterexample_dir, claim.id, inst, ctx.seed)
        cex = Counterexample(claim.id, inst, ev, origin, ctx.seed, path,
                             _reproduce_line(claim.id, origin, ctx.seed, examples, path))
    return ClaimResult(claim, tuple(outcomes), verdict, time.perf_counter() - t0, cex, shrinks)


def _size(instance: Instance) -> tuple:
    p = instance.problem
    return (0, 0) if p is None else (p.n, p.d)


def _claim_seed(seed: int, claim_id: str) -> int:
    # a per-claim stream that does not depend on which other claims run (stable across --claim)
    h = 0
    for ch in claim_id:
        h = (h * 131 + ord(ch)) % (2**31)
    return (int(seed) * 1_000_003 + h) % (2**63)


def run(
    claims: Sequence[Claim],
    *,
    ctx: RunContext | None = None,
    examples: int | None = None,
    counterexample_dir=None,
    shrink_budget_s: float = 60.0,
    progress: Callable[[str, int], None] | None = None,
) -> Report:
    """Run ``claims`` in order and return the :class:`Report`.

    ``progress(claim_id, done)`` is called after each checked instance (for a progress bar).
    """
    ctx = ctx or RunContext()
    if ctx.thorough and examples is None:
        examples = THOROUGH_EXAMPLES
    t0 = time.perf_counter()
    _plan_flows(claims, ctx)
    results = []
    for claim in claims:
        counter = {"n": 0}

        def tick(cid=claim.id, c=counter):
            c["n"] += 1
            if progress is not None:
                progress(cid, c["n"])

        results.append(run_claim(claim, ctx, examples=examples, counterexample_dir=counterexample_dir,
                                 shrink_budget_s=shrink_budget_s, on_example=tick))
    return Report(tuple(results), time.perf_counter() - t0, ctx.seed, ctx.device, examples, ctx.thorough)


def _plan_flows(claims: Sequence[Claim], ctx: RunContext) -> None:
    """Register the default instances' flows so equal-shape flows are integrated in one batch."""
    from krtheory.claims.flows import plan

    requests = []
    for claim in claims:
        if claim.flow_requests is None:
            continue
        try:
            for inst in claim.default_examples(ctx.seed):
                requests.extend(claim.flow_requests(inst))
        except Exception:  # noqa: BLE001 - the check itself will report the problem
            continue
    plan(ctx, requests)


def _fmt(v: float) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.2e}"


def format_table(report: Report) -> str:
    """The verify table: claim, source, examples, worst deviation, tolerance, verdict, seconds."""
    head = ("claim", "source", "examples", "worst dev", "tolerance", "verdict", "seconds")
    rows = []
    for r in report.results:
        w = r.worst
        verdict = r.verdict.upper() if r.verdict != PASS else "pass"
        rows.append((r.claim.id, r.claim.source, str(r.examples_run),
                     _fmt(None if w is None else w.evidence.deviation),
                     _fmt(None if w is None else w.evidence.tolerance), verdict, f"{r.seconds:.1f}"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    align = ["<", "<", ">", ">", ">", "<", ">"]

    def line(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    c = report.counts
    out.append("")
    out.append(f"{len(report.results)} claims: {c[PASS]} pass, {c[FAIL]} fail, {c[INCONCLUSIVE]} inconclusive "
               f"in {report.seconds:.1f} s (seed {report.seed}, device {report.device}"
               f"{', examples ' + str(report.examples) if report.examples else ''}"
               f"{', thorough' if report.thorough else ''})")
    return "\n".join(out)


def format_bounds(report: Report) -> str:
    """How conservative each threshold bound is: log10(alpha_bound) - log10(alpha_needed) per instance."""
    out = []
    for r in report.results:
        rows = [o for o in r.outcomes if "conservativeness_log10" in o.evidence.metrics]
        if not rows:
            continue
        out.append(f"{r.claim.id} ({r.claim.source}): bound alpha vs alpha actually needed")
        for o in rows:
            m = o.evidence.metrics
            pr = o.instance.problem
            lab = o.instance.label or (f"seed {pr.seed} {pr.n}x{pr.d} D{o.instance.depth:g}" if pr is not None else "-")
            c = m["conservativeness_log10"]
            verdict = (f"conservative by {abs(c):.3g} decades" if math.isfinite(c)
                       else "no threshold: the conclusion holds out to |log alpha| = 60")
            out.append(f"  {lab:22s} eps {m['eps']:<6.3g} log10 alpha_bound {m['log10_alpha_bound']:9.4g}  "
                       f"log10 alpha_needed {m['log10_alpha_needed']:9.4g}  {verdict}")
    return "\n".join(out)


def format_details(report: Report) -> str:
    """Failures (with counterexample and how to reproduce) and inconclusive runs (with rates)."""
    out = []
    for r in report.results:
        if r.verdict == FAIL:
            out.append(f"FAIL {r.claim.id}: {r.claim.statement}")
            for o in r.outcomes:
                if o.evidence.verdict == FAIL:
                    out.append(f"  {o.origin} {o.instance!r}: {o.evidence.detail}")
                    break
            cx = r.counterexample
            if cx is not None:
                d = cx.instance.describe()
                keys = ("seed", "n", "d", "alpha", "log10_alpha", "depth")
                spec = d.get("spec", {})
                bits = []
                for k in keys:
                    v = spec.get(k) if k == "seed" else d.get(k)
                    if v is not None:
                        bits.append(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}")
                extras = {k: v for k, v in d.items() if k not in keys + ("spec", "key", "label")}
                out.append(f"  smallest counterexample ({cx.origin}, after {r.shrink_steps} shrink steps): "
                           f"{', '.join(bits)}" + (f", {extras}" if extras else ""))
                if spec:
                    out.append(f"  problem spec: {spec}")
                out.append(f"  evidence: {cx.evidence.detail}")
                if cx.path:
                    out.append(f"  saved X, y to {cx.path}")
                out.append(f"  reproduce: {cx.reproduce}")
        elif r.verdict == INCONCLUSIVE:
            for o in r.outcomes:
                if o.evidence.verdict == INCONCLUSIVE:
                    rate = o.evidence.flow_rate
                    out.append(f"INCONCLUSIVE {r.claim.id} {o.instance!r}: {o.evidence.detail}"
                               + (f" (measured rate {rate:.3g})" if rate is not None else ""))
    return "\n".join(out)


def report_json(report: Report) -> dict:
    """The full report (schema ``krtheory-verify/1``)."""
    from krtheory import __version__

    return {
        "schema": "krtheory-verify/1",
        "krtheory_version": __version__,
        "seed": report.seed,
        "device": report.device,
        "examples": report.examples,
        "thorough": report.thorough,
        "seconds": round(report.seconds, 3),
        "counts": report.counts,
        "exit_code": report.exit_code,
        "claims": [r.to_json() for r in report.results],
    }


class _Bar:
    """tqdm on stderr, shown only when stderr is a terminal and the run takes > 2 s."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=sys.stderr, delay=2.0, unit="inst", leave=False,
                             dynamic_ncols=True)

    def __call__(self, claim_id: str, done: int) -> None:
        if self._bar is not None:
            self._bar.set_description(claim_id, refresh=False)
            self._bar.update(1)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _select(ids) -> list[Claim]:
    from krtheory.claims.registry import all_claims, get

    if not ids:
        return list(all_claims())
    out, seen = [], set()
    for cid in ids:
        c = get(cid)  # UnknownClaimError names the known ids
        if c.id not in seen:
            out.append(c)
            seen.add(c.id)
    return out


def main(args) -> int:
    """Entry point of ``krtheory verify`` (``args`` from :func:`krtheory.cli.build_parser`)."""
    import krtheory.claims  # noqa: F401 - registers the built-in claims
    from krtheory.claims.registry import UnknownClaimError, all_claims

    if getattr(args, "list", False):
        for c in all_claims():
            print(f"{c.id:16s} {c.source:12s} {c.title}")
        return EXIT_OK
    try:
        claims = _select(getattr(args, "claim", None))
    except UnknownClaimError as exc:
        print(f"krtheory verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from krtheory.dynamics._common import resolve_device

    device = getattr(args, "device", None) or default_device()
    resolve_device(device)  # the engine's own check: a clear error before any claim runs
    json_path = _check_json_path(args.json) if getattr(args, "json", None) else None
    ctx = RunContext(device=device, seed=int(getattr(args, "seed", 0) or 0), thorough=bool(getattr(args, "thorough", False)))
    examples = getattr(args, "examples", None)
    n_total = 0
    per_claim = examples if examples is not None else (THOROUGH_EXAMPLES if ctx.thorough else 0)
    for c in claims:
        try:
            n_total += len(c.default_examples(ctx.seed)) + per_claim
        except Exception:  # noqa: BLE001 - reported by run_claim
            pass
    enabled = not getattr(args, "no_progress", False) and sys.stderr.isatty()
    bar = _Bar(n_total, enabled)
    try:
        report = run(claims, ctx=ctx, examples=examples, counterexample_dir=getattr(args, "counterexamples", None),
                     progress=bar)
    finally:
        bar.close()
    print(format_table(report))
    bounds = format_bounds(report)
    if bounds:
        print()
        print(bounds)
    details = format_details(report)
    if details:
        print()
        print(details)
    if json_path is not None:
        json_path.write_text(json.dumps(report_json(report), indent=1, default=str))
        print(f"\nreport written to {json_path}")
    return report.exit_code


def _check_json_path(path: str) -> Path:
    """Fail before the run, not after it, when the report cannot be written."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"--json {path!r}: cannot create {str(p.parent)!r} ({exc.strerror})") from None
    existed = p.exists()
    try:  # a real open: os.access says yes to root everywhere, /proc included
        with open(p, "a"):
            pass
    except OSError as exc:
        raise InvalidInputError(f"--json {path!r} is not writable ({exc.strerror})") from None
    if not existed:
        p.unlink()
    return p