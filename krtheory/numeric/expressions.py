"""The numerically stable rewrites, as SymPy expressions (compiled by :mod:`._codegen`).

Each rewrite is mathematically identical to a textbook formula of THEORY.md (sections 2 and 4);
``tests/test_numeric_expressions.py`` checks the identity symbolically / at 50 digits. The
rewrites avoid the cancellations of the textbook forms:

* ``h_D(u) = (1-u)^-p - (1+u)^-p`` cancels near ``u = 0``; with ``t = atanh u`` it equals
  ``2 sinh(p t) (1-u^2)^(-p/2)``, a product of accurate factors (exactly odd).
* ``H_D(u) = (1/r)[(1-u)^-r + (1+u)^-r - 2]`` (``r = 2/(D-2) = p-1``) cancels near 0; it equals
  ``(2/r)[A C + A + C]`` with ``A = (1-u^2)^(-r/2) - 1 >= 0``, ``C = cosh(r t) - 1 >= 0``: a sum of
  non-negative terms.
* In the edge variable ``e = 1 - |u|`` (``e <= 1/2``), with ``rho = e/(2-e) <= 1/3``:
  ``h_D = e^-p (1 - rho^p) = (e s)^-p``, ``h_D' = p e^-(p+1) (1 + rho^(p+1)) = (e s')^-(p+1)``,
  ``H_D = (1/r)[expm1(-r log e) + expm1(-r log(2-e))]`` (cancellation bounded by 2.4x), or, when
  ``e^-r`` is large, ``H_D = e^-r (1-t)/r`` with ``t = (2 - (2-e)^-r) e^r``. Writing the power of the
  tiny ``e`` as one ``powdd`` (exponent in double-double) keeps the result within a few ulps even
  for ``e ~ 1e-300`` (a rounded exponent alone would cost ``|p log e|`` ulps), and folding the
  bounded factor into the base avoids a spurious overflow just below the float maximum.
* D = 2: ``q(z) = 2 - sqrt(4+z^2) + z asinh(z/2)`` loses every digit for ``|z| < 1e-8``;
  ``q(z) = z (asinh(z/2) - z/(2 + hypot(2, z)))`` never forms ``z^2`` (overflow beyond 1.3e154)
  and cancels by at most a factor 2.

Symbols: ``u`` (the dual/link variable in (-1, 1)), ``e`` (edge variable in (0, 1/2]), ``z``
(the primal variable), and parameters ``p, p_lo, r, r_lo, s, s_lo, m, m_lo`` where
``p = D/(D-2)``, ``r = p - 1``, ``s = p + 1``, ``m = p + 2``, and ``*_lo`` are the low parts of
their double-double splits.
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p

__all__ = [
    "u", "e", "z", "p", "p_lo", "r", "r_lo", "s", "s_lo", "m", "m_lo", "PARAMS", "PowDD",
    "stable_expressions", "textbook_expressions", "expand_powdd", "tie_params",
]

u = sp.Symbol("u", real=True)
e = sp.Symbol("e", positive=True)
z = sp.Symbol("z", real=True)
p, r, s, m = sp.symbols("p r s m", positive=True)
p_lo, r_lo, s_lo, m_lo = sp.symbols("p_lo r_lo s_lo m_lo", real=True)
PARAMS = (p, p_lo, r, r_lo, s, s_lo, m, m_lo)


class PowDD(sp.Function):
    """``PowDD(x, hi, lo) = x**(hi + lo)``, evaluated as ``x**hi * exp(lo*log x)`` (printed ``F.powdd``)."""

    nargs = 3


def expand_powdd(expr):
    """Replace every ``PowDD(x, hi, lo)`` by ``x**(hi + lo)`` (for symbolic verification)."""
    return expr.replace(lambda a: isinstance(a, PowDD), lambda a: a.args[0] ** (a.args[1] + a.args[2]))


def _edge_rho():
    return e / (2 - e)


def stable_expressions() -> dict[str, sp.Expr]:
    """The stable rewrites, keyed ``"<function>_<region>"`` (see the module docstring).

    D > 2 regions: ``central`` (argument ``u``, ``|u| < 1/2``), ``edge`` (argument ``e <= 1/2``);
    ``conjugate_edge_near`` is for ``-r log e <= 1``, ``conjugate_edge_far_small_r`` /
    ``conjugate_edge_far_large_r`` beyond that (for ``r < 1/4`` / ``r >= 1/4``).
    D = 2 (suffix ``_d2``): arguments ``u`` or ``z`` on the whole real line.
    """
    t = sp.atanh(u)
    rho = _edge_rho()
    log1m_u2 = log1p(-u**2)
    A = expm1(-(r / 2) * log1m_u2)
    C = 2 * sp.sinh(r * t / 2) ** 2
    s_link = sp.exp(-log1p(-rho**p) / p)
    s_deriv = sp.exp(-(sp.log(p) + log1p(rho**s)) / s)
    s_second = sp.exp(-(sp.log(p * s) + log1p(-rho**m)) / m)
    tt = (2 - (2 - e) ** (-r)) * e**r
    return {
        "link_central": 2 * sp.sinh(p * t) * sp.exp(-(p / 2) * log1m_u2),
        "link_edge": PowDD(e * s_link, -p, -p_lo),
        "link_derivative_central": 2 * p * sp.cosh(s * t) * sp.exp(-(s / 2) * log1m_u2),
        "link_derivative_edge": PowDD(e * s_deriv, -s, -s_lo),
        # h_D''(u) = p(p+1)[(1-u)^-(p+2) - (1+u)^-(p+2)]: same structure as h_D
        "link_second_central": 2 * p * s * sp.sinh(m * t) * sp.exp(-(m / 2) * log1m_u2),
        "link_second_edge": PowDD(e * s_second, -m, -m_lo),
        "conjugate_central": (2 / r) * (A * C + A + C),
        "conjugate_edge_near": (expm1(-r * sp.log(e)) + expm1(-r * sp.log(2 - e))) / r,
        "conjugate_edge_far_small_r": PowDD(e, -r, -r_lo) * ((1 - tt) / r),
        "conjugate_edge_far_large_r": PowDD(e * sp.exp((sp.log(r) - log1p(-tt)) / r), -r, -r_lo),
        # 1/h_D'(u) at the edge, (e s')^(p+1): underflows gracefully instead of 1/inf.
        "d2q_edge": PowDD(e * s_deriv, s, s_lo),
        # D = 2
        "link_d2": 2 * sp.sinh(u),
        "link_derivative_d2": 2 * sp.cosh(u),
        "link_second_d2": 2 * sp.sinh(u),
        "conjugate_d2": 4 * sp.sinh(u / 2) ** 2,
        "q_d2": z * (sp.asinh(z / 2) - z / (2 + hypot(2, z))),
        "dq_d2": sp.asinh(z / 2),
        "d2q_d2": 1 / hypot(2, z),
        # third derivative -z (4+z^2)^(-3/2), never forming z^2
        "d3q_d2": -(z / hypot(2, z)) / hypot(2, z) / hypot(2, z),
    }


def textbook_expressions() -> dict[str, sp.Expr]:
    """The textbook forms (THEORY.md sections 2, 4) that each stable rewrite must equal.

    Same keys as :func:`stable_expressions`; edge forms are the textbook ones at ``u = 1 - e``.
    Parameters are tied by ``r = p - 1``, ``s = p + 1`` and ``*_lo = 0`` (apply :func:`tie_params`).
    """
    h = (1 - u) ** (-p) - (1 + u) ** (-p)
    hp = p * ((1 - u) ** (-p - 1) + (1 + u) ** (-p - 1))
    hpp = p * (p + 1) * ((1 - u) ** (-p - 2) - (1 + u) ** (-p - 2))
    H = ((1 - u) ** (-(p - 1)) + (1 + u) ** (-(p - 1)) - 2) / (p - 1)
    at_edge = {u: 1 - e}
    q2 = 2 - sp.sqrt(4 + z**2) + z * sp.asinh(z / 2)
    return {
        "link_central": h,
        "link_edge": h.subs(at_edge),
        "link_derivative_central": hp,
        "link_derivative_edge": hp.subs(at_edge),
        "link_second_central": hpp,
        "link_second_edge": hpp.subs(at_edge),
        "conjugate_central": H,
        "conjugate_edge_near": H.subs(at_edge),
        "conjugate_edge_far_small_r": H.subs(at_edge),
        "conjugate_edge_far_large_r": H.subs(at_edge),
        "d2q_edge": 1 / hp.subs(at_edge),
        "link_d2": 2 * sp.sinh(u),
        "link_derivative_d2": 2 * sp.cosh(u),
        "link_second_d2": 2 * sp.sinh(u),
        "conjugate_d2": 2 * sp.cosh(u) - 2,
        "q_d2": q2,
        "dq_d2": sp.diff(q2, z),
        "d2q_d2": sp.diff(q2, z, 2),
        "d3q_d2": sp.diff(q2, z, 3),
    }


def tie_params(expr):
    """Substitute ``r = p - 1``, ``s = p + 1`` and zero low parts (the exact-arithmetic meaning)."""
    return expand_powdd(expr).subs({r: p - 1, s: p + 1, m: p + 2, p_lo: 0, r_lo: 0, s_lo: 0, m_lo: 0})
