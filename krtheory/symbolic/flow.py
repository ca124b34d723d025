"""From the gradient-flow ODE to the closed-form flow, its invariant, beta(s) and the link h_D.

THEORY.md section 1. Starting point: beta(w) = w+^D - w-^D, the loss in the chosen
normalization, ``w' = -grad L`` computed by ``sympy.diff`` on a generic symbolic instance
(n = 2 samples, d = 2 coordinates, all entries free symbols). The coordinate-wise gradient is
read off as ``dL/dw+-_i = +-k w+-_i^(D-1) (X^T r)_i``; the separable ODE is then solved in the
integrated variable ``s = (X^T int r)_i`` (``dsolve`` for D = 2, separation of variables for
D > 2), checked by substitution into the ODE in ``t``, and the invariant is read off from the
separating antiderivative ``F(w) = int w^(1-D) dw``: ``F(w+) + F(w-)`` is constant.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .steps import Recorder
from .symbols import ALPHA_POS, DELTA, LOSS_FACTORS, s, t, u

__all__ = ["FlowDerivation", "derive_flow", "force_powers"]


def wpower(base, m, D):
    """``W^m`` for ``W = base^(1/(2-D))`` with ``base > 0``: ``base^(m/(2-D))`` (exponent cancelled)."""
    return sp.Pow(base, sp.cancel(sp.sympify(m) / (2 - D)))


def force_powers(expr):
    """Power rules valid for positive bases ((ab)^c = a^c b^c, (a^b)^c = a^(bc)).

    Used only on expressions whose bases are positive on the stated domain (alpha > 0, w > 0,
    1 +- u > 0 for |u| < 1); every use is followed by a recorded check of the result.
    """
    expr = sp.expand_power_base(sp.sympify(expr), force=True)
    expr = sp.powdenest(expr, force=True)
    return sp.powsimp(expr, force=True)


@dataclass(frozen=True)
class FlowDerivation:
    D: sp.Expr
    k: sp.Expr               # dL/dw+_i = k w+_i^(D-1) (X^T r)_i
    w_plus: sp.Expr          # w+(s)
    w_minus: sp.Expr         # w-(s)
    invariant: sp.Expr       # in the symbols wp, wm
    invariant_value: sp.Expr
    beta_of_s: sp.Expr
    kappa: sp.Expr           # zeta = kappa * s (scaled dual variable)
    link: sp.Expr            # h_D(u)
    scale: sp.Expr           # beta = scale * h_D(zeta + tilt)
    tilt: sp.Expr
    wp: sp.Symbol
    wm: sp.Symbol


WP = sp.Symbol("w_plus", positive=True)
WM = sp.Symbol("w_minus", positive=True)


def _is_two(D):
    return D == 2


def _gradient_coefficient(rec: Recorder, D, loss):
    """Differentiate the loss on a generic instance and read off k (THEORY.md s1)."""
    nr, nc = 2, 2
    X = sp.Matrix(nr, nc, lambda i, j: sp.Symbol(f"x_{i}{j}", real=True))
    y = sp.Matrix(nr, 1, lambda i, j: sp.Symbol(f"y_{i}", real=True))
    wp = [sp.Symbol(f"wp_{j}", positive=True) for j in range(nc)]
    wm = [sp.Symbol(f"wm_{j}", positive=True) for j in range(nc)]
    beta = sp.Matrix([wp[j] ** D - wm[j] ** D for j in range(nc)])
    r = X * beta - y
    L = LOSS_FACTORS[loss] * sum(r[i] ** 2 for i in range(nr))
    g = X.T * r
    k = sp.simplify(sp.diff(L, wp[0]) / (wp[0] ** (D - 1) * g[0]))
    instance = set(X.free_symbols) | set(y.free_symbols) | set(wp) | set(wm)
    rec.fact("gradient coefficient is free of the data",
             sp.Eq(sp.Symbol("k"), k, evaluate=False), not (k.free_symbols & instance),
             detail=f"k = (dL/dw+_0) / (w+_0^(D-1) (X^T r)_0) simplifies to {k}, free of X, y, w")
    for j in range(nc):
        rec.equal(f"dL/dw+_{j} = k w+_{j}^(D-1) (X^T r)_{j}", sp.diff(L, wp[j]), k * wp[j] ** (D - 1) * g[j],
                  numeric=False, detail="sympy.diff of the loss on a 2x2 symbolic instance")
        rec.equal(f"dL/dw-_{j} = -k w-_{j}^(D-1) (X^T r)_{j}", sp.diff(L, wm[j]), -k * wm[j] ** (D - 1) * g[j],
                  numeric=False, detail="sympy.diff of the loss on a 2x2 symbolic instance")
    return k


def _solve_separable(rec: Recorder, D, c, w0, label):
    """Solve dW/ds = -c W^(D-1), W(0) = w0 > 0 (c may be negative); return (W(s), F)."""
    W = sp.Function("W")
    Wp = sp.Symbol("W", positive=True)
    F = sp.integrate(Wp ** (1 - D), Wp, conds="none")  # separating antiderivative
    if _is_two(D):
        sol = sp.dsolve(sp.Eq(W(s).diff(s), -c * W(s)), W(s), ics={W(0): w0}).rhs
        base = None
    else:
        # F(W) = F(w0) - c s is linear in V = W^(2-D): solve for V, then W = V^(1/(2-D)) (W > 0)
        V = sp.Symbol("V", positive=True)
        Vsol = sp.solve(sp.Eq(F.subs(Wp ** (2 - D), V), F.subs(Wp, w0) - c * s), V)
        if len(Vsol) != 1:
            raise RuntimeError(f"separated ODE for {label}: expected one solution for W^(2-D), got {Vsol}")
        base = sp.expand(Vsol[0])
        # factored as w0^(2-D) (1 + gamma s): the form the later steps match against
        w02 = sp.Pow(w0, 2 - D)
        inner = sp.collect(sp.powsimp(sp.expand(base / w02)), s, sp.factor)
        base_f = w02 * inner
        rec.equal(f"{label}^(2-D) = {w02} ({inner})", base, base_f, numeric=False,
                  detail=f"sympy.solve of the separated equation gives W^(2-D) = {base}")
        base = base_f
        sol = base ** (1 / (2 - D))
    # substitute back into the ODE: in s (where the numeric fallback can sample), then the chain
    # rule d/dt W(s(t)) = W'(s) ds/dt with ds/dt = (X^T r)_i turns it into the ODE in t.
    # D > 2: W^(D-1) is written as B^((D-1)/(2-D)) with B = W^(2-D) > 0 near s = 0 (what (B^x)^y = B^(xy)
    # gives for B > 0); a real base raised twice would otherwise leave Abs() that no rewrite removes
    wpow = (sol ** (D - 1)) if base is None else wpower(base, D - 1, D)
    rec.equal(f"{label}(s) solves d{label}/ds = -({c}) {label}^(D-1)",
              sp.diff(sol, s), -c * wpow, positive_bases=base is not None,
              domains={"s": (-0.01, 0.01)},
              detail=("sympy.dsolve" if base is None else "separation of variables: integrate(W**(1-D), W)")
              + (f"; base W^(2-D) = {base} > 0 near s = 0" if base is not None else ""))
    sf = sp.Function("s", real=True)(t)
    wt = sol.subs(s, sf)
    rec.equal(f"chain rule: d{label}(s(t))/dt = {label}'(s) ds/dt", sp.diff(wt, t),
              sp.diff(sol, s).subs(s, sf) * sp.diff(sf, t), numeric=False)
    rec.equal(f"{label}(0) = initial value", sol.subs(s, 0), w0, numeric=False)
    return sol, F, base


def derive_flow(rec: Recorder, D, loss, u0, v0) -> FlowDerivation:
    a = ALPHA_POS
    k = _gradient_coefficient(rec, D, loss)
    wplus, F, base_p = _solve_separable(rec, D, k, a * u0, "w+")
    wminus, _, base_m = _solve_separable(rec, D, -k, a * v0, "w-")
    Wp = sp.Symbol("W", positive=True)

    # invariant: d/ds F(w+) = -k, d/ds F(w-) = +k, so F(w+) + F(w-) is conserved
    raw = F.subs(Wp, WP) + F.subs(Wp, WM)
    if _is_two(D):
        inv = sp.simplify(sp.exp(raw))           # exp(log w+ + log w-) = w+ w-
    else:
        inv = sp.powsimp(sp.expand(sp.simplify((2 - D) * raw)), force=True)  # w+^(2-D) + w-^(2-D)
    flow_rhs = {WP: -k * WP ** (D - 1), WM: k * WM ** (D - 1)}   # times (X^T r)_i, a common factor
    rec.equal("invariant is conserved along the ODE: dI/dt = 0",
              sum(sp.diff(inv, w) * rhs for w, rhs in flow_rhs.items()), 0, numeric=False,
              detail=f"I(w+, w-) = {inv} from the separating antiderivative F(w) = {F}")
    if _is_two(D):
        inv_s = inv.subs({WP: wplus, WM: wminus})
    else:
        # W^m = B^(m/(2-D)) for the positive bases B = W^(2-D) (see wpower)
        inv_s = inv.replace(lambda x: x.is_Pow and x.base in (WP, WM),
                            lambda x: wpower(base_p if x.base == WP else base_m, x.exp, D))
    inv0 = sp.powsimp(inv.subs({WP: a * u0, WM: a * v0}), force=True)
    rec.equal("invariant along the solution: I(w(s)) = I(w(0))", inv_s, inv0, domains={"s": (-0.01, 0.01)},
              positive_bases=base_p is not None, detail=f"I(w(0)) = {inv0}")

    beta_s = (wplus ** D - wminus ** D) if _is_two(D) else (wpower(base_p, D, D) - wpower(base_m, D, D))
    # scaled dual variable zeta (linear in s): w+^D = w+(0)^D exp(zeta) (D = 2), w+^(2-D) = alpha^(2-D)(1 - zeta) (D > 2)
    if _is_two(D):
        zeta = sp.expand(sp.expand_log(sp.log(wplus ** D / (a * u0) ** D), force=True))
    else:
        zeta = sp.expand(1 - base_p / a ** (2 - D))
    kappa = sp.simplify(sp.diff(zeta, s))
    rec.equal("zeta(s) is linear in s: zeta = kappa s", zeta, kappa * s, numeric=False,
              detail=f"kappa = {kappa}")
    if _is_two(D):
        # beta(zeta) = A e^zeta - B e^-zeta = c (e^(zeta+phi) - e^-(zeta+phi)) with c^2 = AB, e^(2 phi) = A/B
        bz = sp.expand(beta_s.subs(s, u / kappa))
        A = bz.coeff(sp.exp(u))
        B = -bz.coeff(sp.exp(-u))
        c = sp.simplify(sp.sqrt(A * B))
        phi = sp.simplify(sp.expand_log(sp.log(A / B) / 2, force=True))
        link = sp.simplify(sp.expand(beta_s.subs(s, (u - phi) / kappa) / c))
        rec.equal("beta(s) = scale * h(zeta + tilt)", beta_s, c * link.subs(u, kappa * s + phi), numeric=False,
                  detail=f"coefficients of e^zeta, e^-zeta: {A}, {B}; scale c = {c}, tilt phi = {phi}")
        rec.equal("link h_2(u) = 2 sinh(u) (THEORY.md s1)", link.rewrite(sp.exp), (2 * sp.sinh(u)).rewrite(sp.exp),
                  numeric=False)
        link = 2 * sp.sinh(u) if sp.simplify((link - 2 * sp.sinh(u)).rewrite(sp.exp)) == 0 else link
    else:
        c, phi = a ** D, sp.Integer(0)
        # w+-^D = (w+-^(2-D))^(D/(2-D)) and w+-^(2-D) = alpha^(2-D) (1 -+ zeta): divide alpha^D out
        onem = sp.collect(sp.expand(base_p.subs(s, u / kappa) / a ** (2 - D)), u, sp.cancel)
        onep = sp.collect(sp.expand(base_m.subs(s, u / kappa) / a ** (2 - D)), u, sp.cancel)
        # these two identify the bases of beta(s = zeta/kappa) = B+^(D/(2-D)) - B-^(D/(2-D)) used next
        rec.equal("w+^(2-D) = alpha^(2-D) (1 - zeta) at s = zeta/kappa", base_p.subs(s, u / kappa),
                  a ** (2 - D) * (1 - u), numeric=False, detail=f"1 - zeta = {onem}")
        rec.equal("w-^(2-D) = alpha^(2-D) (1 + zeta) at s = zeta/kappa", base_m.subs(s, u / kappa),
                  a ** (2 - D) * (1 + u), numeric=False, detail=f"1 + zeta = {onep}")
        expo = sp.cancel(D / (2 - D))
        link = onem ** expo - onep ** expo
        rec.equal("beta(zeta) = alpha^D h_D(zeta)",
                  (a ** (2 - D) * onem) ** expo - (a ** (2 - D) * onep) ** expo, a ** D * link,
                  domains={"u": (-0.9, 0.9)}, positive_bases=True,
                  detail=f"w+^(2-D) = alpha^(2-D) ({onem}), w-^(2-D) = alpha^(2-D) ({onep}); "
                         "bases alpha > 0, 1 +- u > 0")
        pp = D / (D - 2)
        rec.equal("link h_D(u) = (1-u)^(-p) - (1+u)^(-p), p = D/(D-2) (THEORY.md s1)", link,
                  (1 - u) ** (-pp) - (1 + u) ** (-pp), domains={"u": (-0.9, 0.9)})
    # oddness of the link (used by the oddness-in-y proof)
    rec.equal("link is odd: h(-u) = -h(u)", link.subs(u, -u), -link, domains={"u": (-0.9, 0.9)})
    hp = sp.diff(link, u)
    if _is_two(D):
        rec.positive("link is increasing: h'(u) > 0", hp, detail="h'(u) = 2 cosh(u)")
    else:
        Ap, Bp = sp.Symbol("A1", positive=True), sp.Symbol("B1", positive=True)
        subs = {u: (Bp - Ap) / (Ap + Bp)}  # parametrizes u in (-1, 1) by positive A1, B1
        if D.free_symbols:
            subs = {**subs, D: 2 + DELTA}
        rec.positive("link is increasing on (-1, 1): h_D'(u) > 0", hp, assumptions_subs=subs,
                     domains={"u": (-0.99, 0.99)},
                     detail="with u = (B1 - A1)/(A1 + B1), A1, B1 > 0 (i.e. |u| < 1)" + (", D = 2 + delta, delta > 0" if D.free_symbols else ""))
    return FlowDerivation(D, k, wplus, wminus, inv, inv0, beta_s, kappa, link, c, phi, WP, WM)
