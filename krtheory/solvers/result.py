"""The result object shared by every interpolation solver (scipy.optimize-like, frozen)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from krtheory._validation import as_problem, check_interpolable

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny


# --------------------------------------------------------------------------------------------
# result object
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class InterpolationResult:
    """Result of an interpolation solver (scipy.optimize-like).

    Attributes
    ----------
    x : np.ndarray, shape (d,), float64
        The interpolator (``beta`` is an alias). Never contains NaN.
    success : bool
        True when the KKT conditions hold to the requested tolerance (or to rounding level).
    message : str
        Human-readable status.
    nit : int
        Newton (or LP simplex/IPM) iterations.
    kkt_residual : float
        ``max(primal_residual, stationarity_residual)``; see the module docstring.
    primal_residual : float
        ``||X x - y||_2 / max(||y||_2, tiny)``.
    dual : np.ndarray or None, shape (n,)
        The dual variable: ``beta = alpha^D h_D(X^T nu)`` for the implicit-bias solver (D = 2:
        ``h_2 = 2 sinh``), the LP multiplier ``lambda`` (``|X^T lambda| <= 1``) for min-l1,
        ``nu`` with ``beta = X^T nu`` for min-l2.  Normalization-free.
    info : dict
        Method-specific diagnostics (``edge``, ``regime``, ``unique``, ``margin``, ``support``...).
    """

    x: np.ndarray
    success: bool
    message: str
    nit: int
    kkt_residual: float
    primal_residual: float
    dual: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def beta(self) -> np.ndarray:
        return self.x

    def summary(self) -> str:
        lines = [
            f"{self.info.get('method', 'interpolation')}: {'success' if self.success else 'FAILURE'}"
            f" -- {self.message}",
            f"  d = {self.x.size}, nit = {self.nit}, kkt_residual = {self.kkt_residual:.3e},"
            f" primal_residual = {self.primal_residual:.3e}",
            f"  ||x||_1 = {np.sum(np.abs(self.x)):.12g}, ||x||_2 = {np.linalg.norm(self.x):.12g}",
        ]
        skip = {"method", "support"}
        extra = {k: v for k, v in self.info.items() if k not in skip and np.isscalar(v)}
        if extra:
            lines.append("  " + ", ".join(f"{k} = {_fmt(v)}" for k, v in extra.items()))
        if "support" in self.info:
            s = self.info["support"]
            lines.append(f"  support ({len(s)}): {list(s)[:20]}{' ...' if len(s) > 20 else ''}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"InterpolationResult(method={self.info.get('method')!r}, success={self.success}, "
            f"nit={self.nit}, kkt_residual={self.kkt_residual:.3e}, "
            f"primal_residual={self.primal_residual:.3e}, d={self.x.size}, message={self.message!r})"
        )


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _primal_residual(X, x, y) -> float:
    """||X x - y|| / ||y||; for y = 0 (only the tilted potential has beta != 0 there) relative to
    the size of the terms, || |X| |x| ||, so that it stays a scale-free number."""
    ny = float(np.linalg.norm(y))
    if ny == 0.0:
        ny = float(np.linalg.norm(np.abs(X) @ np.abs(x)))
    return float(np.linalg.norm(X @ x - y) / max(ny, _TINY))


def _zero_result(X, y, method: str, info: dict) -> InterpolationResult:
    n, d = X.shape
    return InterpolationResult(
        x=np.zeros(d), success=True, message="y = 0: the interpolator is beta = 0", nit=0,
        kkt_residual=0.0, primal_residual=0.0, dual=np.zeros(n), info={"method": method, **info},
    )


def _problem(X, y):
    X, y = as_problem(X, y)
    check_interpolable(X, y)
    return X, y
