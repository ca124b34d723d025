"""``krtheory.check``: test your own conjecture against the integrated gradient flow.

A conjecture is a predicate on a :class:`FlowCase` (the instance and the flow's limit). The
function draws instances from a hypothesis strategy (seeded, reproducible), integrates the raw
parameter flow for each (the witness is the dynamics engine, never the implicit-bias solver),
evaluates the predicate, and returns a :class:`CheckResult`: either the evidence that it held, or
the *shrunk* counterexample hypothesis found. Example (a deliberately false threshold)::

    import krtheory
    from krtheory import strategies as kst

    def conjecture(case):
        # "alpha <= 0.5 already puts the flow within 1% of the min-l1 norm"  (false)
        if case.alpha > 0.5:
            return True
        return case.l1_norm <= 1.01 * case.min_l1_norm

    result = krtheory.check(conjecture, kst.instances(kst.problems(n=(2, 4), d=(4, 8)),
                                                       kst.alphas(0.05, 2.0)), max_examples=15)
    print(result)               # REFUTED ... smallest counterexample: ...

A flow that does not converge within its cap makes that instance *inconclusive*: it is recorded
(with the measured rate) and neither supports nor refutes the conjecture.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping

import numpy as np

from krtheory._search import budgeted_find
from krtheory._validation import InvalidInputError
from krtheory.strategies import Instance

__all__ = ["FlowCase", "CaseRecord", "CheckResult", "check"]


@dataclass(frozen=True, eq=False)
class FlowCase:
    """What a conjecture sees: the instance and the limit of the flow integrated on it.

    Attributes:
        instance: the drawn :class:`~krtheory.strategies.Instance`.
        flow: the :class:`krtheory.dynamics.FlowResult`.
        beta: ``(d,)`` float64, the flow's end point ``w+^D - w-^D``.
    """

    instance: Instance
    flow: Any
    beta: np.ndarray

    @property
    def X(self) -> np.ndarray:
        return self.instance.problem.X

    @property
    def y(self) -> np.ndarray:
        return self.instance.problem.y

    @property
    def alpha(self) -> float:
        return self.instance.alpha

    @property
    def depth(self) -> float:
        return self.instance.depth

    @property
    def l1_norm(self) -> float:
        return float(np.sum(np.abs(self.beta)))

    @property
    def l2_norm(self) -> float:
        return float(np.linalg.norm(self.beta))

    @cached_property
    def min_l1_norm(self) -> float:
        """``||beta*_l1||_1`` from the LP (HiGHS), a reference for conjectures about the rich regime."""
        from krtheory.solvers import min_l1_interpolator

        return float(np.sum(np.abs(min_l1_interpolator(self.X, self.y).x)))

    @cached_property
    def min_l2_norm(self) -> float:
        """``||X^+ y||_2``, a reference for conjectures about the kernel regime."""
        from krtheory.solvers import min_l2_interpolator

        return float(np.linalg.norm(min_l2_interpolator(self.X, self.y).x))


@dataclass(frozen=True)
class CaseRecord:
    """One evaluated instance: ``holds`` is True / False, or None when the flow did not converge."""

    instance: Instance
    holds: bool | None
    message: str
    flow_status: str
    flow_rate: float | None
    seconds: float


@dataclass(frozen=True)
class CheckResult:
    """Outcome of :func:`check`.

    Attributes:
        refuted: True when a counterexample was found.
        counterexample: the shrunk failing :class:`FlowCase` (``None`` if not refuted).
        message: the predicate's message on the counterexample (an ``AssertionError`` text).
        records: every instance evaluated before the first failure (the evidence).
        shrink_steps: how many candidates hypothesis tried while shrinking.
        seed, max_examples, seconds: how the search ran.
    """

    refuted: bool
    counterexample: FlowCase | None
    message: str
    records: tuple[CaseRecord, ...]
    shrink_steps: int
    seed: int
    max_examples: int
    seconds: float
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def supported(self) -> int:
        return sum(1 for r in self.records if r.holds is True)

    @property
    def inconclusive(self) -> int:
        return sum(1 for r in self.records if r.holds is None)

    @property
    def holds(self) -> bool | None:
        """False if refuted; True if it held on at least one conclusive case; None otherwise."""
        if self.refuted:
            return False
        return True if self.supported else None

    def __str__(self) -> str:
        if self.refuted:
            cx = self.counterexample
            inst = cx.instance
            p = inst.problem
            lines = [
                f"REFUTED after {len(self.records)} instances ({self.supported} held, "
                f"{self.inconclusive} inconclusive) and {self.shrink_steps} shrink steps, {self.seconds:.1f} s",
                f"smallest counterexample: {inst!r}",
                f"  seed {p.seed}, n = {p.n}, d = {p.d}, alpha = {inst.alpha:.6g}, D = {inst.depth:g}",
                f"  flow: {getattr(cx.flow, 'status', '?')}, ||beta||_1 = {cx.l1_norm:.6g}",
            ]
            if self.message:
                lines.append(f"  {self.message}")
            lines.append(f"  rebuild the problem: krtheory.strategies.make_problem(**{dict(p.spec)!r})")
            return "\n".join(lines)
        verdict = "HELD" if self.supported else "NO CONCLUSIVE EVIDENCE"
        return (f"{verdict} on {self.supported} of {len(self.records)} instances "
                f"({self.inconclusive} inconclusive: flow not converged), seed {self.seed}, {self.seconds:.1f} s")


def check(
    statement: Callable[[FlowCase], bool],
    strategy,
    *,
    max_examples: int = 20,
    seed: int = 0,
    device: str | None = None,
    flow_options: Mapping[str, Any] | None = None,
    shrink_budget_s: float = 60.0,
) -> CheckResult:
    """Run ``statement`` on flows integrated over instances drawn from ``strategy``.

    Args:
        statement: ``FlowCase -> bool`` (or ``None``, meaning it held); raising ``AssertionError``
            counts as False and its message is kept. Other exceptions propagate (a bug in the
            predicate is not evidence).
        strategy: a hypothesis strategy of :class:`~krtheory.strategies.Instance` (e.g.
            ``krtheory.strategies.instances(...)``); each needs a problem and a float alpha.
        max_examples: instances to draw before declaring the statement supported.
        seed: seeds hypothesis's generator (the same seed replays the same search).
        device: torch device for the flows (default: CUDA if available).
        flow_options: extra keyword arguments for :func:`krtheory.dynamics.gradient_flow`
            (default step cap ``max_steps=50_000``: beyond it an instance is inconclusive).
        shrink_budget_s: wall-clock budget for shrinking a counterexample.

    Returns: a :class:`CheckResult`.
    """
    from hypothesis.strategies import SearchStrategy

    from krtheory.dynamics import gradient_flow

    if not callable(statement):
        raise InvalidInputError(f"statement must be callable (FlowCase -> bool), got {type(statement).__name__}")
    if not isinstance(strategy, SearchStrategy):
        raise InvalidInputError(f"strategy must be a hypothesis SearchStrategy of Instance, got {type(strategy).__name__}")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise InvalidInputError(f"max_examples must be a positive integer, got {max_examples!r}")
    opts = dict(flow_options or {})
    opts.setdefault("max_steps", 50_000)  # a flow that needs more is inconclusive (rate reported)
    cache: dict = {}

    def run_flow(inst: Instance):
        if not isinstance(inst, Instance) or inst.problem is None:
            raise InvalidInputError(f"strategy must produce Instance objects with a problem, got {inst!r}")
        if inst.alpha is None:
            raise InvalidInputError(f"instance {inst!r} needs a float alpha to integrate the flow")
        key = (inst.problem.key, inst.log_alpha, inst.depth)
        if key not in cache:
            cache[key] = gradient_flow(inst.problem.X, inst.problem.y, inst.alpha, inst.depth,
                                       device=device, **opts)
        return cache[key]

    records: list[CaseRecord] = []

    def evaluate(inst: Instance) -> tuple[bool | None, str, Any]:
        res = run_flow(inst)
        if not bool(np.all(getattr(res, "success", False))):
            return None, f"flow did not converge: {getattr(res, 'status', '?')}", res
        case = FlowCase(inst, res, np.asarray(res.beta, dtype=np.float64))
        try:
            out = statement(case)
        except AssertionError as exc:
            return False, str(exc) or "assertion failed", res
        if out is None:
            return True, "", res
        return bool(out), "", res

    def record(inst: Instance, outcome, seconds: float) -> None:
        holds, msg, res = outcome
        rate = getattr(res, "rate", None)
        records.append(CaseRecord(inst, holds, msg, str(getattr(res, "status", "?")),
                                  None if rate is None else float(np.max(rate)), seconds))

    def judged(inst: Instance):
        outcome = evaluate(inst)
        return outcome[0] is False, outcome

    t0 = time.perf_counter()
    found, shrinks = budgeted_find(strategy, judged, max_examples=max_examples, seed=seed,
                                   shrink_budget_s=shrink_budget_s, on_drawn=record)
    cex, message = None, ""
    if found is not None:
        holds, message, res = evaluate(found)
        cex = FlowCase(found, res, np.asarray(res.beta, dtype=np.float64))
    return CheckResult(found is not None, cex, message, tuple(records), shrinks, int(seed),
                       max_examples, time.perf_counter() - t0, opts)


# ``krtheory.check`` resolves to this module (the package exports modules lazily by name); make
# the module itself callable so that ``krtheory.check(statement, strategy, ...)`` works while
# ``krtheory.check.FlowCase`` etc. stay reachable.
import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, statement, strategy, **kwargs) -> CheckResult:
        return check(statement, strategy, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
