"""Small statistics used by several reproductions (log-log slopes, transition points)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from krtheory._validation import InvalidInputError

__all__ = ["Fit", "loglog_fit", "linear_fit"]


@dataclass(frozen=True)
class Fit:
    """Least-squares line ``y = slope * x + intercept`` (in the transformed coordinates) and its r^2."""

    slope: float
    intercept: float
    r2: float
    n: int


def linear_fit(x, y) -> Fit:
    """Ordinary least squares of ``y`` on ``x`` (1-D arrays of equal length >= 2, finite)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        raise InvalidInputError(f"a line fit needs >= 2 distinct finite points, got {x.size}")
    A = np.stack([x, np.ones_like(x)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - (slope * x + intercept)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else 1.0
    return Fit(float(slope), float(intercept), r2, int(x.size))


def loglog_fit(x, y) -> Fit:
    """Slope of ``log y`` against ``log x`` (natural logs; only positive pairs are used)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    return linear_fit(np.log(x[ok]), np.log(y[ok]))
