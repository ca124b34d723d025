"""Asymptotics of q_D and Q: series at 0 and at infinity, C_D, the alpha -> 0 / oo limits and rates.

THEORY.md sections 2 and 4.
- At 0: ``h`` is expanded with ``sympy.series``, inverted order by order (series reversion:
  ``u(z) = sum a_j z^j`` with ``h(u(z)) = z``), and ``q = int_0^z u``. Checked by composing back
  with the parametric form (exact truncated-series identity) and, for D = 2, against
  ``sympy.series`` of the closed form (a different algorithm).
- At infinity (D > 2): in the edge variable ``e = 1 - u -> 0+``, ``z = e^(-p) - (2-e)^(-p)`` with
  ``p = D/(D-2)``; the singular terms of ``q = u z - H(u)`` are ``z`` and ``-(D/2) e^(1-p)``, and
  ``e^(1-p) ~ z^(2/D)``; the regular remainder tends to ``C_D``. For D = 2 SymPy's ``series`` at
  ``oo`` of the closed form (asinh rewritten as log).
- Beyond C_D (numeric D > 2): e = w (1 + v g(e))^(-1/p), g = (2-e)^(-p), w = |z|^(-1/p),
  v = 1/|z| = w^p, solved by fixed point as a double series in (w, v) (exponents a + p b exact
  for rational p; THEORY.md s4 "double series"), substituted into q; the first 3 nonzero orders
  after C_D kept, checked against q = z u - H(u) with u from mpmath (80 dps, 24 points).
- Limits of ``Q_alpha(b) = alpha^D q(b/alpha^D)`` (per coordinate, ``b > 0``; ``q`` is even).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .flow import FlowDerivation
from .potential import PotentialDerivation
from .steps import Recorder
from .symbols import ABS_Z, ALPHA_POS, B_POS, DELTA, D_SYM, Z_POS, e, u, z

__all__ = ["AsymptoticsDerivation", "derive_asymptotics", "series_reversion"]


@dataclass(frozen=True)
class AsymptoticsDerivation:
    series_zero: sp.Expr
    series_infinity: sp.Expr
    C_D: sp.Expr
    limits: dict
    series_infinity_terms: sp.Expr | None = None   # numeric D > 2 only: through the next 3 orders


def _d_gt_2(expr, D):
    """Encode D > 2 for SymPy's assumptions (D = 2 + delta, delta > 0) when D is symbolic."""
    return expr.subs(D, 2 + DELTA) if D == D_SYM else expr


def _coeff_domain(*exprs):
    """Exact coefficient domain: QQ, or the rational functions QQ(D) for the symbolic depth."""
    syms = set().union(*(sp.sympify(x).free_symbols for x in exprs)) - {u, z}
    return sp.QQ.frac_field(*sorted(syms, key=str)) if syms else sp.QQ


def taylor_coefficients(expr, var, order):
    """Exact Taylor coefficients ``[f(0), f'(0), f''(0)/2, ...]`` of ``expr`` at ``var = 0`` to ``order``.

    By repeated differentiation (the definition), each coefficient put in normal form with
    ``cancel``: for the link and H (two or three powers of 1 +- u) this stays small, where
    ``sympy.series`` of the whole expression with a symbolic exponent takes minutes.
    """
    out, g = [], sp.sympify(expr)
    fact = sp.Integer(1)
    for j in range(order + 1):
        if j:
            g = sp.diff(g, var)
            fact *= j
        out.append(sp.cancel(sp.expand(g.subs(var, 0)) / fact))
    return out


def _poly(coeffs, var, dom):
    return sp.Poly(list(reversed(coeffs)), var, domain=dom)


def _truncate_poly(P, order):
    """Drop the terms of degree > order of a Poly."""
    return sp.Poly.from_dict({m: c for m, c in P.as_dict().items() if m[0] <= order}, *P.gens, domain=P.domain) \
        if P.degree() > order else P


def _compose_truncated(outer, inner, order):
    """``outer(inner(x)) + O(x^(order+1))`` for Polys over one domain (``inner`` without constant term)."""
    dom = inner.domain
    acc = sp.Poly(0, *inner.gens, domain=dom)
    power = sp.Poly(1, *inner.gens, domain=dom)
    for k, ck in enumerate(outer.all_coeffs()[::-1][:order + 1]):
        if k:
            power = _truncate_poly(power * inner, order)
        if ck:
            acc = acc + power.mul_ground(ck)
    return _truncate_poly(acc, order)


def series_reversion(h_series, order):
    """Coefficients of ``u(z)`` with ``h(u(z)) = z + O(z^(order+1))``; ``h_series`` a polynomial in u.

    Solved order by order: the coefficient of ``z^j`` in ``h(U + a_j z^j)`` is
    ``h_1 a_j + [z^j] h(U)`` (``a_j z^j`` enters the other terms at degree >= j + 1), so
    ``a_j = -[z^j] h(U) / h_1``; exact arithmetic in the coefficient domain (QQ or QQ(D)).
    """
    dom = _coeff_domain(h_series)
    H = sp.Poly(h_series, u, domain=dom)
    h1 = H.coeff_monomial(u)
    U = sp.Poly(z / h1, z, domain=dom)
    for j in range(2, order + 1):
        cj = _compose_truncated(H, U, j).coeff_monomial(z ** j)
        if cj:
            U = U + sp.Poly(-cj / h1 * z ** j, z, domain=dom)
    return sum(sp.factor(c) * z ** m[0] for m, c in U.as_dict(native=False).items())


def _series_zero(rec: Recorder, fl: FlowDerivation, pot: PotentialDerivation, order: int):
    D = fl.D
    hc = taylor_coefficients(fl.link, u, order)
    hs = sum(c * u ** j for j, c in enumerate(hc))
    U = series_reversion(hs, order - 1)               # q' = u(z) to z^(order-1)
    w = sp.Symbol("w", real=True)
    qs = sp.integrate(U.subs(z, w), (w, 0, z))
    qs = sp.collect(sp.expand(qs), z, sp.factor)
    # check: q_series(h(u)) = u h(u) - H(u) + O(u^(order+1)) (exact, truncated-series identity;
    # the left side composed as polynomials, the right side from its own Taylor coefficients)
    dom = _coeff_domain(hs, qs, pot.parametric[1])
    comp = _compose_truncated(sp.Poly(qs, z, domain=dom), sp.Poly(hs, u, domain=dom), order)
    lhs = comp.as_expr()
    rhs = sum(c * u ** j for j, c in enumerate(taylor_coefficients(pot.parametric[1], u, order)))
    rec.equal(f"series at 0: q(h(u)) = u h(u) - H(u) + O(u^{order + 1})", sp.expand(lhs), sp.expand(rhs),
              numeric=False, detail=f"series reversion of h to order {order - 1}, then q = int_0^z h^{{-1}}; "
                                    "Taylor coefficients by differentiation at u = 0")
    if pot.potential is not None:
        direct = sp.series(pot.potential, z, 0, order + 1).removeO()
        rec.equal("series at 0 agrees with sympy.series of the closed form", qs, direct, numeric=False,
                  detail="two algorithms: reversion of the link vs. expansion of q")
        rec.equal("q(z) = z^2/4 - z^4/192 + ... (THEORY.md s2)", qs.coeff(z, 2) * z ** 2 + qs.coeff(z, 4) * z ** 4,
                  z ** 2 / 4 - z ** 4 / 192, numeric=False)
    else:
        c2 = (D - 2) / (4 * D)
        c4 = -(D - 2) * (D - 1) * (3 * D - 4) / (96 * D ** 3)
        rec.equal("q_D(z) = ((D-2)/(4D)) z^2 - ((D-2)(D-1)(3D-4)/(96 D^3)) z^4 + ... (THEORY.md s4)",
                  qs.coeff(z, 2) * z ** 2 + qs.coeff(z, 4) * z ** 4, c2 * z ** 2 + c4 * z ** 4, numeric=False)
    return qs + sp.O(z ** (order + 1))


def _series_infinity_d2(rec: Recorder, pot: PotentialDerivation, order: int):
    q = pot.potential.subs(z, Z_POS).rewrite(sp.log)
    ser = sp.series(q, Z_POS, sp.oo, max(order, 5))
    main = sp.expand(sp.expand_log(sp.expand(ser.removeO()), force=True))
    expected = Z_POS * sp.log(Z_POS) - Z_POS + 2 - 1 / Z_POS + 1 / (2 * Z_POS ** 3)
    rec.limit("series at oo: z^4 (series - (z log z - z + 2 - 1/z + 1/(2 z^3))) -> 0 (THEORY.md s2)",
              Z_POS ** 4 * (main - expected), Z_POS, sp.oo, 0,
              detail="sympy.series at oo of the closed form (asinh rewritten as log); z > 0, q even")
    # every returned term is pinned down: the remainder is o(z^-(last power)) (q - z log z is odd in 1/z)
    last = -min(tm.as_coeff_exponent(Z_POS)[1] for tm in sp.Add.make_args(main) if not tm.has(sp.log))
    rec.limit(f"series at oo is the expansion of q: z^{last + 1} (q - series) -> 0", Z_POS ** (last + 1) * (q - main),
              Z_POS, sp.oo, 0, detail=f"the series returned by SymPy ends at z^-{last}")
    rec.limit("constant term: lim_{z->oo} q(z) - z log z + z = 2", q - Z_POS * sp.log(Z_POS) + Z_POS, Z_POS, sp.oo, 2)
    # q is even: the expansion holds in |z| (the positive symbol abs_z; Abs(z)^(-3) would print
    # as Abs(z)/z^4); truncated after the last term SymPy returned
    return main.xreplace({Z_POS: ABS_Z}), sp.Integer(2)


def _series_infinity_power(rec: Recorder, fl: FlowDerivation, pot: PotentialDerivation):
    D = fl.D
    pp = D / (D - 2)
    ze = pot.parametric[0].subs(u, 1 - e)
    qe = pot.parametric[1].subs(u, 1 - e)
    # remove the singular terms z and -(D/2) e^(1-p): what is left is regular at e = 0
    rho = e * (2 - e) ** (-pp) - (D - 2) / 2 * ((2 - e) ** (-2 / (D - 2)) - 2)
    rec.equal("edge variable e = 1-u: q - z + (D/2) e^(1-p) = e (2-e)^(-p) - ((D-2)/2)((2-e)^(-2/(D-2)) - 2)",
              _d_gt_2(qe - ze + D / 2 * e ** (1 - pp), D), _d_gt_2(rho, D), positive_bases=True,
              domains={"e": (0.05, 0.95)},
              detail="z = e^(-p) - (2-e)^(-p), q = (1-e) z - H(1-e); bases e, 2 - e > 0")
    C = sp.simplify(_d_gt_2(rho.subs(e, 0), D))
    if D == D_SYM:
        C = sp.simplify(C.subs(DELTA, D - 2))
    CD_ref = (D - 2) * (1 - 2 ** (-pp))
    rec.limit("C_D = lim_{e->0+} of the regular part", _d_gt_2(rho, D), e, 0, _d_gt_2(CD_ref, D), direction="+",
              detail="C_D = (D-2)(1 - 2^(-D/(D-2))) (THEORY.md s4)")
    rec.limit("z -> oo as e -> 0+ (1/z -> 0)", _d_gt_2(1 / ze, D), e, 0, 0, direction="+")
    # the gauge e^(1-p) against z^(2/D): (D/2)(e^(1-p) - z^(2/D)) -> 0
    rec.limit("(D/2)(e^(1-p) - z(e)^(2/D)) -> 0 as e -> 0+, so q = |z| - (D/2)|z|^(2/D) + C_D + o(1)",
              _d_gt_2(D / 2 * (e ** (1 - pp) - ze ** (2 / D)), D), e, 0, 0, direction="+",
              domains={"delta": (0.3, 4.0), "D": (2.3, 6.0)})
    return ABS_Z - D / 2 * ABS_Z ** (2 / D) + CD_ref, CD_ref


def _alpha_limits(rec: Recorder, fl: FlowDerivation, pot: PotentialDerivation, qs0, qinf, CD):
    a, bp = ALPHA_POS, B_POS
    D = fl.D
    lim = {}
    if pot.potential is not None:
        Q = a ** 2 * pot.potential.subs(z, bp / a ** 2)
        rec.limit("alpha -> oo: alpha^2 Q_alpha(b) -> b^2/4 (kernel regime, l2)", a ** 2 * Q, a, sp.oo, bp ** 2 / 4)
        rec.limit("rate at alpha -> oo: alpha^6 (Q - b^2/(4 alpha^2)) -> -b^4/192, i.e. O(alpha^-6)",
                  a ** 6 * (Q - bp ** 2 / (4 * a ** 2)), a, sp.oo, -bp ** 4 / 192)
        rec.limit("alpha -> 0: Q_alpha(b)/log(1/alpha^2) -> |b| (rich regime, l1)", Q / sp.log(1 / a ** 2), a, 0, bp,
                  direction="+", detail="b > 0; q is even")
        rec.limit("rate at alpha -> 0: Q_alpha(b) - |b| log(1/alpha^2) -> |b| log|b| - |b| (only logarithmic)",
                  Q - bp * sp.log(1 / a ** 2), a, 0, bp * sp.log(bp) - bp, direction="+")
        lim["alpha_to_infinity"] = sp.Eq(sp.Limit(a ** 2 * sp.Symbol("Q_alpha"), a, sp.oo), bp ** 2 / 4, evaluate=False)
        lim["alpha_to_zero"] = sp.Eq(sp.Limit(sp.Symbol("Q_alpha") / sp.log(1 / a ** 2), a, 0, "+"), sp.Abs(bp), evaluate=False)
        lim["rate_alpha_to_infinity"] = -bp ** 4 / (192 * a ** 6)
        lim["rate_alpha_to_zero"] = (bp * sp.log(bp) - bp) / sp.log(1 / a ** 2)
    else:
        c2 = qs0.removeO().coeff(z, 2)
        c4 = qs0.removeO().coeff(z, 4)
        trunc = c2 * z ** 2 + c4 * z ** 4
        Qs = a ** D * trunc.subs(z, bp / a ** D)
        rec.limit("alpha -> oo: alpha^D Q_alpha^D(b) -> ((D-2)/(4D)) b^2 (kernel regime, l2)",
                  _d_gt_2(a ** D * Qs, D), a, sp.oo, _d_gt_2((D - 2) / (4 * D) * bp ** 2, D),
                  detail="from the series at 0 (b/alpha^D -> 0); the O(z^6) remainder contributes O(alpha^(-4D))")
        rec.equal("relative correction at alpha -> oo is (c4/c2) b^2 alpha^(-2D): Theta(alpha^(-2D))",
                  sp.expand(a ** D * Qs / (c2 * bp ** 2)), 1 + (c4 / c2) * bp ** 2 * a ** (-2 * D),
                  positive_bases=True, numeric=True)
        Qinf = sp.expand(a ** D * qinf.subs(ABS_Z, bp / a ** D))
        gap_expected = bp - D / 2 * a ** (D - 2) * bp ** (2 / D) + CD * a ** D
        rec.equal("alpha -> 0: Q_alpha^D(b) = |b| - (D/2) alpha^(D-2) |b|^(2/D) + C_D alpha^D + o(alpha^D)",
                  Qinf, gap_expected, positive_bases=True,
                  detail="alpha^D (z - (D/2) z^(2/D) + C_D) at z = b/alpha^D (b > 0, q even)")
        rec.limit("alpha -> 0: the gap (D/2) alpha^(D-2) |b|^(2/D) -> 0 (rich regime, l1; polynomial rate)",
                  _d_gt_2(D / 2 * a ** (D - 2) * bp ** (2 / D), D), a, 0, 0, direction="+")
        lim["alpha_to_infinity"] = sp.Eq(sp.Limit(a ** D * sp.Symbol("Q_alpha"), a, sp.oo), (D - 2) / (4 * D) * bp ** 2, evaluate=False)
        lim["alpha_to_zero"] = sp.Eq(sp.Limit(sp.Symbol("Q_alpha"), a, 0, "+"), sp.Abs(bp), evaluate=False)
        lim["rate_alpha_to_infinity"] = (c4 / c2) * bp ** 2 * a ** (-2 * D)
        lim["rate_alpha_to_zero"] = -D / 2 * a ** (D - 2) * bp ** (2 / D)
    return lim


# ---- higher-order terms at infinity, numeric D > 2 (THEORY.md s4: a double series) ----------
# Bivariate truncated series in w = |z|^(-1/p) and v = 1/|z| = w^p, kept apart so that the
# exponents a + p b stay exact for any rational p; a dict {(a, b): coeff}, truncated at weight
# a + p b <= wmax.

def _bmul(A, B, p, wmax):
    out = {}
    for (a1, b1), c1 in A.items():
        for (a2, b2), c2 in B.items():
            k = (a1 + a2, b1 + b2)
            if k[0] + p * k[1] <= wmax:
                out[k] = out.get(k, 0) + c1 * c2
    return out


def _badd(A, B, scale=1):
    out = dict(A)
    for k, c in B.items():
        out[k] = out.get(k, 0) + scale * c
    return out


def _bpower_series(coeffs, X, p, wmax):
    """``sum_k coeffs[k] X^k`` truncated; ``X`` has no constant term (weight >= 1 per factor)."""
    out, power = {(0, 0): coeffs[0]} if coeffs[0] else {}, {(0, 0): sp.Integer(1)}
    for k in range(1, len(coeffs)):
        power = _bmul(power, X, p, wmax)
        if not power:
            break
        out = _badd(out, power, coeffs[k])
    return out


def _edge_and_q_series(D, wmax):
    """(e, q - |z| + (D/2)|z|^(2/D)) as bivariate series in (w, v) to weight ``wmax``.

    From z = e^(-p) - g(e), g(e) = (2-e)^(-p): e = w (1 + v g(e))^(-1/p) (a contraction: the
    correction has weight >= p, solved by fixed-point iteration, each pass exact to one more order),
    and (D/2) e^(1-p) = (D/2) w^(1-p) (1 + v g(e))^(2/D), whose k = 0 term is (D/2)|z|^(2/D)
    and whose k >= 1 terms are w v^(k-1) g^k binom(2/D, k); q = z - (D/2) e^(1-p) + rho(e).
    """
    pp = D / (D - 2)
    n = int(sp.floor(wmax)) + 1
    g = taylor_coefficients((2 - e) ** (-pp), e, n)
    rho = e * (2 - e) ** (-pp) - (D - 2) / 2 * ((2 - e) ** (-2 / (D - 2)) - 2)
    r = taylor_coefficients(rho, e, n)
    kmax = int(sp.floor(wmax / pp)) + 1
    E = {(1, 0): sp.Integer(1)}
    for _ in range(n + 1):
        G = _bpower_series(g, E, pp, wmax)
        X = _bmul({(0, 1): sp.Integer(1)}, G, pp, wmax)
        E = _bmul({(1, 0): sp.Integer(1)}, _bpower_series([sp.binomial(-1 / pp, k) for k in range(kmax + 1)], X, pp, wmax),
                  pp, wmax)
    G = _bpower_series(g, E, pp, wmax)
    S, Gk = {}, {(0, 0): sp.Integer(1)}
    for k in range(1, kmax + 2):
        Gk = _bmul(Gk, G, pp, wmax)
        S = _badd(S, _bmul({(1, k - 1): sp.binomial(2 / D, k)}, Gk, pp, wmax), -D / 2)   # w v^(k-1) g^k
    Q = _badd(S, _bpower_series(r, E, pp, wmax))
    return E, {k: sp.simplify(c) for k, c in Q.items()}


def _mp_q(D, zval, dps):
    """(u, z) as mpmath numbers at ``dps`` digits with h_D(u) = z > 0: the edge e = 1 - u from the
    contraction e = (z + (2-e)^(-p))^(-1/p) (derivative O(e^(p+1)), so few passes); the caller
    evaluates q = z u - H(u) from H directly (not from the series' regular part)."""
    import mpmath

    with mpmath.workdps(dps):
        pp = mpmath.mpf(D.p) / D.q / (mpmath.mpf(D.p) / D.q - 2)
        zv = mpmath.mpf(zval)
        ev = zv ** (-1 / pp)
        for _ in range(dps):
            new = (zv + (2 - ev) ** (-pp)) ** (-1 / pp)
            if new == ev:
                break
            ev = new
        return 1 - ev, zv


def _series_infinity_terms(rec: Recorder, fl: FlowDerivation, pot: PotentialDerivation, qinf, nterms=3):
    """q_D(|z|) to ``nterms`` orders beyond C_D (numeric D > 2), checked against mpmath.

    Returns ``|z| - (D/2)|z|^(2/D) + C_D + sum_j c_j |z|^(-x_j)`` with the first ``nterms``
    exponents x_j = (a + p b)/p (a >= 1, b >= 0) whose coefficient is nonzero.
    """
    import mpmath

    D = fl.D
    pp = D / (D - 2)
    wmax = sp.Integer(6)
    _, Q = _edge_and_q_series(D, wmax)
    by_weight = {}
    for (a, b), c in Q.items():
        if c != 0 and a + pp * b > 0:
            by_weight.setdefault(a + pp * b, []).append(c)
    # for integer p, (a, b) and (a + p, b - 1) are one power of |z|: sum before testing for zero
    coef = {wt: sp.simplify(sp.Add(*cs)) for wt, cs in by_weight.items()}
    weights = sorted(wt for wt, c in coef.items() if c != 0)
    if len(weights) <= nterms:   # cannot happen for D > 2 (w^1..w^4 all appear); guard the index
        raise RuntimeError(f"series at oo: only {len(weights)} nonzero orders up to weight {wmax}")
    CD = sp.simplify(Q.get((0, 0), 0))
    rec.equal("series at oo, regular part at e = 0 is C_D", CD, (D - 2) * (1 - 2 ** (-pp)),
              numeric=False, detail="constant term of the (w, v) double series")
    keep = weights[:nterms]
    omitted = weights[nterms]
    extra = sum(coef[wt] * ABS_Z ** (-wt / pp) for wt in keep)
    series = qinf + extra
    # numeric check at 24 points |z| = 1e3 .. 1e12 (log-spaced): the remainder q - series is
    # below 2|c_omitted| |z|^(-omitted/p) and its ratio to the last kept term decreases
    dps = 80
    qfun = sp.lambdify(u, pot.parametric[1], "mpmath")
    sfun = sp.lambdify(ABS_Z, series, "mpmath")
    ok, worst, ratios, msg = True, mpmath.mpf(0), [], ""
    with mpmath.workdps(dps):
        c_om = abs(mpmath.mpf(sp.N(coef[omitted], dps)))
        for i in range(24):
            zv = mpmath.mpf(10) ** (3 + mpmath.mpf(9) * i / 23)
            uu, zz = _mp_q(D, zv, dps)
            R = abs(qfun(uu) - sfun(zz))
            bound = c_om * zz ** (-mpmath.mpf(sp.N(omitted / pp, dps)))
            last = abs(mpmath.mpf(sp.N(coef[keep[-1]], dps))) * zz ** (-mpmath.mpf(sp.N(keep[-1] / pp, dps)))
            ratios.append(R / last)
            worst = max(worst, R / bound)
            if not (R <= 2 * bound):
                ok, msg = False, f"remainder {mpmath.nstr(R, 3)} > 2 |c| |z|^-{omitted / pp} at |z| = {mpmath.nstr(zz, 3)}"
        if ok and not all(ratios[i + 1] < ratios[i] for i in range(len(ratios) - 1)):
            ok, msg = False, "remainder/last kept term not decreasing in |z|"
    stmt = sp.Eq(sp.Function("q")(ABS_Z), series + sp.O(ABS_Z ** (-omitted / pp), (ABS_Z, sp.oo)), evaluate=False)
    rec.fact(f"series at oo to |z|^({-keep[-1] / pp}): remainder is O(|z|^({-omitted / pp}))", stmt, ok,
             method=f"mpmath {dps} dps at 24 points |z| = 1e3..1e12 (log-spaced)",
             detail=(msg or f"|remainder| <= {mpmath.nstr(worst, 3)} |c_omitted| |z|^({-omitted / pp}) (bound 2x); "
                            f"remainder / last kept term decreases from {mpmath.nstr(ratios[0], 3)} to "
                            f"{mpmath.nstr(ratios[-1], 3)}")
             + "; e = w (1 + v g(e))^(-1/p) by fixed point in w = |z|^(-1/p), v = 1/|z|; exact q from z u - H(u), "
               "u = 1 - e with e solved by contraction in mpmath")
    return series


def derive_asymptotics(rec: Recorder, fl: FlowDerivation, pot: PotentialDerivation, order: int) -> AsymptoticsDerivation:
    qs0 = _series_zero(rec, fl, pot, order)
    if fl.D == 2:
        qinf, CD = _series_infinity_d2(rec, pot, order)
    else:
        qinf, CD = _series_infinity_power(rec, fl, pot)
    lim = _alpha_limits(rec, fl, pot, qs0, qinf, CD)
    terms = None
    if fl.D != 2 and fl.D != D_SYM:
        terms = _series_infinity_terms(rec, fl, pot, qinf)
    return AsymptoticsDerivation(qs0, qinf, CD, lim, terms)
