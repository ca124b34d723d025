"""Vectorized safeguarded Newton solver for ``u = h_D^{-1}(z)`` (D > 2), in a stable variable.

THEORY.md s4: ``h_D^{-1}`` has no elementary closed form. For ``a = |z|`` the solver returns both
``|u|`` and the edge variable ``e = 1 - |u|``, each to a few ulps *relative*, so that
``1 - |q_D'(z)| = e`` stays accurate where ``|u|`` rounds to 1. Two regions, split at
``a_mid = h_D(1/2)``:

* central (``a <= a_mid``, ``|u| <= 1/2``): Newton on ``h_D(v) = a`` in ``v = |u|``. ``h_D`` is
  increasing and convex on [0, 1), so Newton started to the right of the root converges
  monotonically; the start is the smallest of three upper bounds of the root
  (``h(v) >= 2pv``, ``h(v) >= 2 sinh(pv)``, ``h(v) >= (1-v)^-p - 1``) and 1/2.
* edge (``a > a_mid``, ``e < 1/2``): with ``h_D(1-e) = (e s(e))^-p`` (``s`` in [1, 1.4]) the equation
  is ``phi(e) = e s(e) = b`` with ``b = a^(-1/p)`` (exponent in double-double), nearly linear in
  ``e``: Newton from ``min(b, 1/2)`` inside the bracket ``[b (1-3^-p)^(1/p), min(b, 1/2)]``.

Every iterate is clamped into its bracket (falling back to bisection), the iteration count is
capped, and the code is written against a back end ``F`` so it runs on NumPy and on torch tensors
(CUDA) alike. No gradients flow through here (see ``potential.py`` for the autograd rule).
"""
from __future__ import annotations

import math

import numpy as np

from ._codegen import compiled

__all__ = ["solve_link_inverse", "solve_edge", "MAX_ITER"]

MAX_ITER = 60
_EPS = 2.0**-52


def _converged(F, new, old):
    return F.abs(new - old) <= 4 * _EPS * F.abs(new)


def solve_link_inverse(F, a, params, inv_p):
    """Return ``(v, e, central)``: ``h_D(v) = a``, ``e = 1 - v``, ``central = a <= h_D(1/2)``, for ``a >= 0``.

    ``params`` are the codegen parameters ``(p, p_lo, r, r_lo, s, s_lo, m, m_lo)``; ``inv_p`` is
    ``(hi, lo)`` of ``1/p = (D-2)/D``. ``v`` is accurate relative to itself for small ``a`` and
    ``e`` relative to itself for large ``a``; the other is derived as ``1 - (.)`` (exact where it
    matters, by Sterbenz' lemma, since both regions keep the derived quantity >= 1/2).
    """
    with np.errstate(all="ignore"):  # discarded lanes may overflow; results never use them
        return _solve_link_inverse(F, a, params, inv_p)


def _solve_link_inverse(F, a, params, inv_p):
    # see solve_link_inverse
    fns = compiled()
    p = params[0]
    h_c = fns["link_central"]
    dh_c = fns["link_derivative_central"]
    try:
        a_mid = float(h_c(_Scalar, 0.5, *params))
    except OverflowError:  # D very close to 2: h_D(1/2) = 2^p... exceeds every float: all central
        a_mid = math.inf
    central = a <= a_mid

    # ---- central region: v in [0, 1/2]
    ac = F.where(central, a, F.full_like(a, 0.0))
    bound1 = ac / (2 * p)
    bound2 = F.asinh(ac / 2) / p
    bound3 = -F.expm1(-F.log1p(ac) / p)
    v = F.minimum(F.minimum(bound1, bound2), F.minimum(bound3, F.full_like(a, 0.5)))
    for _ in range(MAX_ITER):
        f = h_c(F, v, *params) - ac
        d = dh_c(F, v, *params)
        v_new = v - f / d
        # monotone from the right: a step to the right only happens within rounding of the root
        # (then stop there); a step below 0 cannot happen in exact arithmetic (bisect towards 0).
        v_new = F.where(v_new > v, v, F.where(v_new < 0, v / 2, v_new))
        done = _converged(F, v_new, v)
        v = v_new
        if F.all(done | ~central):
            break

    # ---- edge region: e in (0, 1/2)
    ae = F.where(central, F.full_like(a, 2 * min(a_mid, 1e300) + 1), a)
    e = solve_edge(F, F.powdd(ae, -inv_p[0], -inv_p[1]), params, skip=central)

    v_out = F.where(central, v, 1 - e)
    e_out = F.where(central, 1 - v, e)
    return v_out, e_out, central


def solve_edge(F, b, params, skip=None):
    """Solve ``e s(e) = b`` (i.e. ``h_D(1 - e) = b^-p``) for ``e`` in [0, 1/2), given ``0 <= b``.

    ``b = |z|^(-1/p)`` may come from log space when ``|z|`` itself overflows (``Q`` at tiny alpha).
    ``skip`` marks lanes whose result is not used (they take part in the arithmetic but not in the
    convergence test).
    """
    with np.errstate(all="ignore"):
        return _solve_edge(F, b, params, skip)


def _solve_edge(F, b, params, skip=None):
    # see solve_edge
    p = params[0]
    hi_e = F.minimum(b, F.full_like(b, 0.5))
    lo_e = b * math.exp(math.log1p(-(3.0 ** -p)) / p)
    e = hi_e
    for _ in range(MAX_ITER):
        rho = e / (2 - e)
        rp = rho**p
        sc = F.exp(-F.log1p(-rp) / p)
        phi = e * sc - b
        dphi = sc * (1 + 2 * rp / ((2 - e) * (1 - rp)))
        e_new = e - phi / dphi
        lo_e = F.where(phi < 0, F.maximum(lo_e, e), lo_e)
        hi_e = F.where(phi > 0, F.minimum(hi_e, e), hi_e)
        ok = (e_new >= lo_e) & (e_new <= hi_e)
        e_new = F.where(ok, e_new, (lo_e + hi_e) / 2)
        done = _converged(F, e_new, e)
        e = e_new
        if F.all(done if skip is None else (done | skip)):
            break
    return e


class _ScalarOps:
    """Python-float back end (used once per depth for the region split ``h_D(1/2)``)."""

    @staticmethod
    def __getattr__(item):  # pragma: no cover - only the names below are used
        raise AttributeError(item)

    exp = staticmethod(math.exp)
    log1p = staticmethod(math.log1p)
    sinh = staticmethod(math.sinh)
    cosh = staticmethod(math.cosh)
    atanh = staticmethod(math.atanh)


_Scalar = _ScalarOps()
