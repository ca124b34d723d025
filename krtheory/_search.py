"""A seeded hypothesis search that shrinks the first failure within a time budget.

Shared by ``krtheory verify`` (claims) and :func:`krtheory.check` (a user's conjecture): both draw
instances from a strategy, run an expensive check on each (an integrated flow), and want the
smallest failing instance hypothesis can find without shrinking for ever.
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable


def instance_key(inst) -> tuple:
    """A hashable identity of an :class:`~krtheory.strategies.Instance` (problem, alpha, D, params)."""
    from krtheory.claims.flows import array_key
    from krtheory.strategies import Instance

    if not isinstance(inst, Instance):
        return ("object", id(inst))
    pk = None if inst.problem is None else inst.problem.key
    return (pk, inst.log_alpha, inst.depth, tuple(sorted((k, array_key(v)) for k, v in inst.params.items())))


def budgeted_find(strategy, evaluate: Callable[[Any], tuple[bool, Any]], *, max_examples: int, seed: int,
                  shrink_budget_s: float, on_drawn: Callable[[Any, Any, float], None] | None = None):
    """Search ``strategy`` for an instance where ``evaluate(instance) -> (failed, payload)`` fails.

    ``on_drawn(instance, payload, seconds)`` is called for every instance checked before the first
    failure (and for that failure): the evidence of the search. Once an instance fails, hypothesis
    shrinks it; after ``shrink_budget_s`` seconds further candidates are declined unchecked, so the
    smallest failure confirmed so far is kept. Verdicts are memoized by :func:`instance_key`
    because hypothesis replays its final example.

    Returns ``(smallest_failing_instance_or_None, shrink_steps)``.
    """
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    failed_at: list[float] = []
    shrinks = 0
    verdicts: dict = {}

    def fails(inst) -> bool:
        nonlocal shrinks
        key = instance_key(inst)
        if key in verdicts:
            return verdicts[key]
        if failed_at:
            if time.perf_counter() - failed_at[0] > shrink_budget_s:
                return False
            shrinks += 1
        t0 = time.perf_counter()
        failed, payload = evaluate(inst)
        verdicts[key] = failed
        if not failed_at:
            if on_drawn is not None:
                on_drawn(inst, payload, time.perf_counter() - t0)
            if failed:
                failed_at.append(time.perf_counter())
        return failed

    cfg = settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
                   phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                   report_multiple_bugs=False)
    try:
        found = find(strategy, fails, settings=cfg, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        found = None
    return found, shrinks
