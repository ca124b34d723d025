"""The parameter-distance regularizer of THEORY.md s6 (D = 2) and its minimum-norm interpolator.

    R_alpha(beta) = sum_i r_alpha(beta_i),
    r_alpha(b)    = min_{w+, w-} (w+ - alpha)^2 + (w- - alpha)^2  s.t.  w+^2 - w-^2 = b.

Closed form by the Lagrange parametrization (THEORY.md s6): with multiplier lambda in (-1, 1),
``w+ = alpha/(1 - lambda)``, ``w- = alpha/(1 + lambda)``, ``b = 4 alpha^2 lambda/(1 - lambda^2)^2``,
``r = 2 alpha^2 lambda^2 (1 + lambda^2)/(1 - lambda^2)^2``.  ``b(lambda)`` is an odd increasing
bijection (-1, 1) -> R, so every b has one stationary point with w+, w- > 0, which is the minimum
(checked against direct minimization in the tests).

Derived facts used here (each is verified numerically in tests/test_regularizers.py):

* ``r'(b) = lambda(b)`` (envelope theorem: the multiplier), so ``|r'| < 1``;
* ``r''(b) = (1 - lambda^2)^3 / (4 alpha^2 (1 + 3 lambda^2)) > 0``: r is strictly convex;
* its conjugate is ``r*(u) = 2 alpha^2 u^2 / (1 - u^2)`` on |u| < 1, with ``(r*)'(u) = b(u)``;
  hence ``argmin R_alpha s.t. X beta = y`` is ``beta = 4 alpha^2 u/(1 - u^2)^2``, ``u = X^T nu``,
  found by the same globalized dual Newton as :func:`krtheory.solvers.implicit_bias_solution`;
* limits: ``r(b) = |b| - 2 alpha sqrt|b| + (3/2) alpha^2 + O(alpha^3/sqrt|b|)`` as alpha -> 0
  (polynomial approach to l1, unlike Q_alpha's logarithmic one) and
  ``r(b) = b^2 / (8 alpha^2) + O(b^4/alpha^6)`` as alpha -> infinity (half of Q_alpha's
  ``b^2/(4 alpha^2)``: R and Q are not rescalings of each other).

Stable evaluation: with ``rho = alpha / sqrt|b|`` the multiplier solves ``1 - lambda^2 = 2 rho
sqrt(lambda)``; it is found by a safeguarded Newton iteration in ``s = sqrt(lambda)`` where
``lambda <= 1/4`` and in ``eps = 1 - s`` near the edge (so ``1 - lambda = eps (2 - eps)`` keeps
its digits as alpha -> 0), and ``r = (alpha lambda / e)^2 + (alpha lambda / (2 - e))^2`` with
``e = 1 - lambda`` never subtracts nearly equal numbers.
"""
from __future__ import annotations

import math

import numpy as np

from krtheory._validation import (
    InvalidInputError,
    as_problem,
    check_finite_array,
    check_interpolable,
    resolve_log_alpha,
)
from krtheory.solvers.newton import _dual_newton, _finish, _ray_start
from krtheory.solvers.result import InterpolationResult, _zero_result

__all__ = [
    "distance_regularizer",
    "distance_regularizer_derivative",
    "distance_multiplier",
    "min_distance_interpolator",
]

_TINY = np.finfo(np.float64).tiny


def _alpha(alpha) -> float:
    return math.exp(resolve_log_alpha(alpha, None))


def _to_out(value: np.ndarray, like):
    # torch in, torch out (same dtype/device); NumPy otherwise
    if hasattr(like, "detach") and hasattr(like, "device"):
        import torch

        return torch.as_tensor(value, dtype=like.dtype if like.is_floating_point() else torch.float64,
                               device=like.device)
    return value if np.ndim(value) else float(value)


def _safeguarded_root(f, df, lo, hi, x0, iters=100):
    """Vectorized safeguarded Newton for an increasing f with f(lo) <= 0 <= f(hi)."""
    x = np.clip(x0, lo, hi)
    for _ in range(iters):
        fx = f(x)
        lo = np.where(fx <= 0, x, lo)
        hi = np.where(fx >= 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = x - fx / df(x)
        bad = ~np.isfinite(xn) | (xn <= lo) | (xn >= hi)
        # bisect (geometrically where the bracket is positive: roots down to 1e-300)
        mid = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * (lo + hi))
        xn = np.where(bad, mid, xn)
        if np.all(xn == x):
            break
        x = xn
    return x


def _multiplier_parts(b, alpha):
    """Return (lambda, e = 1 - lambda) for |b| (arrays), both to full relative precision."""
    ab = np.abs(b)
    lam = np.zeros_like(ab)
    e = np.ones_like(ab)
    nz = ab > 0
    with np.errstate(divide="ignore", over="ignore"):
        rho = alpha / np.sqrt(ab[nz])
    # root at s = 1/2 (lambda = 1/4) happens at rho = 15/16: K(1/2) = 15/16 - rho
    near = rho < 15.0 / 16.0
    lz, ez = np.empty_like(rho), np.empty_like(rho)
    # edge side: eps = 1 - s in (0, 1/2]: K(eps) = eps(2-eps)(2-2eps+eps^2) - 2 rho (1-eps) = 0
    r1 = rho[near]
    K = lambda t: t * (2 - t) * (2 - 2 * t + t * t) - 2 * r1 * (1 - t)
    dK = lambda t: (2 - 2 * t) * (2 - 2 * t + t * t) + t * (2 - t) * (2 * t - 2) + 2 * r1
    eps = _safeguarded_root(K, dK, np.zeros_like(r1), np.full_like(r1, 0.5), 0.5 * r1)
    s = 1.0 - eps
    lz[near] = s * s
    ez[near] = eps * (2.0 - eps)
    # centre side: s in (0, 1/2]: G(s) = s^4 + 2 rho s - 1 = 0
    r2 = rho[~near]
    G = lambda t: t**4 + 2 * r2 * t - 1
    dG = lambda t: 4 * t**3 + 2 * r2
    with np.errstate(divide="ignore"):
        s0 = np.minimum(0.5, 0.5 / r2)
    s = _safeguarded_root(G, dG, np.zeros_like(r2), np.full_like(r2, 0.5), s0)
    lz[~near] = s * s
    ez[~near] = 1.0 - s * s
    lam[nz], e[nz] = lz, ez
    return lam, e


def distance_multiplier(beta, alpha):
    """lambda(beta_i) in (-1, 1), the Lagrange multiplier (= r_alpha'(beta_i)); odd in beta."""
    a = _alpha(alpha)
    b = check_finite_array(beta, "beta")
    lam, _ = _multiplier_parts(b, a)
    return _to_out(np.sign(b) * lam, beta)


def distance_regularizer(beta, alpha, *, reduce: bool = True):
    """R_alpha(beta) = sum_i r_alpha(beta_i) (THEORY.md s6), float64; elementwise if reduce=False.

    ``beta``: array (any shape) or scalar; ``alpha`` > 0.  Accurate to a few ulp for all
    ``|beta_i| / alpha^2`` from 0 to the float range (see the module docstring).
    """
    a = _alpha(alpha)
    b = check_finite_array(beta, "beta")
    lam, e = _multiplier_parts(b, a)
    with np.errstate(over="ignore"):
        r = (a * lam / e) ** 2 + (a * lam / (2.0 - e)) ** 2
    if not np.all(np.isfinite(r)):
        raise InvalidInputError("beta is too large relative to alpha: R_alpha overflows float64")
    out = np.sum(r) if reduce else r
    return _to_out(out, beta)


def distance_regularizer_derivative(beta, alpha):
    """Elementwise r_alpha'(beta_i) = sign(beta_i) lambda(|beta_i|), in (-1, 1)."""
    return distance_multiplier(beta, alpha)


class _DistanceModel:
    """Dual model for min R_alpha: beta = 4 a^2 u/(1-u^2)^2, w = 4 a^2 (1+3u^2)/(1-u^2)^3,
    value = sum 2 a^2 u^2/(1-u^2) on |u| < 1 (1 - u^2 formed as (1-|u|)(1+|u|))."""

    domain_bounded = True

    def __init__(self, alpha):
        self.alpha = alpha
        self.la2 = 2.0 * math.log(alpha)

    def evaluate(self, u):
        a = np.abs(u)
        if not np.all(a < 1.0):
            return None
        om = np.log1p(-a) + np.log1p(a)  # log(1 - u^2)
        with np.errstate(divide="ignore", over="ignore"):
            lb = math.log(4.0) + self.la2 + np.log(a) - 2.0 * om
            lw = math.log(4.0) + self.la2 + np.log1p(3.0 * a * a) - 3.0 * om
            val = float(np.sum(np.exp(math.log(2.0) + self.la2 + 2.0 * np.log(a) - om)))
        return lb, np.sign(u), lw, val

    def log_abs_beta(self, u):
        a = np.abs(u)
        if not np.all(a < 1.0):
            return None
        with np.errstate(divide="ignore"):
            return math.log(4.0) + self.la2 + np.log(a) - 2.0 * (np.log1p(-a) + np.log1p(a))

    def ray(self, bmax):
        return lambda t: -math.expm1(-690.0 * t) / bmax

    def sensitivity(self, u, e_abs):
        # d log b / du = 1/u + 4u/(1-u^2) ~ 2/(1-|u|) at the edge
        return 1.0 + 2.0 / np.maximum(1.0 - np.abs(u), _TINY)

    def step_limit(self, u, du):
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(du > 0, (1.0 - u) / du, np.where(du < 0, (1.0 + u) / (-du), np.inf))
        return 0.99 * float(np.min(room)) if room.size else math.inf

    def stationarity(self, x, u):
        """max_i |r'(x_i) - u_i| (the multiplier recomputed from the returned x)."""
        lam, _ = _multiplier_parts(x, self.alpha)
        return float(np.max(np.abs(np.sign(x) * lam - u), initial=0.0))


def min_distance_interpolator(X, y, alpha, *, tol: float = 1e-12, max_iter: int = 200) -> InterpolationResult:
    """``argmin R_alpha(beta) s.t. X beta = y`` (THEORY.md s6), by the dual Newton of krtheory.solvers.

    R_alpha is strictly convex (``r'' > 0``, module docstring), so the minimizer is unique and
    ``beta = 4 alpha^2 u/(1 - u^2)^2`` with ``u = X^T nu``, ``|u| < 1``; ``dual = nu``.
    X: (n, d), y: (n,), alpha > 0 (float).  ``info["edge"] = 1 - max|u|``.
    Same result class and KKT definition as :func:`krtheory.solvers.implicit_bias_solution`
    (stationarity: ``|r'(x_i) - u_i|``).
    """
    a = _alpha(alpha)
    X, y = as_problem(X, y)
    beta_l2 = check_interpolable(X, y)
    info = {"method": "min_distance", "alpha": a, "regime": "newton"}
    if not np.any(y):
        return _zero_result(X, y, "min_distance", {**info, "edge": 1.0})
    model = _DistanceModel(a)
    nu, u, beta, nit, status, msg = _dual_newton(X, y, model, tol, max_iter, _ray_start(X, y, model, beta_l2))
    info["edge"] = float(1.0 - np.max(np.abs(u), initial=0.0))
    return _finish(X, y, model, nu, u, beta, nit, status, msg, info)
