"""Reproductions of the paper's experiments: figure (PNG), CSV of every plotted number, summary.json.

``krtheory reproduce --list`` shows them; :func:`run_reproduction` is the Python entry point.
Each experiment is one module in :mod:`krtheory.reproduce.experiments` (see
:mod:`krtheory.reproduce.registry`); results are cached per point so runs resume after an
interruption.
"""
from __future__ import annotations

from krtheory.reproduce.registry import Check, Comparison, Experiment, Report, all_experiments, get_experiment
from krtheory.reproduce.runner import ReproductionOutcome, main, resolve_params, run_reproduction

__all__ = ["Check", "Comparison", "Experiment", "Report", "ReproductionOutcome", "all_experiments",
           "get_experiment", "main", "resolve_params", "run_reproduction"]
