"""The implicit-bias potential in the paper's normalization: ``Q_alpha^D(beta) = alpha^D sum_i q_D(beta_i/alpha^D)``.

THEORY.md s2 (D = 2: ``alpha^2 sum q(beta_i/alpha^2)``) and s4 (the flow-natural ``alpha^(2-D) Q``
has the same argmin; this module uses the paper's ``alpha^D`` prefactor).

The scale ``c = alpha^D`` is carried as ``c = cm 2^K`` (``cm`` in [1, 2), integer ``K``, computed
with mpmath from the exact float ``alpha`` or ``log_alpha``), so alpha far outside the float range
(``log_alpha = -1000``, the rich-regime bound of THEORY.md s3) works. Per coordinate, with
``z = beta/c``:

* ``|z| <= 1e-150`` (includes underflow): ``c q(z) = k2 beta^2 / c`` exactly in float
  (``q = k2 z^2 (1 + O(z^2))``, ``k2 = (D-2)/(4D)``, 1/4 for D = 2), formed as a product of two
  factors ``|beta| / sqrt(c)`` that are normal whenever the result is;
* ``1e-150 < |z| <= 1e300``: ``c q(z)`` with the power of two applied exactly (``ldexp``);
* ``|z| > 1e300`` (includes overflow): with ``l = log|beta| - log c = log|z|``: D = 2:
  ``|beta| (l - 1)`` (error ``2/|z|`` relative); D > 2: ``|beta| (1 - g)`` where
  ``g = (|z| - q(z))/|z| = e [1 + (1 - t)/(r (1 - rho^p))]`` in the edge variable ``e``, solved from
  ``b = exp(-l/p)`` (no overflow even when ``|z|`` does).

The terms are non-negative, so the sum over the last axis cannot cancel; the result is inf only
where the true value exceeds the float maximum. torch: differentiable in ``beta`` with gradient
``q_D'(beta/alpha^D)`` (and Hessian ``q_D''(z)/alpha^D``) through custom autograd rules.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import InvalidInputError, check_depth, resolve_log_alpha
from . import _backend as B
from ._solve import solve_edge
from ._potential import _elementwise, potential

__all__ = ["Q", "Q_gradient", "scale_of"]

_SMALL = 1e-150
_LARGE = 1e300


def scale_of(depth: float, alpha=None, log_alpha=None) -> tuple[float, int, float]:
    """``(cm, K, log_c)`` with ``alpha^D = cm 2^K`` (``cm`` in [1, 2)) and ``log_c = D log alpha``.

    Exactly one of ``alpha`` (> 0) and ``log_alpha`` (finite); validated by ``resolve_log_alpha``.
    """
    import mpmath as mp

    D = check_depth(depth)
    resolve_log_alpha(alpha, log_alpha)  # validation (raises InvalidInputError)
    with mp.workdps(60):
        log_a = mp.log(mp.mpf(float(alpha))) if alpha is not None else mp.mpf(float(log_alpha))
        L = mp.mpf(D) * log_a
        K = int(mp.floor(L / mp.log(2)))
        cm = float(mp.exp(L - K * mp.log(2)))
    if cm >= 2.0:  # rounding at the boundary
        cm, K = cm / 2, K + 1
    return cm, K, float(L)


def _ldexp(F, x, k: int):
    """``x * 2**k`` exactly (single rounding) for any integer ``k``, also on torch."""
    if F is B.NP:
        return np.ldexp(x, k)
    # torch.ldexp multiplies by 2.0**k, which over/underflows for |k| > 1023: go in steps; the
    # intermediate magnitudes move monotonically from x to the result, so none of them rounds.
    step = 1000 if k > 0 else -1000
    while abs(k) > 1000:
        x = x * (2.0**step)
        k -= step
    return x * (2.0**k)


def _terms(F, beta, P, cm, K, L):
    """Per-coordinate ``alpha^D q_D(beta_i / alpha^D)`` (see module docstring), same shape as beta."""
    D = P.depth
    k2 = 0.25 if D == 2 else (D - 2) / (4 * D)
    ab = F.abs(beta)
    z = _ldexp(F, beta / cm, -K)
    az = F.abs(z)
    small = az <= _SMALL
    large = az > _LARGE
    mid = ~(small | large)
    # small: k2 beta^2 / c = k2 (y 2^-half)(y 2^-(K-half)) with y = |beta|/sqrt(cm): the two factors
    # are within a factor 2 of each other, hence normal whenever the product is
    half = K // 2
    y = ab / math.sqrt(cm)
    t_small = k2 * _ldexp(F, y, -half) * _ldexp(F, y, -(K - half))
    # mid: c q(z)
    zm = F.where(mid, z, F.full_like(z, 1.0))
    t_mid = _ldexp(F, cm * P._q_impl(F, zm), K)
    # large: log space
    abl = F.where(large, ab, F.full_like(ab, 1.0))
    ell = F.log(abl) - L
    if D == 2:
        t_large = abl * (ell - 1)
    else:
        p, _, r = P.params[0], P.params[1], P.params[2]
        ell_safe = F.where(large, ell, F.full_like(ell, 1000.0))
        b = F.exp(-ell_safe * P.inv_p[0])
        e = solve_edge(F, b, P.params, skip=~large)
        rho = e / (2 - e)
        t = (2 - (2 - e) ** (-r)) * e**r
        g = e * (1 + (1 - t) / (r * (1 - rho**p)))
        t_large = abl * (1 - g)
    out = F.where(small, t_small, F.where(mid, t_mid, t_large))
    return out


def _grad_terms(F, beta, P, cm, K, L):
    """``q_D'(beta / alpha^D)`` elementwise, saturating correctly where ``z`` over/underflows."""
    z = _ldexp(F, beta / cm, -K)
    az = F.abs(z)
    large = az > _LARGE
    zm = F.where(large, F.full_like(z, 1.0), z)
    g_mid = P._dq_impl(F, zm)
    sg = F.sign(beta)
    if P.depth == 2:
        abl = F.where(large, F.abs(beta), F.full_like(z, 1.0))
        # asinh(|z|/2) = log|z| + O(1/z^2)
        g_large = sg * (F.log(abl) - L)
    else:
        abl = F.where(large, F.abs(beta), F.full_like(z, 1.0))
        b = F.exp(-(F.log(abl) - L) * P.inv_p[0])
        g_large = sg * (1 - solve_edge(F, b, P.params, skip=~large))
    return F.where(large, g_large, g_mid)


def _hess_terms(F, beta, P, cm, K, L):
    """``q_D''(beta / alpha^D) / alpha^D`` elementwise.

    Where ``|z| > 1e300`` (possibly overflowed) it is rewritten without ``z``: D = 2
    ``1/hypot(2c, beta) = 1/|beta|`` (relative error ``2/z^2``); D > 2, from ``|z| = h_D(1-e)``,
    ``(e/|beta|) (1 - rho^p) / (p (1 + rho^(p+1)))`` with ``e/|beta|`` formed in log space
    (``e`` itself may underflow); the exponential of a large argument costs up to ~1e-13 relative.
    """
    z = _ldexp(F, beta / cm, -K)
    large = F.abs(z) > _LARGE
    zm = F.where(large, F.full_like(z, 1.0), z)
    h_mid = _ldexp(F, P._d2q_impl(F, zm) / cm, -K)
    abl = F.where(large, F.abs(beta), F.full_like(z, 1.0))
    if P.depth == 2:
        h_large = 1 / abl
    else:
        p, s = P.params[0], P.params[4]
        log_b = -(F.log(abl) - L) * P.inv_p[0]
        b = F.exp(log_b)
        e = solve_edge(F, b, P.params, skip=~large)
        rho = e / (2 - e)
        ratio = F.where(b > 1e-300, e / F.where(b > 1e-300, b, F.full_like(b, 1.0)), F.full_like(b, 1.0))
        h_large = F.exp(log_b - F.log(abl)) * ratio * (1 - rho**p) / (p * (1 + rho**s))
    return F.where(large, h_large, h_mid)


def Q(beta, alpha=None, depth=2, *, log_alpha=None):
    """``Q_alpha^D(beta) = alpha^D sum_i q_D(beta_i / alpha^D)`` (paper's normalization), over the last axis.

    Parameters
    ----------
    beta : array_like or torch.Tensor, shape ``(..., d)``, float64 (finite)
    alpha : float > 0, the initialization scale; or give ``log_alpha`` (finite float) instead,
        for scales outside the float range.
    depth : real ``D >= 2``.

    Returns shape ``(...)`` (a NumPy float64 scalar for 1-d NumPy input; a tensor for tensor input,
    differentiable in ``beta``: ``dQ/dbeta_i = q_D'(beta_i/alpha^D)``).
    """
    D = check_depth(depth)
    cm, K, L = scale_of(D, alpha, log_alpha)
    P = potential(D)
    beta64, restore = B.prepare(beta, "beta")
    if beta64.ndim == 0:
        raise InvalidInputError("beta must have at least one axis (the coordinates are summed over the last axis)")

    def impl(F, b):
        return _terms(F, b, P, cm, K, L)

    def hess(b):
        x64, rs = B.prepare(b, "beta")
        return rs(_elementwise().apply(x64, lambda F, y: _hess_terms(F, y, P, cm, K, L), None, "the Hessian of Q"))

    def grad(b):
        x64, rs = B.prepare(b, "beta")
        return rs(_elementwise().apply(x64, lambda F, y: _grad_terms(F, y, P, cm, K, L), hess, "the gradient of Q"))

    if B.is_tensor(beta64):
        # elementwise terms with the rule term' = q_D'(z), term'' = q_D''(z)/alpha^D, then a plain sum
        out = _elementwise().apply(beta64, impl, grad, "Q").sum(dim=-1)
        return restore(out)
    with np.errstate(all="ignore"):
        out = impl(B.NP, beta64).sum(axis=-1)
    return restore(out)


def Q_gradient(beta, alpha=None, depth=2, *, log_alpha=None):
    """``dQ/dbeta = q_D'(beta / alpha^D)`` elementwise (NumPy or torch), accurate for any alpha."""
    D = check_depth(depth)
    cm, K, L = scale_of(D, alpha, log_alpha)
    P = potential(D)
    beta64, restore = B.prepare(beta, "beta")
    F = B.backend_of(beta64)
    with np.errstate(all="ignore"):
        return restore(_grad_terms(F, beta64, P, cm, K, L))
