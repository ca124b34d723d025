"""Input validation shared by every layer.

Every public entry point funnels its arguments through these functions so that bad input fails
early, with a message that names the offending argument, instead of surfacing later as a NaN.
This module imports nothing from the rest of the package (the dynamics engine, which must stay
independent of the derivations, uses it too).
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = [
    "InvalidInputError",
    "as_problem",
    "check_depth",
    "resolve_log_alpha",
    "check_interpolable",
    "check_finite_array",
]


class InvalidInputError(ValueError):
    """Raised for input that cannot describe a valid problem (a ``ValueError``)."""


def _to_numpy(a, name: str) -> np.ndarray:
    # torch tensors are accepted wherever arrays are; detach so validation never builds a graph.
    if hasattr(a, "detach") and hasattr(a, "cpu"):
        a = a.detach().cpu().numpy()
    if np.iscomplexobj(a) or (isinstance(a, (list, tuple)) and np.iscomplexobj(np.asarray(a))):
        # float64 conversion would silently drop the imaginary part
        raise InvalidInputError(f"{name} must be real, got complex entries")
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a real numeric array ({exc})") from None
    return arr


def check_finite_array(a, name: str) -> np.ndarray:
    """Return ``a`` as a float64 array, raising if any entry is NaN or infinite."""
    arr = _to_numpy(a, name)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InvalidInputError(f"{name} has {bad} non-finite entr{'y' if bad == 1 else 'ies'} (NaN or inf)")
    return arr


def as_problem(X, y, *, batched: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a regression problem and return float64 copies ``(X, y)``.

    ``X`` has shape ``(n, d)`` and ``y`` shape ``(n,)``; with ``batched=True`` also ``(B, n, d)``
    and ``(B, n)``. Requires finite entries, matching ``n`` and ``n >= 1``, ``d >= 1``.
    """
    X = check_finite_array(X, "X")
    y = check_finite_array(y, "y")
    allowed = (2, 3) if batched else (2,)
    if X.ndim not in allowed:
        want = "(n, d) or (B, n, d)" if batched else "(n, d)"
        raise InvalidInputError(f"X must have shape {want}, got shape {X.shape}")
    if y.ndim != X.ndim - 1:
        raise InvalidInputError(f"y must have shape {X.shape[:-1]} to match X of shape {X.shape}, got {y.shape}")
    if y.shape != X.shape[:-1]:
        raise InvalidInputError(
            f"shape mismatch: X has shape {X.shape} (n = {X.shape[-2]} samples) but y has shape {y.shape}"
        )
    if X.shape[-2] < 1 or X.shape[-1] < 1:
        raise InvalidInputError(f"X must have at least one row and one column, got shape {X.shape}")
    return X, y


def check_depth(depth) -> float:
    """Validate the depth ``D`` (real, finite, ``D >= 2``) and return it as a float."""
    if isinstance(depth, bool) or not isinstance(depth, Real):
        raise InvalidInputError(f"depth must be a real number >= 2, got {depth!r}")
    D = float(depth)
    if not math.isfinite(D) or D < 2:
        raise InvalidInputError(f"depth must be a finite real number >= 2, got {depth!r}")
    return D


def resolve_log_alpha(alpha=None, log_alpha=None) -> float:
    """Return ``log(alpha)`` from exactly one of ``alpha`` (> 0) or ``log_alpha`` (finite).

    ``log_alpha`` lets callers use initialization scales outside the float range
    (the rich-regime bound of THEORY.md section 3 asks for alpha like exp(-1000)).
    """
    if (alpha is None) == (log_alpha is None):
        raise InvalidInputError("give exactly one of alpha (> 0) or log_alpha")
    if log_alpha is not None:
        if isinstance(log_alpha, bool) or not isinstance(log_alpha, Real) or not math.isfinite(log_alpha):
            raise InvalidInputError(f"log_alpha must be a finite real number, got {log_alpha!r}")
        return float(log_alpha)
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise InvalidInputError(f"alpha must be a positive real number, got {alpha!r}")
    a = float(alpha)
    if not math.isfinite(a) or a <= 0:
        raise InvalidInputError(f"alpha must be finite and > 0, got {alpha!r}")
    return math.log(a)


def check_interpolable(X: np.ndarray, y: np.ndarray, *, rtol: float = 1e-9) -> np.ndarray:
    """Raise unless ``y`` lies in the range of ``X``; return the min-l2 interpolator ``X^+ y``.

    The residual of the least-squares fit is compared with ``rtol * (||X|| ||x_ls|| + ||y||)``,
    the size of the rounding error of a backward-stable solve, so that exactly-consistent systems
    always pass and inconsistent ones (e.g. ``n > rank X``) are named as such.
    """
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = float(np.linalg.norm(X @ beta - y))
    scale = float(np.linalg.norm(X, 2) * np.linalg.norm(beta) + np.linalg.norm(y))
    if resid > rtol * max(scale, np.finfo(float).tiny):
        n, d = X.shape
        hint = f" (n = {n} >= d = {d}: the system is not underdetermined)" if n >= d else ""
        raise InvalidInputError(
            f"y is not in the range of X: no interpolating solution exists "
            f"(least-squares residual {resid:.3e}, relative {resid / max(scale, 1e-300):.3e}){hint}"
        )
    return beta
