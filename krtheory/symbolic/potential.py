"""The potential: H_D = int h_D, q_D = H_D^* (Legendre), Q in both normalizations, KKT and dual.

THEORY.md sections 2 and 4. ``H`` is integrated by SymPy from the derived link; ``q_D`` is the
Legendre transform: parametrically ``(z, q) = (h(u), u h(u) - H(u))`` with the check
``dq/du = u dz/du`` (so ``q' = h^{-1}``), and in closed form where SymPy inverts ``h``
(D = 2: ``solve(h(u) = z)``, then ``q = int_0^z h^{-1}``). The KKT system of
``min Q s.t. X beta = y`` is derived on a generic symbolic instance (n = 2, d = 3) and matched
with the flow's limit ``beta(oo) = scale h(kappa (X^T int r) + tilt)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .flow import FlowDerivation
from .steps import Recorder
from .symbols import ALPHA_POS, s, u, z

__all__ = ["PotentialDerivation", "derive_potential"]


class _h(sp.Function):
    """Abstract link h (its only property used: derivative h' = _hp)."""

    def fdiff(self, argindex=1):
        return _hp(self.args[0])


class _hp(sp.Function):
    """Abstract h'."""


class _H(sp.Function):
    """Abstract antiderivative H of the link: the proven fact H' = h is built in."""

    def fdiff(self, argindex=1):
        return _h(self.args[0])


@dataclass(frozen=True)
class PotentialDerivation:
    conjugate: sp.Expr            # H_D(u)
    link_derivative: sp.Expr      # h_D'(u)
    parametric: sp.Tuple          # (z(u), q(u))
    potential: sp.Expr | None     # q_D(z) closed form (None if SymPy finds none)
    link_inverse: sp.Expr | None  # h_D^{-1}(z) closed form
    Q_paper: sp.Expr              # per coordinate, symbol b: alpha^D q(b/alpha^D) (parametric Tuple if no closed form)
    Q_flow: sp.Expr               # alpha^(2-D) * Q_paper
    kkt_beta: sp.Expr             # beta_i as a function of lam = (X^T nu)_i
    dual_objective: sp.Expr       # per coordinate: alpha^D H(lam) (minus <nu, y>)
    shaped_potential: sp.Expr | None  # D = 2 general shape: c q(b/c) - phi b


def _integrate_link(rec: Recorder, fl: FlowDerivation):
    v = sp.Symbol("v", real=True)
    F = sp.integrate(fl.link.subs(u, v), v, conds="none")
    H = sp.simplify(F.subs(v, u) - F.subs(v, 0))
    if fl.D != 2:
        # normal form ((D-2)/2) [(1-u)^(-2/(D-2)) + (1+u)^(-2/(D-2)) - 2]; checked equal below
        m = sp.simplify(-2 / (fl.D - 2))
        H_nf = (fl.D - 2) / 2 * ((1 - u) ** m + (1 + u) ** m - 2)
        rec.equal("H_D(u) = ((D-2)/2)[(1-u)^(-2/(D-2)) + (1+u)^(-2/(D-2)) - 2] (THEORY.md s4)", H, H_nf,
                  domains={"u": (-0.9, 0.9)}, positive_bases=True)
        H = H_nf
    else:
        rec.equal("H_2(u) = 2 cosh(u) - 2 (THEORY.md s2)", H, 2 * sp.cosh(u) - 2)
        H = 2 * sp.cosh(u) - 2
    rec.equal("H' = h (H is an antiderivative of the link)", sp.diff(H, u), fl.link, domains={"u": (-0.9, 0.9)})
    rec.equal("H(0) = 0", H.subs(u, 0), 0)
    return H


def _closed_form_inverse(rec: Recorder, fl: FlowDerivation):
    """h^{-1}(z) where SymPy finds it (D = 2); None otherwise."""
    if fl.D != 2:
        return None
    roots = sp.solve(sp.Eq(fl.link, z), u)
    real = [r for r in roots if all(sp.im(sp.N(r.subs(z, zz))) == 0 for zz in (-3, 0.5, 4))]
    if len(real) != 1:
        return None
    root = real[0]
    rec.equal("h(h^{-1}(z)) = z for the real root of h(u) = z", fl.link.subs(u, root), z)
    inv = sp.asinh(z / 2)
    rec.equal("the real root is asinh(z/2)", root, inv.rewrite(sp.log),
              detail=f"sympy.solve(h(u) = z, u) gives {roots}")
    return inv


def derive_potential(rec: Recorder, fl: FlowDerivation) -> PotentialDerivation:
    a = ALPHA_POS
    D = fl.D
    H = _integrate_link(rec, fl)
    hp = sp.simplify(sp.diff(fl.link, u))
    zu = fl.link
    qu = u * fl.link - H
    rec.equal("Legendre: dq/du = u dz/du along (z, q) = (h(u), u h(u) - H(u)), so q' = h^{-1}",
              sp.diff(qu, u), u * sp.diff(zu, u), domains={"u": (-0.9, 0.9)})
    rec.equal("q(0) = 0 (at u = 0, z = h(0) = 0)", qu.subs(u, 0), 0)
    rec.equal("z(0) = h(0) = 0", zu.subs(u, 0), 0)
    inv = _closed_form_inverse(rec, fl)
    q = None
    if inv is not None:
        w = sp.Symbol("w", real=True)
        q = sp.integrate(inv.subs(z, w), (w, 0, z))
        rec.equal("q(z) = int_0^z h^{-1} matches the parametric form: q(h(u)) = u h(u) - H(u)",
                  q.subs(z, zu), qu, domains={"u": (-3, 3)}, costly=False,
                  detail="asinh(sinh(u)) = u and sqrt(1 + sinh(u)^2) = cosh(u) for real u are beyond simplify")
        rec.equal("q(z) = 2 - sqrt(4 + z^2) + z asinh(z/2) (THEORY.md s2)", q, 2 - sp.sqrt(4 + z ** 2) + z * sp.asinh(z / 2))
        rec.positive("q is strictly convex: q''(z) > 0", sp.diff(q, z, 2))
    # q'' = 1/h'(h^{-1}(z)) > 0 follows from h' > 0 (recorded in the flow steps)
    rec.equal("q''(h(u)) = 1/h'(u): d(q')/dz = du/dz", sp.diff(u, u) / sp.diff(zu, u), 1 / hp,
              domains={"u": (-0.9, 0.9)})

    # Q in the paper's normalization, per coordinate: Q(b) = alpha^D q(b/alpha^D). The KKT steps use
    # abstract h, H with the proven facts H' = h (step "H' = h") and q(h(u)) = u h(u) - H(u) (Legendre),
    # so they hold for every depth at once and are decided exactly.
    lam = sp.Symbol("lam", real=True)
    b_of = a ** D * _h(lam)
    Q_of = a ** D * (lam * _h(lam) - _H(lam))
    rec.equal("KKT: dQ/db = lam at b = alpha^D h(lam), i.e. grad Q(beta) = X^T nu <=> beta = alpha^D h(X^T nu)",
              sp.diff(Q_of, lam) / sp.diff(b_of, lam), lam, numeric=False,
              detail="dQ/db = (dQ/dlam)/(db/dlam) along the Legendre curve, using H' = h; "
                     "h strictly increasing (h' > 0) makes this the only stationary point")
    # flow-natural normalization alpha^(2-D) Q: same argmin (positive factor), multiplier mu = alpha^(D-2) nu
    factor = a ** (2 - D)
    rec.positive("flow-natural potential alpha^(2-D) Q has the same argmin: the factor alpha^(2-D) > 0", factor,
                 detail="alpha > 0")
    m = sp.Symbol("m", real=True)
    b_m = a ** D * _h(a ** (D - 2) * m)
    Qf_m = factor * a ** D * (a ** (D - 2) * m * _h(a ** (D - 2) * m) - _H(a ** (D - 2) * m))
    rec.equal("flow-natural KKT: d(alpha^(2-D) Q)/db = m at b = alpha^D h(alpha^(D-2) m)",
              sp.diff(Qf_m, m) / sp.diff(b_m, m), m, numeric=False, positive_bases=True,
              detail="the flow-natural multiplier m = kappa' int r carries no alpha (see the flow-to-KKT step)")

    # KKT on a generic instance: Lagrangian sum_i Q(beta_i) - nu.(X beta - y), with beta_i = alpha^D h(lam_i)
    nr, nc = 2, 3
    X = sp.Matrix(nr, nc, lambda i, j: sp.Symbol(f"x_{i}{j}", real=True))
    y = sp.Matrix(nr, 1, lambda i, j: sp.Symbol(f"y_{i}", real=True))
    nu = sp.Matrix(nr, 1, lambda i, j: sp.Symbol(f"nu_{i}", real=True))
    lam_vec = X.T * nu
    beta_nu_abs = [fl.scale * _h(lam_vec[i] + fl.tilt) for i in range(nc)]
    dual = sum(fl.scale * _H(lam_vec[i] + fl.tilt) for i in range(nc)) - (nu.T * y)[0]
    for kk in range(nr):
        rec.equal(f"dual: d/dnu_{kk} [sum_i c H((X^T nu)_i + phi) - <nu, y>] = (X beta(nu) - y)_{kk}",
                  sp.diff(dual, nu[kk]), sum(X[kk, i] * beta_nu_abs[i] for i in range(nc)) - y[kk], numeric=False,
                  detail="stationarity of the dual is primal feasibility, with beta(nu) from the KKT condition; uses H' = h")
    # the flow's limit has the KKT form: with rho = int_0^oo r, s_i = (X^T rho)_i and nu = kappa rho,
    # (X^T nu)_i = kappa s_i by linearity, so beta_i(oo) = scale h(kappa s_i + tilt) is the KKT form
    sig = sp.Symbol("sigma", real=True)
    rec.equal("flow limit is KKT: beta(s = (X^T rho)_i) = scale h((X^T nu)_i + tilt) with nu = kappa rho",
              fl.beta_of_s.subs(s, sig), fl.scale * zu.subs(u, fl.kappa * sig + fl.tilt),
              positive_bases=True, domains={"sigma": (-0.01, 0.01)},
              detail=f"kappa = {fl.kappa}; rho = int_0^oo r(t) dt (the flow converged to zero loss)")

    shaped = None
    bsym = sp.Symbol("b", real=True)
    if q is not None:
        Q_paper = a ** D * q.subs(z, bsym / a ** D)
        if fl.tilt != 0 or fl.scale != a ** 2:
            c, phi = fl.scale, fl.tilt
            shaped = c * q.subs(z, bsym / c) - phi * bsym
            rec.equal("shaped potential: d/db [c q(b/c) - phi b] = lam at b = c h(lam + phi)",
                      sp.diff(shaped, bsym).subs(bsym, c * fl.link.subs(u, lam + phi)), lam,
                      domains={"lam": (-2, 2)}, detail=f"c = {c}, phi = {phi} (THEORY.md s2, general shape)")
            rec.equal("beta(0) = alpha^2 (u0^2 - v0^2) for the shaped init", fl.beta_of_s.subs(s, 0),
                      c * fl.link.subs(u, phi))
    else:
        Q_paper = sp.Tuple(a ** D * zu, a ** D * qu)
    Q_flow = (factor * Q_paper) if not isinstance(Q_paper, sp.Tuple) else sp.Tuple(Q_paper[0], factor * Q_paper[1])
    return PotentialDerivation(H, hp, sp.Tuple(zu, qu), q, inv, Q_paper, Q_flow,
                               fl.scale * zu.subs(u, lam + fl.tilt), fl.scale * H.subs(u, lam + fl.tilt), shaped)
