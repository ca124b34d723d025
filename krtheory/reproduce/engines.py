"""Thin adapters from the reproductions to the solver and dynamics layers.

Every call into :mod:`krtheory.solvers`, :mod:`krtheory.regularizers` and
:mod:`krtheory.dynamics` goes through here and comes back as a plain, JSON-serializable dict,
so results can be cached per point and the experiments do not depend on the layers' result
classes.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["solve", "solve_l1", "solve_l2", "solve_distance", "flow"]


def solve(X, y, depth: float, *, log_alpha: float) -> dict:
    """``argmin Q_alpha^D s.t. X beta = y`` by the dual Newton solver (THEORY.md s2, s4)."""
    from krtheory.solvers import implicit_bias_solution

    r = implicit_bias_solution(X, y, depth=depth, log_alpha=float(log_alpha))
    return {"beta": np.asarray(r.x, dtype=np.float64), "success": bool(r.success), "message": str(r.message),
            "nit": int(r.nit), "kkt_residual": float(r.kkt_residual), "regime": str(r.info.get("regime", ""))}


def solve_l1(X, y) -> dict:
    from krtheory.solvers import min_l1_interpolator

    r = min_l1_interpolator(X, y)
    return {"beta": np.asarray(r.x, dtype=np.float64), "success": bool(r.success),
            "unique": bool(r.info.get("unique", False)), "margin": float(r.info.get("margin", math.nan))}


def solve_l2(X, y) -> dict:
    from krtheory.solvers import min_l2_interpolator

    r = min_l2_interpolator(X, y)
    return {"beta": np.asarray(r.x, dtype=np.float64), "success": bool(r.success)}


def solve_distance(X, y, alpha: float) -> dict:
    """``argmin R_alpha s.t. X beta = y``, the parameter-distance regularizer (THEORY.md s6, D = 2)."""
    from krtheory.regularizers import min_distance_interpolator

    r = min_distance_interpolator(X, y, float(alpha))
    return {"beta": np.asarray(r.x, dtype=np.float64), "success": bool(r.success), "nit": int(r.nit),
            "kkt_residual": float(r.kkt_residual)}


def _first(v):
    a = np.asarray(v).reshape(-1)
    return a[0].item() if a.dtype != object else a[0]


def flow(X, y, alpha: float, depth: float, *, device=None, **options) -> dict:
    """Integrate the parameter-space gradient flow (paper's sum loss) from w+ = w- = alpha 1.

    ``options`` go to :func:`krtheory.dynamics.gradient_flow` (tol, rtol, t_max, max_steps,
    method, coordinates). Returns ``beta`` (d,), ``status`` (the engine's stop reason),
    ``converged`` (the engine's ``success``: loss at tol, or stagnated at the float floor of the
    loss), ``steps`` (accepted integrator steps), ``time`` (flow time reached), ``loss`` (final,
    sum normalization), ``method`` (integrators used) and ``message``.
    """
    from krtheory.dynamics import gradient_flow

    r = gradient_flow(X, y, float(alpha), depth, device=device, **options)
    return {"beta": np.asarray(r.beta, dtype=np.float64).reshape(-1), "status": str(_first(r.status)),
            "converged": bool(_first(r.success)), "steps": int(_first(r.steps)), "time": float(_first(r.time)),
            "loss": float(_first(r.loss)), "method": str(_first(r.method)), "message": str(_first(r.message))}

