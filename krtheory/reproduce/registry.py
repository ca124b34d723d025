"""The experiment registry: one module per experiment under ``krtheory/reproduce/experiments/``.

A new reproduction is a new module in that package that defines a module-level ``EXPERIMENT``
(an :class:`Experiment`); it is discovered automatically, nothing else needs editing.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from krtheory._validation import InvalidInputError

__all__ = ["Experiment", "Check", "Comparison", "Report", "all_experiments", "get_experiment"]


@dataclass(frozen=True)
class Check:
    """A key fact that a reproduction asserts about the data it wrote (not about the figure)."""

    name: str
    passed: bool
    measured: Any
    expected: str
    detail: str = ""


@dataclass(frozen=True)
class Comparison:
    """One line of the summary table: the paper's number (quoted, or None) next to the measured one."""

    quantity: str
    measured: Any
    paper: Any = None
    unit: str = ""
    note: str = ""


@dataclass(frozen=True)
class Report:
    """What an experiment's ``run`` returns; the runner writes it out.

    ``rows`` become the CSV (every plotted number, one dict per row, columns = union of keys);
    ``figure`` is a :class:`matplotlib.figure.Figure` (Agg, never pyplot); ``extra`` goes
    verbatim into ``summary.json`` (JSON-serializable).
    """

    rows: tuple[dict, ...]
    figure: Any
    comparisons: tuple[Comparison, ...] = ()
    checks: tuple[Check, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction.

    ``defaults(quick)`` gives the size/setting parameters; ``validate(params)`` raises
    :class:`InvalidInputError` for impossible sizes before anything runs; ``run(ctx)`` computes
    the :class:`Report` (``ctx.params`` holds the validated parameters).
    ``unconfirmed`` lists settings of the paper that THEORY.md section 8 marks as unconfirmed;
    they are printed and written into ``summary.json``.
    """

    name: str
    title: str
    figure_ref: str
    order: int
    defaults: Callable[[bool], dict]
    validate: Callable[[dict], None]
    run: Callable[[Any], Report]
    unconfirmed: tuple[str, ...] = ()
    description: str = ""
    version: str = "1"   # bump to invalidate cached points when the computation changes


_REGISTRY: dict[str, Experiment] | None = None


def _discover() -> dict[str, Experiment]:
    from krtheory.reproduce import experiments as pkg

    found: dict[str, Experiment] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        exp = getattr(module, "EXPERIMENT", None)
        if exp is None:
            continue
        if exp.name in found:
            raise RuntimeError(f"two experiments named {exp.name!r}")
        found[exp.name] = exp
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def all_experiments() -> Mapping[str, Experiment]:
    """All registered experiments, in presentation order (read-only mapping)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _discover()
    return MappingProxyType(_REGISTRY)


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; :class:`InvalidInputError` listing the known ones otherwise."""
    reg = all_experiments()
    if name not in reg:
        raise InvalidInputError(f"unknown reproduction {name!r}; known: {', '.join(reg)} (or 'all')")
    return reg[name]
