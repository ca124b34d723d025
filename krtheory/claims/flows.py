"""Cached access to the independent witnesses (the integrated dynamics) and to the solvers.

Every claim obtains flows through :func:`flow` so that claims sharing ``(problem, alpha, D, init,
options)`` integrate once per run. The dynamics engine is imported lazily: a claim that does not
integrate never loads torch's integrators.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from krtheory.claims.base import FlowNote
from krtheory.claims.context import RunContext
from krtheory.strategies import Instance, Problem

__all__ = ["FlowRequest", "plan", "flow", "flow_note", "solve", "l1", "l2", "array_key", "rel_dist"]


def array_key(a) -> Any:
    """A hashable stand-in for an array argument (content hash)."""
    if a is None:
        return None
    if isinstance(a, (tuple, list)):
        return tuple(array_key(x) for x in a)
    if isinstance(a, np.ndarray):
        import hashlib

        return (a.shape, hashlib.sha1(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()[:16])
    return a


def flow_note(result) -> FlowNote:
    """Summarize a :class:`krtheory.dynamics.FlowResult` (unbatched) as a :class:`FlowNote`."""
    success = bool(np.all(np.asarray(getattr(result, "success", False))))
    status = getattr(result, "status", "unknown")
    if isinstance(status, (list, tuple, np.ndarray)):
        status = ",".join(map(str, np.ravel(status)))
    rate = getattr(result, "rate", None)
    rate = None if rate is None else float(np.max(np.asarray(rate, dtype=float)))
    loss = getattr(result, "loss", None)
    loss = None if loss is None else float(np.max(np.asarray(loss, dtype=float)))
    t = getattr(result, "time", getattr(result, "t", None))
    t = None if t is None else float(np.max(np.asarray(t, dtype=float)))
    return FlowNote(success, str(status), rate, loss, t)


@dataclass(frozen=True)
class FlowRequest:
    """A flow a check will ask for: lets the runner batch flows of equal shape into one call."""

    problem: Problem
    alpha: float
    depth: float
    init: Any = None
    options: tuple = ()


FLOW_MAX_STEPS = 20_000  # the claims' step cap: the default instances need < 1,000 steps (measured)


def _opts(options: dict) -> dict:
    out = dict(options)
    out.setdefault("max_steps", FLOW_MAX_STEPS)
    return out


def _flow_key(problem: Problem, alpha: float, depth: float, init, options: dict, device: str):
    return ("flow", problem.key, float(alpha), float(depth), array_key(init),
            tuple(sorted((k, array_key(v)) for k, v in options.items())), device)


def _group_key(problem: Problem, depth: float, init, options: dict, device: str):
    return (problem.n, problem.d, float(depth), array_key(init),
            tuple(sorted((k, array_key(v)) for k, v in options.items())), device)


def plan(ctx: RunContext, requests) -> None:
    """Register flows that will be needed; the first one asked for computes its whole group
    (same n, d, D, init and options) in a single batched ``gradient_flow`` call."""
    groups = ctx.__dict__.setdefault("_flow_plan", {})
    for r in requests:
        opts = _opts(dict(r.options))
        key = _flow_key(r.problem, r.alpha, r.depth, r.init, opts, ctx.device)
        if key in ctx._cache:
            continue
        g = groups.setdefault(_group_key(r.problem, r.depth, r.init, opts, ctx.device), {})
        g[key] = r


def _slice(result, b: int):
    """The ``b``-th problem of a batched FlowResult, as an unbatched FlowResult."""
    import dataclasses

    out = {}
    for f in dataclasses.fields(result):
        v = getattr(result, f.name)
        if f.name == "history":
            v = (v[0][b], v[1][b])
        elif isinstance(v, np.ndarray) and v.ndim >= 1:
            v = v[b]
            if isinstance(v, np.ndarray) and v.ndim == 0:
                v = v.item()
            elif not isinstance(v, np.ndarray) and hasattr(v, "item"):
                v = v.item()
        out[f.name] = v
    return type(result)(**out)


def flow(ctx: RunContext, problem: Problem, *, alpha: float | None = None, log_alpha: float | None = None,
         depth: float = 2.0, init=None, **options):
    """``gradient_flow(problem.X, problem.y, alpha, depth, init=init, device=ctx.device, **options)``,
    cached (and batched with the planned flows of the same shape, see :func:`plan`). The step cap is
    ``FLOW_MAX_STEPS`` unless ``max_steps`` is given: a drawn instance that needs more is reported
    inconclusive with its measured rate instead of stalling the run."""
    from krtheory.dynamics import gradient_flow

    if alpha is None:
        if log_alpha is None:
            raise ValueError("flow needs alpha or log_alpha")
        alpha = math.exp(log_alpha)
    options = _opts(options)
    key = _flow_key(problem, alpha, depth, init, options, ctx.device)
    if key in ctx._cache:
        return ctx.memo(key, lambda: None)
    groups = ctx.__dict__.setdefault("_flow_plan", {})
    gkey = _group_key(problem, depth, init, options, ctx.device)
    group = groups.get(gkey, {})
    if key in group and len(group) > 1:
        reqs = list(group.values())
        keys = list(group.keys())
        del groups[gkey]
        X = np.stack([r.problem.X for r in reqs])
        y = np.stack([r.problem.y for r in reqs])
        a = np.array([r.alpha for r in reqs], dtype=np.float64)
        res = ctx.memo(("flow-batch",) + gkey + (tuple(keys),),
                       lambda: gradient_flow(X, y, a, depth, init=init, device=ctx.device, **options))
        for b, k in enumerate(keys):
            ctx._cache[k] = _slice(res, b)
        return ctx._cache[key]
    group.pop(key, None)
    return ctx.memo(key, lambda: gradient_flow(problem.X, problem.y, float(alpha), depth, init=init,
                                               device=ctx.device, **options))


def solve(ctx: RunContext, problem: Problem, *, log_alpha: float, depth: float):
    """``implicit_bias_solution(X, y, depth=D, log_alpha=log_alpha)``, cached; raises if it failed."""
    from krtheory.solvers import implicit_bias_solution

    key = ("solve", problem.key, float(log_alpha), float(depth))

    def compute():
        res = implicit_bias_solution(problem.X, problem.y, depth=depth, log_alpha=float(log_alpha))
        if not res.success:
            raise RuntimeError(f"implicit_bias_solution did not converge at log alpha = {log_alpha:.6g}, "
                               f"D = {depth}: {res.message}")
        return res

    return ctx.memo(key, compute)


def l1(ctx: RunContext, problem: Problem):
    from krtheory.solvers import min_l1_interpolator

    return ctx.memo(("l1", problem.key), lambda: min_l1_interpolator(problem.X, problem.y))


def l2(ctx: RunContext, problem: Problem):
    from krtheory.solvers import min_l2_interpolator

    return ctx.memo(("l2", problem.key), lambda: min_l2_interpolator(problem.X, problem.y))


def rel_dist(a, b) -> float:
    """``||a - b|| / ||b||`` (``||a - b||`` when ``b`` is zero)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    nb = float(np.linalg.norm(b))
    d = float(np.linalg.norm(a - b))
    return d / nb if nb > 0 else d


def instance_alpha(inst: Instance) -> float:
    a = inst.alpha
    if a is None:
        raise ValueError(f"instance {inst!r} has no float alpha")
    return a
