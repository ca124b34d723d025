"""Claim, Evidence and the verdict logic shared by every claim.

A claim is one result of THEORY.md sections 2-9 (a theorem of the paper, a derived fact, or an
unconfirmed reading), together with how to test it: a hypothesis strategy of inputs, a fixed seeded
set of default inputs for ``krtheory verify``, a check that compares an *independent* computation
(the integrated flow, mpmath, an LP) with the *prediction*, a tolerance with its justification,
and a mutation (the same check against a slightly wrong prediction, which must fail).

Verdicts: ``pass`` (every sub-check within tolerance), ``fail`` (some sub-check outside it, or a
non-finite number where a number was due), ``inconclusive`` (a flow that did not converge within
its cap: the measured rate is reported, and it never counts as a pass).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from hypothesis.strategies import SearchStrategy

from krtheory.strategies import Instance

__all__ = ["PASS", "FAIL", "INCONCLUSIVE", "SubCheck", "Evidence", "Claim", "evidence", "combine_verdicts"]

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
_ORDER = {PASS: 0, INCONCLUSIVE: 1, FAIL: 2}


@dataclass(frozen=True)
class SubCheck:
    """One measured comparison: ``deviation <= tolerance`` (both >= 0, same units).

    ``name`` says what was compared ("||b_flow - b_Q|| / ||b_Q||", "slope + 2D" ...).
    """

    name: str
    deviation: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return math.isfinite(self.deviation) and self.deviation <= self.tolerance

    @property
    def ratio(self) -> float:
        if not math.isfinite(self.deviation):
            return math.inf
        return self.deviation / self.tolerance if self.tolerance > 0 else (0.0 if self.deviation <= 0 else math.inf)


@dataclass(frozen=True)
class FlowNote:
    """What the check needs to know about a flow it ran: did it converge, and how fast."""

    converged: bool
    status: str
    rate: float | None = None
    loss: float | None = None
    time: float | None = None


@dataclass(frozen=True)
class Evidence:
    """The outcome of one check on one instance.

    Attributes:
        deviation, tolerance: of the decisive sub-check (the one with the largest deviation /
            tolerance ratio).
        verdict: ``pass`` / ``fail`` / ``inconclusive``.
        detail: one human-readable line.
        subchecks: every comparison made.
        flow_status, flow_rate: of the worst flow run (``None`` when no flow was run); the rate is
            the measured loss decay rate (1/time) at the end of the run.
        metrics: extra numbers worth reporting (e.g. how conservative a bound is).
    """

    deviation: float
    tolerance: float
    verdict: str
    detail: str = ""
    subchecks: tuple[SubCheck, ...] = ()
    flow_status: str | None = None
    flow_rate: float | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return SubCheck("", self.deviation, self.tolerance).ratio

    def to_json(self) -> dict:
        return {
            "deviation": _finite_or_str(self.deviation),
            "tolerance": _finite_or_str(self.tolerance),
            "verdict": self.verdict,
            "detail": self.detail,
            "subchecks": [
                {"name": s.name, "deviation": _finite_or_str(s.deviation), "tolerance": s.tolerance,
                 "passed": s.passed}
                for s in self.subchecks
            ],
            "flow_status": self.flow_status,
            "flow_rate": _finite_or_str(self.flow_rate),
            "metrics": {k: _finite_or_str(v) for k, v in self.metrics.items()},
        }


def _finite_or_str(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def evidence(
    subchecks: Sequence[SubCheck],
    *,
    flows: Sequence[FlowNote] = (),
    detail: str = "",
    metrics: Mapping[str, Any] | None = None,
) -> Evidence:
    """Build an :class:`Evidence` from sub-checks and the flows behind them.

    A non-converged flow makes the verdict ``inconclusive`` whatever the sub-checks say: its end
    point is not the limit the claim is about, so it can neither pass nor refute the claim.
    """
    if not subchecks:
        raise ValueError("evidence needs at least one sub-check")
    worst = max(subchecks, key=lambda s: s.ratio)
    failed = any(not s.passed for s in subchecks)
    stuck = [f for f in flows if not f.converged]
    verdict = FAIL if failed and not stuck else (INCONCLUSIVE if stuck else PASS)
    note = stuck[0] if stuck else (flows[0] if flows else None)
    if not detail:
        detail = "; ".join(f"{s.name} = {s.deviation:.3g} (tol {s.tolerance:.3g})" for s in subchecks)
    if stuck:
        detail = (f"flow did not converge ({note.status}, loss {note.loss:.3g}, rate {note.rate:.3g}/time); "
                  + detail) if note.loss is not None and note.rate is not None else f"flow did not converge ({note.status}); " + detail
    return Evidence(
        deviation=float(worst.deviation),
        tolerance=float(worst.tolerance),
        verdict=verdict,
        detail=detail,
        subchecks=tuple(subchecks),
        flow_status=None if note is None else note.status,
        flow_rate=None if note is None else note.rate,
        metrics=dict(metrics or {}),
    )


def combine_verdicts(verdicts) -> str:
    """fail beats inconclusive beats pass; an empty list is a pass of nothing (callers avoid it)."""
    out = PASS
    for v in verdicts:
        if _ORDER[v] > _ORDER[out]:
            out = v
    return out


CheckFn = Callable[[Instance, Any], Evidence]


@dataclass(frozen=True)
class Claim:
    """A registered, testable statement.

    Attributes:
        id: short stable identifier (``T1``, ``T3-limits``, ``K-kernel`` ...).
        title: a few words.
        statement: the claim in one or two sentences, with the quantities compared.
        source: ``"Theorem 1"`` ... for the paper's results, ``"derived"``, or ``"unconfirmed"``.
        reference: where it is stated (``"THEORY.md s2"``).
        strategy: hypothesis strategy of instances for ``--examples N`` / ``--thorough``.
        default_examples: ``seed -> tuple[Instance]``, the embedded fixed inputs of the default run.
        check: ``(instance, ctx) -> Evidence`` with the true prediction.
        tolerance_reason: why the tolerance is right.
        mutation: ``(instance, ctx) -> Evidence``, the same comparison against a perturbed
            prediction; must fail on ``mutation_examples``.
        mutation_description: what is perturbed, and by how much.
        mutation_examples: ``seed -> tuple[Instance]`` where the claim is sensitive (default: the
            default examples).
        thorough_strategy: a wider strategy for ``--thorough`` (default: ``strategy``).
        flow_requests: ``instance -> [FlowRequest]``, the flows its check will integrate, so the
            runner can batch the default instances' flows of equal shape into one call.
    """

    id: str
    title: str
    statement: str
    source: str
    reference: str
    strategy: SearchStrategy
    default_examples: Callable[[int], tuple[Instance, ...]]
    check: CheckFn
    tolerance_reason: str
    mutation: CheckFn
    mutation_description: str
    mutation_examples: Callable[[int], tuple[Instance, ...]] | None = None
    thorough_strategy: SearchStrategy | None = None
    flow_requests: Callable[[Instance], Sequence[Any]] | None = None

    def sensitive_examples(self, seed: int = 0) -> tuple[Instance, ...]:
        f = self.mutation_examples or self.default_examples
        return tuple(f(seed))

    def describe(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "source": self.source,
            "reference": self.reference,
            "tolerance_reason": self.tolerance_reason,
            "mutation": self.mutation_description,
        }
