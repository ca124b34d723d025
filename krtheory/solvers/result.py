"""The result object shared by every interpolation solver (scipy.optimize-like, frozen), and the
exact power-of-two normalization every solver applies to its problem first."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from numbers import Integral, Real

import numpy as np

from krtheory._validation import InvalidInputError, as_problem, check_interpolable

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

    def __post_init__(self):
        # Final sanity check (every solver's result passes here): a claim of success must agree
        # with the numbers, and x never carries NaN/inf.  A non-finite residual means nothing was
        # verified, so success is withdrawn and the message names the offending quantity.
        x = np.asarray(self.x, dtype=np.float64)
        bad = []
        if not np.all(np.isfinite(x)):
            k = int(x.size - np.count_nonzero(np.isfinite(x)))
            x = np.where(np.isfinite(x), x, 0.0)
            bad.append(f"x had {k} non-finite entr{'y' if k == 1 else 'ies'} (replaced by 0)")
        object.__setattr__(self, "x", x)
        for name in ("primal_residual", "kkt_residual"):
            v = float(getattr(self, name))
            if math.isnan(v):
                object.__setattr__(self, name, math.inf)  # unknown: as bad as it gets, never NaN
            if not math.isfinite(v) and self.success:
                bad.append(f"{name} = {v} is not finite")
        if self.dual is not None and self.success and not np.all(np.isfinite(self.dual)):
            bad.append("the dual has non-finite entries")
        if bad:
            if self.success:
                object.__setattr__(self, "success", False)
                # the solver's own status claimed convergence: it is void, so it is not repeated
                msg = f"FAILED the final check: {'; '.join(bad)}: the solution is not verified"
            else:
                msg = f"{self.message}; {'; '.join(bad)}"
            object.__setattr__(self, "message", msg)

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


def _norm(v) -> float:
    """||v||_2 without overflow or underflow of the squares (scaled by max|v|); inf/nan propagate."""
    m = float(np.max(np.abs(v), initial=0.0))
    if m == 0.0 or not math.isfinite(m):
        return m
    return m * float(np.linalg.norm(v / m))


def _primal_residual(X, x, y) -> float:
    """||X x - y|| / ||y||; for y = 0 (only the tilted potential has beta != 0 there) relative to
    the size of the terms, || |X| |x| ||, so that it stays a scale-free number."""
    ny = _norm(y)
    if ny == 0.0:
        ny = _norm(np.abs(X) @ np.abs(x))
    with np.errstate(over="ignore", invalid="ignore"):
        r = X @ x - y
    return float(_norm(r) / max(ny, _TINY))


def _zero_result(X, y, method: str, info: dict) -> InterpolationResult:
    n, d = X.shape
    return InterpolationResult(
        x=np.zeros(d), success=True, message="y = 0: the interpolator is beta = 0", nit=0,
        kkt_residual=0.0, primal_residual=0.0, dual=np.zeros(n), info={"method": method, **info},
    )


def _check_tol(tol, name: str = "tol") -> float:
    """A tolerance: a finite real >= 0 (0 asks for the rounding floor)."""
    if isinstance(tol, bool) or not isinstance(tol, Real) or not math.isfinite(tol) or tol < 0:
        raise InvalidInputError(f"{name} must be a finite real number >= 0, got {tol!r}")
    return float(tol)


def _check_max_iter(max_iter) -> int:
    """An iteration budget: an integer >= 0."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, Integral) or max_iter < 0:
        raise InvalidInputError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    return int(max_iter)


# --------------------------------------------------------------------------------------------
# exact power-of-two normalization
# --------------------------------------------------------------------------------------------
def _exponent(a) -> int:
    """k with max|a| in [2^(k-1), 2^k) (0 for a = 0): dividing by 2^k puts max|a| in [1/2, 1)."""
    m = float(np.max(np.abs(a), initial=0.0))
    return int(np.frexp(m)[1]) if m > 0 else 0


@dataclass(frozen=True)
class _Scaling:
    """``X = 2^ex Xn``, ``y = 2^ey yn`` (exact: powers of two only move exponents).

    Every interpolation problem here is covariant under these scalings (THEORY.md s3 "scale
    covariance"): ``X beta = y`` iff ``Xn (2^(ex-ey) beta) = yn``, so a minimizer of the
    normalized problem maps back as ``beta = 2^(ey-ex) beta_n`` (``x_exp``); a dual ``nu`` with
    ``u = X^T nu`` kept fixed maps as ``nu = 2^-ex nu_n`` (``dual_exp``).  The relative residuals
    are invariant, so they are computed on the normalized problem, whose norms never overflow.
    """

    ex: int
    ey: int

    @property
    def x_exp(self) -> int:
        return self.ey - self.ex

    @property
    def info(self) -> dict:
        return {"log2_scale_X": self.ex, "log2_scale_y": self.ey}


def _normalized_problem(X, y):
    """Validate (``as_problem``), normalize by powers of two, check interpolability there.

    Returns ``(Xn, yn, beta_l2n, scaling)`` with ``max|Xn|, max|yn|`` in [1/2, 1) (or 0) and
    ``beta_l2n = Xn^+ yn``.  Normalizing first keeps ``check_interpolable``'s norms finite.
    """
    X, y = as_problem(X, y)
    sc = _Scaling(_exponent(X), _exponent(y))
    Xn, yn = np.ldexp(X, -sc.ex), np.ldexp(y, -sc.ey)
    return Xn, yn, check_interpolable(Xn, yn), sc


def _scale_back(arr, k: int, what: str):
    """``arr * 2^k`` exactly; InvalidInputError if the true value exceeds the float64 range."""
    if arr is None:
        return None
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(np.asarray(arr, dtype=np.float64), k)
    if np.any(np.isinf(out) & np.isfinite(arr)):
        big = float(np.max(np.abs(arr)))
        log10 = (math.log10(big) if big > 0 else 0.0) + k * math.log10(2.0)
        raise InvalidInputError(
            f"{what} would overflow float64 (largest entry ~1e{log10:.0f}): rescale X or y "
            f"(the problem is covariant: solve for y / c or c X and scale back yourself)")
    return out


def _rescaled(res: InterpolationResult, sc: _Scaling, dual_exp: int, info: dict | None = None):
    """Map a result of the normalized problem back to the original one (see :class:`_Scaling`)."""
    x = _scale_back(res.x, sc.x_exp, "the interpolator x")
    out = {**res.info, **sc.info, **(info or {})}
    msg = res.message
    try:
        dual = _scale_back(res.dual, dual_exp, "the dual variable")
    except InvalidInputError:
        # x is the answer and is fine; the dual alone leaves the float range (e.g. X * 1e-200 for
        # min-l2, nu ~ 1e400): it is kept in scaled form rather than failing the whole solve
        dual = None
        out.update(dual_normalized=res.dual, dual_log2_scale=dual_exp)
        msg += ("; dual omitted: it overflows float64, dual = info['dual_normalized'] * "
                f"2^{dual_exp}")
    if "certificate" in out and out["certificate"] is not None:
        out["certificate"] = _scale_back(out["certificate"], -sc.ex, "the l1 dual certificate")
    if "l1_norm" in out:
        with np.errstate(over="ignore"):
            out["l1_norm"] = float(np.ldexp(out["l1_norm"], sc.x_exp))
    return replace(res, x=x, dual=dual, info=out, message=msg)
