"""``derive``: the whole derivation for one (depth, loss, init), as checked steps plus formulas.

Formula keys (SymPy expressions in the real symbols u, z, alpha, t, s, b of
:mod:`krtheory.symbolic.symbols`; ``D`` for the symbolic depth):

- ``time_constant``: k with dL/dw+-_i = +-k w+-_i^(D-1) (X^T r)_i (depends on the loss)
- ``w_plus``, ``w_minus``: w+-(s), s = (X^T int_0^t r)_i
- ``invariant`` (in symbols ``w_plus``, ``w_minus``), ``invariant_value``
- ``beta_of_s``; ``dual_of_s``: zeta(s) = kappa s, the scaled dual variable with beta = scale h(zeta + tilt)
- ``multiplier``: kappa, so that nu = kappa int r (the KKT multiplier of the flow's limit)
- ``scale``, ``tilt``: alpha^D and 0 (unbiased); c = alpha^2 u0 v0, phi = log(u0/v0) (D = 2 shape)
- ``link`` h_D(u), ``link_derivative`` h_D'(u), ``conjugate`` H_D(u)
- ``potential`` q_D(z) closed form (D = 2; absent where SymPy finds none), ``link_inverse``
  (D = 2), ``potential_parametric`` Tuple (z(u), q(u))
- ``Q_paper`` alpha^D q(b/alpha^D) (D = 2: closed form in b; D > 2: Tuple (b(u), Q(u))),
  ``Q_flow`` alpha^(2-D) Q_paper (same argmin); ``shaped_potential`` c q(b/c) - phi b (D = 2 shape)
- ``kkt_beta`` beta_i as a function of lam = (X^T nu)_i; ``dual_objective`` per-coordinate part
  of the dual (minus <nu, y>)
- ``series_zero`` (with O term), ``series_infinity`` in the positive symbol ``abs_z`` = |z|
  (q is even, so this is the expansion at z -> +oo and at z -> -oo; D = 2:
  abs_z log(abs_z) - abs_z + 2 - 1/abs_z + 1/(2 abs_z^3), next term O(abs_z^-4);
  D > 2: abs_z - (D/2) abs_z^(2/D) + C_D + o(1)), ``C_D``; numeric D > 2 only:
  ``series_infinity_terms`` = series_infinity + the next 3 nonzero powers abs_z^(-(a + p b)/p)
  (a >= 1, b >= 0, p = D/(D-2); D = 4: - 1/(4 sqrt(abs_z)) - 1/(8 abs_z) - 3/(64 abs_z^(3/2)))
- ``alpha_to_zero``, ``alpha_to_infinity`` (Eq of Limit objects, per coordinate b > 0),
  ``rate_alpha_to_zero``, ``rate_alpha_to_infinity`` (leading correction)
- ``tangent_kernel`` c with K(x, x') = c <x, x'> (loss-independent), ``tangent_kernel_dynamics``
  Theta with dr/dt = -Theta X X^T r at init (changes with the loss)
- symbolic D only: ``limit_D_to_2_link``, ``limit_D_to_2_potential`` (p q_D -> q, parametric),
  ``link_D_infinity``, ``potential_D_infinity``, ``conjugate_D_infinity``
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy as sp

from .asymptotics import derive_asymptotics
from .depth_limits import derive_depth_limits
from .flow import derive_flow
from .kernel import derive_kernel
from .potential import derive_potential
from .steps import Recorder
from .symbols import D_SYM, export, normalize_depth, normalize_init, normalize_loss

__all__ = ["Derivation", "derive"]


@dataclass(frozen=True)
class Derivation:
    """A derivation: the checked steps and the derived formulas (see the module docstring)."""

    depth: object                 # SymPy Integer/Rational, or the Symbol D
    loss: str
    steps: tuple
    formulas: dict = field(hash=False)
    init: tuple = (1, 1)

    @property
    def passed(self) -> bool:
        return all(st.passed for st in self.steps)

    def render(self, fmt: str = "text") -> str:
        from .render import render

        return render(self, fmt)


def _truncate(series, order):
    z = sp.Symbol("z", real=True)
    poly = series.removeO()
    return sum(poly.coeff(z, j) * z ** j for j in range(order + 1)) + sp.O(z ** (order + 1))


def _derive(D, loss, u0, v0, order) -> Derivation:
    rec = Recorder()
    fl = derive_flow(rec, D, loss, u0, v0)
    pot = derive_potential(rec, fl)
    asy = derive_asymptotics(rec, fl, pot, max(order, 4))  # the z^2, z^4 checks need order >= 4
    ker = derive_kernel(rec, D, loss, u0, v0)
    F = {
        "time_constant": fl.k,
        "w_plus": fl.w_plus,
        "w_minus": fl.w_minus,
        "invariant": fl.invariant,
        "invariant_value": fl.invariant_value,
        "beta_of_s": fl.beta_of_s,
        "dual_of_s": fl.kappa * sp.Symbol("s", real=True),
        "multiplier": fl.kappa,
        "scale": fl.scale,
        "tilt": fl.tilt,
        "link": fl.link,
        "link_derivative": pot.link_derivative,
        "conjugate": pot.conjugate,
        "potential_parametric": pot.parametric,
        "Q_paper": pot.Q_paper,
        "Q_flow": pot.Q_flow,
        "kkt_beta": pot.kkt_beta,
        "dual_objective": pot.dual_objective,
        "series_zero": _truncate(asy.series_zero, order),
        "series_infinity": asy.series_infinity,
        "C_D": asy.C_D,
        "tangent_kernel": ker.coefficient,
        "tangent_kernel_dynamics": ker.dynamics_coefficient,
    }
    F.update(asy.limits)
    if asy.series_infinity_terms is not None:
        F["series_infinity_terms"] = asy.series_infinity_terms
    if pot.potential is not None:
        F["potential"] = pot.potential
        F["link_inverse"] = pot.link_inverse
    if pot.shaped_potential is not None:
        F["shaped_potential"] = pot.shaped_potential
    if D == D_SYM:
        F.update(derive_depth_limits(rec, fl.link, pot.conjugate))
    formulas = {k: export(v) for k, v in F.items()}
    return Derivation(D, loss, tuple(rec.steps), formulas, (u0, v0))


@functools.lru_cache(maxsize=64)
def _cached(D, loss, u0, v0, order):
    return _derive(D, loss, u0, v0, order)


def derive(depth, *, loss="sum", init="unbiased", series_order=6) -> Derivation:
    """Derive the theory for ``depth`` from the gradient-flow ODE (THEORY.md sections 1-5).

    ``depth``: int/float >= 2 (floats are read exactly as the decimal they print, 2.5 -> 5/2) or
    ``"D"`` for a symbolic real D > 2. ``loss``: "sum" (paper, sum r^2), "half", "mean".
    ``init``: "unbiased" (w+-(0) = alpha 1) or ``("shape", u0, v0)`` with SymPy-positive u0, v0
    (D = 2 only). ``series_order``: highest power of z kept in the series of q at 0 (>= 2).
    Cached: a repeated call returns the same object.
    """
    from krtheory._validation import InvalidInputError

    D = normalize_depth(depth)
    loss = normalize_loss(loss)
    u0, v0 = normalize_init(init, D)
    if isinstance(series_order, bool) or not isinstance(series_order, int) or series_order < 1 or series_order > 16:
        raise InvalidInputError(f"series_order must be an integer in [1, 16], got {series_order!r}")
    return _cached(D, loss, u0, v0, int(series_order))
