"""Each stable SymPy rewrite in krtheory.numeric.expressions equals its textbook formula.

Check: both expressions (parameters tied, r = p-1, s = p+1, m = p+2, low parts 0) evaluated by
mpmath at 60 digits at 20 points per region and several depths; they must agree to 1e-45
relative (the points are >= 1e-6 away from the cancellation at 0, so the textbook form keeps
>= 45 of the 60 digits). When krtheory.symbolic is available, the rewrites are also compared
with its derived formulas (the "generated from the SymPy expressions" requirement).
"""
from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p

from krtheory.numeric import expressions as ex
from krtheory.numeric import potential
from krtheory.numeric._codegen import compiled

DEPTHS_GT2 = (2.5, 3, 4, 5, 8, 16)


def _to_mp(expr):
    # mpmath has expm1/log1p but SymPy's mpmath printer does not know the codegen classes
    expr = expr.replace(lambda a: isinstance(a, expm1), lambda a: sp.Function("mp_expm1")(*a.args))
    expr = expr.replace(lambda a: isinstance(a, log1p), lambda a: sp.Function("mp_log1p")(*a.args))
    expr = expr.replace(lambda a: isinstance(a, hypot), lambda a: sp.sqrt(a.args[0] ** 2 + a.args[1] ** 2))
    return expr


def _lambdify(expr, var):
    ns = {"mp_expm1": mp.expm1, "mp_log1p": mp.log1p}
    return sp.lambdify((var, ex.p), _to_mp(ex.tie_params(expr)), modules=[ns, "mpmath"])


def _points(var):
    rng = np.random.default_rng(7)
    if var == ex.u:
        mags = 10.0 ** rng.uniform(-6, np.log10(0.499), 20)
        return [m * s for m, s in zip(mags, rng.choice([-1, 1], 20))]
    if var == ex.e:
        return list(10.0 ** rng.uniform(-12, np.log10(0.5), 20))
    return [m * s for m, s in zip(10.0 ** rng.uniform(-6, 6, 20), rng.choice([-1, 1], 20))]


@pytest.mark.parametrize("key", sorted(ex.stable_expressions()))
def test_rewrite_equals_textbook(key):
    stable = ex.stable_expressions()[key]
    textbook = ex.textbook_expressions()[key]
    (var,) = [v for v in stable.free_symbols if v in (ex.u, ex.e, ex.z)]
    f_st, f_tb = _lambdify(stable, var), _lambdify(textbook, var)
    depths = [2] if key.endswith("_d2") else DEPTHS_GT2
    with mp.workdps(60):
        for D in depths:
            pv = mp.mpf(0) if D == 2 else mp.mpf(D) / (mp.mpf(D) - 2)
            for x in _points(var):
                a, b = f_st(mp.mpf(x), pv), f_tb(mp.mpf(x), pv)
                assert abs(a - b) <= mp.mpf(10) ** -45 * abs(b), (key, D, x, a, b)


def test_d2_rewrites_simplify_exactly():
    # the D = 2 rewrites are simple enough for SymPy to prove them identically
    z, u = ex.z, ex.u
    st, tb = ex.stable_expressions(), ex.textbook_expressions()
    assert sp.simplify((st["conjugate_d2"] - tb["conjugate_d2"]).rewrite(sp.exp)) == 0
    q_st = st["q_d2"].replace(lambda a: isinstance(a, hypot), lambda a: sp.sqrt(a.args[0] ** 2 + a.args[1] ** 2))
    assert sp.simplify(q_st - tb["q_d2"]) == 0
    assert sp.simplify(sp.diff(tb["q_d2"], z) - st["dq_d2"]) == 0


def test_compiled_code_is_the_printed_expression():
    # the NumPy functions really are the SymPy rewrites: compare the generated code with an
    # independent sympy.lambdify of the same expression on a few points
    fns = compiled()
    params = potential(3).params
    subs = dict(zip(ex.PARAMS, params))
    for key in ("link_central", "conjugate_central", "link_derivative_central"):
        expr = ex.stable_expressions()[key].subs(subs)
        ref = sp.lambdify(ex.u, _to_mp(expr), modules=[{"mp_expm1": mp.expm1, "mp_log1p": mp.log1p}, "mpmath"])
        for x in (0.01, 0.2, -0.4):
            assert abs(fns[key](__import__("krtheory.numeric._backend", fromlist=["NP"]).NP, np.float64(x), *params)
                       - float(ref(x))) <= 4e-16 * abs(float(ref(x)))


def _symbolic_formulas(D):
    from krtheory.symbolic import derive

    return derive(D).formulas


@pytest.mark.parametrize("D", [2, 3, 4])
def test_rewrites_equal_symbolic_derivation(D):
    formulas = _symbolic_formulas(D)
    st = ex.stable_expressions()
    P = potential(D)
    checks = {"link": P.link, "link_derivative": P.link_derivative, "conjugate": P.conjugate}
    n = 0
    for key, fn in checks.items():
        if key not in formulas:
            continue
        expr = formulas[key]
        if not isinstance(expr, sp.Expr):
            continue
        free = list(expr.free_symbols)
        if len(free) != 1:
            continue
        f = sp.lambdify(free[0], expr, modules="mpmath")
        with mp.workdps(60):
            for x in (1e-3, 0.1, 0.3, -0.45, 0.7, 0.95):
                ref = f(mp.mpf(x))
                assert abs(fn(x) - ref) <= 1e-14 * abs(ref), (key, D, x)
                n += 1
    qf = formulas.get("potential")
    if D == 2 and isinstance(qf, sp.Expr) and len(qf.free_symbols) == 1:
        (zs,) = formulas["potential"].free_symbols
        with mp.workdps(60):
            diff = sp.lambdify(zs, formulas["potential"] - _to_mp(st["q_d2"]).subs(ex.z, zs), modules="mpmath")
            for x in (0.01, 1.0, 30.0):
                assert abs(diff(mp.mpf(x))) < 1e-40
                n += 1
    # the derived parametric potential (z(u), q(u)) = (h(u), u h(u) - H(u)): our q at z(u)
    par = formulas.get("potential_parametric")
    if isinstance(par, sp.Tuple) and len(par) == 2 and len(par.free_symbols) == 1:
        (uu,) = par.free_symbols
        fz, fq = (sp.lambdify(uu, c, modules="mpmath") for c in par)
        with mp.workdps(60):
            for x in (0.05, 0.3, 0.6, 0.9):
                zv = float(fz(mp.mpf(x)))
                # q at the float z(u): the rounding of z moves q by <= cond * eps = 2 * 1.1e-16
                ref = fq(mp.mpf(x)) + (mp.mpf(zv) - fz(mp.mpf(x))) * mp.mpf(x)
                assert abs(P.q(zv) - ref) <= 1e-14 * abs(ref), ("potential_parametric", D, x)
                n += 1
    assert n > 0, f"no comparable formula in derive({D}).formulas: {sorted(formulas)}"
