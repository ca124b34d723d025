"""Tests of krtheory.symbolic: each derived formula against an independent reference.

References: closed forms stated in THEORY.md (typed here, never by the code under test),
mpmath evaluation, the shared q_values.json. Depths 2 and 3 keep the suite within its budget.
"""
from __future__ import annotations

import json

import mpmath
import pytest
import sympy as sp

from krtheory._validation import InvalidInputError
from krtheory.symbolic import derive

u, z, alpha, s = (sp.Symbol(n, real=True) for n in ("u", "z", "alpha", "s"))


@pytest.fixture(scope="module")
def d2():
    return derive(2)


def test_d2_all_steps_pass_and_formulas(d2):
    assert d2.passed, [st.name for st in d2.steps if not st.passed]
    # THEORY.md s1/s2 closed forms (exact symbolic comparison)
    assert sp.simplify(d2.formulas["w_plus"] - alpha * sp.exp(-4 * s)) == 0
    assert sp.simplify(d2.formulas["link"] - 2 * sp.sinh(u)) == 0
    assert sp.simplify(d2.formulas["potential"] - (2 - sp.sqrt(4 + z**2) + z * sp.asinh(z / 2))) == 0
    assert sp.simplify(d2.formulas["tangent_kernel"] - 8 * alpha**2) == 0
    assert d2.formulas["multiplier"] == -8  # nu = -8 int r (THEORY.md s1)
    ser = d2.formulas["series_zero"].removeO()
    assert sp.simplify(ser - (z**2 / 4 - z**4 / 192 + z**6 / 2560)) == 0


def test_d2_potential_matches_mpmath_quadrature(d2):
    # q(z) = int_0^z asinh(t/2) dt evaluated by mpmath quadrature at 30 digits; agreement to 1e-25
    f = sp.lambdify(z, d2.formulas["potential"], modules="mpmath")
    with mpmath.workdps(30):
        for zz in ("0.3", "2.5", "-7"):
            ref = mpmath.quad(lambda t: mpmath.asinh(t / 2), [0, mpmath.mpf(zz)])
            assert abs(f(mpmath.mpf(zz)) - ref) < mpmath.mpf("1e-25")


def test_loss_normalization_changes_time_constants():
    half = derive(2, loss="half")
    assert half.passed
    # 1/2 sum r^2 halves the gradient: w+- = alpha exp(-+2 s) (THEORY.md s1), nu = -4 int r
    assert sp.simplify(half.formulas["w_plus"] - alpha * sp.exp(-2 * s)) == 0
    assert half.formulas["multiplier"] == -4
    # the tangent kernel is a property of the model; the residual dynamics kernel scales with the loss
    assert sp.simplify(half.formulas["tangent_kernel"] - 8 * alpha**2) == 0
    assert sp.simplify(half.formulas["tangent_kernel_dynamics"] - 8 * alpha**2) == 0
    assert sp.simplify(derive(2).formulas["tangent_kernel_dynamics"] - 16 * alpha**2) == 0
    # the link and the potential do not depend on the normalization
    assert sp.simplify(half.formulas["potential"] - derive(2).formulas["potential"]) == 0


def test_shaped_init_d2():
    u0, v0 = sp.Symbol("u0", positive=True), sp.Symbol("v0", positive=True)
    d = derive(2, init=("shape", u0, v0))
    assert d.passed
    # THEORY.md s2: c = alpha^2 u v, phi = ln(u/v), beta(0) = alpha^2 (u^2 - v^2)
    assert sp.simplify(d.formulas["scale"] - alpha**2 * u0 * v0) == 0
    assert sp.simplify(sp.expand_log(d.formulas["tilt"] - sp.log(u0 / v0), force=True)) == 0
    assert sp.simplify(d.formulas["beta_of_s"].subs(s, 0) - alpha**2 * (u0**2 - v0**2)) == 0
    # tangent kernel at w+ = alpha u0, w- = alpha v0: D^2 alpha^2 (u0^2 + v0^2) * 1 for D = 2
    assert sp.simplify(d.formulas["tangent_kernel"] - 4 * alpha**2 * (u0**2 + v0**2)) == 0


def test_depth3_against_theory_and_shared_cases(q_cases):
    d = derive(3)
    assert d.passed, [st.name for st in d.steps if not st.passed]
    p = sp.Integer(3)
    assert sp.simplify(d.formulas["link"] - ((1 - u) ** -p - (1 + u) ** -p)) == 0
    assert d.formulas["C_D"] == sp.Rational(7, 8)               # THEORY.md s4
    assert sp.simplify(d.formulas["tangent_kernel"] - 18 * alpha**4) == 0
    c2 = d.formulas["series_zero"].removeO().coeff(z, 2)
    assert c2 == sp.Rational(1, 12)                                # (D-2)/(4D)
    # parametric q_3 against the shared reference values (70-digit references, float64 here)
    zq, qq = d.formulas["potential_parametric"]
    fz, fq = sp.lambdify(u, zq, "mpmath"), sp.lambdify(u, qq, "mpmath")
    checked = 0
    mpmath.mp.dps = 40
    for case in _cases_for_depth(q_cases, 3):
        zz, ref = case
        if abs(zz) > 50:
            continue
        with mpmath.workdps(40):
            root = mpmath.findroot(lambda x: fz(x) - zz, (mpmath.mpf(-0.999999), mpmath.mpf(0.999999)), solver="bisect")
            val = fq(root)
        # 40-digit references vs a 40-digit bisection root (u resolved to ~1e-30, and q picks up
        # z * du): agreement to 1e-25 relative leaves a wide margin; a wrong formula is off by O(1)
        assert abs(val - ref) <= mpmath.mpf("1e-25") * (1 + abs(ref))
        checked += 1
    mpmath.mp.dps = 15
    assert checked >= 3, "expected D = 3 entries in q_values.json"


def _cases_for_depth(q_cases, D):
    out = []
    items = q_cases if isinstance(q_cases, list) else q_cases.get("cases", q_cases.get("values", []))
    for c in items:
        if isinstance(c, dict) and float(c.get("depth", c.get("D", -1))) == D and "z" in c and "q" in c:
            out.append((mpmath.mpf(c["z"]), mpmath.mpf(c["q"])))
    return out[:10]


def test_render_formats_roundtrip(d2):
    payload = json.loads(d2.render("json"))
    for name, item in payload["formulas"].items():
        assert sp.sympify(item["srepr"]) == d2.formulas[name], name
    ns = {}
    exec(d2.render("python"), ns)
    assert sp.simplify(ns["potential"] - d2.formulas["potential"]) == 0
    assert "\\begin{align*}" in d2.render("latex")
    assert "link" in d2.render("text")


def test_cache_and_errors(d2):
    assert derive(2) is d2
    with pytest.raises(InvalidInputError):
        derive(1.5)
    with pytest.raises(InvalidInputError):
        derive(2, loss="l1")
    with pytest.raises(InvalidInputError):
        derive(3, init=("shape", 1, 2))
    with pytest.raises(InvalidInputError):
        d2.render("html")
