"""Thin adapters from the reproductions to the solver and dynamics layers.

Every call into :mod:`krtheory.solvers`, :mod:`krtheory.regularizers` and
:mod:`krtheory.dynamics` goes through here and comes back as a plain, JSON-serializable dict,
so results can be cached per point and the experiments do not depend on the layers' result
classes.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["solve", "solve_l1", "solve_l2", "flow"]


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


def flow(X, y, alpha: float, depth: float, *, device=None, **options) -> dict:
    """Integrate the parameter-space gradient flow (paper's sum loss) from w+ = w- = alpha 1.

    Returns ``beta`` (d,), ``status`` (the engine's stop reason), ``converged`` (stopped because
    the loss reached its tolerance), ``steps`` (integrator steps), ``time`` (flow time reached)
    and ``loss`` (final loss).
    """
    from krtheory.dynamics import gradient_flow

    r = gradient_flow(X, y, float(alpha), depth, device=device, **options)
    status = str(np.asarray(r.status).reshape(-1)[0]) if not isinstance(r.status, str) else r.status
    beta = np.asarray(r.beta, dtype=np.float64).reshape(-1)
    out = {"beta": beta, "status": status, "steps": int(np.asarray(r.steps).reshape(-1)[0]),
           "time": float(np.asarray(r.time).reshape(-1)[0])}
    loss = getattr(r, "loss", None)
    out["loss"] = float(np.asarray(loss).reshape(-1)[0]) if loss is not None else math.nan
    out["converged"] = status in ("converged", "tol", "loss_tol", "success")
    return out
