"""Recorded, checked derivation steps.

A :class:`Step` is one asserted fact: a SymPy relation, how it was checked and whether the check
passed. :class:`Recorder` builds steps. Every check first tries to decide the fact *exactly*
(simplification of ``lhs - rhs`` to 0, or SymPy's assumption system for signs, or an exact
``limit``); only when SymPy cannot decide does it fall back to mpmath at ``NUMERIC_DPS`` digits
at ``NUMERIC_POINTS`` seeded random points of a stated domain, and the step says so in
``method``. A numeric check passes when ``|lhs - rhs| <= NUMERIC_RTOL * (1 + |lhs| + |rhs|)`` at
every point: with 40 working digits, an identity holds to ~1e-38, while a false one is off by
O(1) at almost every point, so 1e-25 separates them with a wide margin.
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

import mpmath
import sympy as sp

__all__ = ["Step", "Recorder", "NUMERIC_DPS", "NUMERIC_POINTS", "NUMERIC_RTOL"]

NUMERIC_DPS = 40
NUMERIC_POINTS = 20
NUMERIC_RTOL = sp.Float("1e-25")
COSTLY_SIMPLIFY_MAX_OPS = 120

#: default sampling intervals of the numeric fallback, by symbol name (open intervals; the
#: domains on which the derived formulas are claimed: u in (-1, 1) for D > 2, alpha > 0, D > 2 ...)
DEFAULT_DOMAINS: dict[str, tuple[float, float]] = {
    "u": (-0.9, 0.9),
    "z": (-6.0, 6.0),
    "alpha": (0.3, 3.0),
    "s": (-0.01, 0.01),
    "D": (2.2, 8.0),
    "p": (1.3, 6.0),
    "e": (0.02, 0.9),
    "b": (-5.0, 5.0),
    "lam": (-0.9, 0.9),
    "c": (0.2, 3.0),
    "n": (1.0, 10.0),
}


@dataclass(frozen=True)
class Step:
    """One checked fact of a derivation.

    ``statement`` is a SymPy relation (``Eq``, ``Gt``, ...; built with ``evaluate=False`` so that
    the asserted form is kept); ``method`` is ``"exact"`` or names the numeric check
    (e.g. ``"mpmath 40 dps at 20 random points"``); ``detail`` says what was done.
    """

    name: str
    statement: sp.Basic
    method: str
    passed: bool
    detail: str = ""

    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def _numeric_method() -> str:
    return f"mpmath {NUMERIC_DPS} dps at {NUMERIC_POINTS} random points"


def _force_powers(expr):
    expr = sp.expand_power_base(expr, force=True)
    expr = sp.powdenest(expr, force=True)
    return sp.powsimp(expr, force=True)


def _norm_exponents(expr):
    """Put every exponent over a common denominator (cancel), then merge equal bases.

    With a symbolic depth the same power appears as (1-u)^(-2/(D-2)-1) and (1-u)^(-D/(D-2));
    normalizing exponents makes them syntactically equal, far faster than ``simplify``.
    """
    expr = sp.expand(expr)
    expr = expr.replace(lambda x: x.is_Pow and not x.exp.is_Number,
                        lambda x: sp.Pow(x.base, sp.cancel(sp.together(x.exp))))
    expr = sp.powsimp(expr)
    expr = expr.replace(lambda x: x.is_Pow and not x.exp.is_Number,
                        lambda x: sp.Pow(x.base, sp.cancel(sp.together(x.exp))))
    return sp.expand(expr)


def _simplify_zero(expr, force=False, costly=True) -> bool:
    """True if SymPy proves ``expr == 0`` (cheap rewrites first, then ``simplify``).

    ``costly=False`` skips the blind ``simplify`` attempts (for steps known to need the numeric
    fallback, e.g. ``asinh(sinh(u)) = u``, where they cost seconds and cannot succeed).
    ``force`` additionally applies the power rules that hold for positive bases
    ((ab)^c = a^c b^c, (a^b)^c = a^(bc)); callers use it only where every base is positive on
    the stated domain, and the step's detail says so.
    """
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    cheap = (sp.expand, lambda e: sp.expand(e.rewrite(sp.exp)), lambda e: sp.powsimp(sp.expand(e)),
             _norm_exponents, lambda e: sp.cancel(_norm_exponents(e)), sp.cancel, sp.together)
    forced = (lambda e: sp.expand(_force_powers(e)), lambda e: _norm_exponents(_force_powers(e)),
              lambda e: _norm_exponents(_force_powers(_norm_exponents(_force_powers(e)))),
              lambda e: sp.cancel(_norm_exponents(_force_powers(sp.together(e)))), lambda e: sp.expand(_force_powers(sp.expand(_force_powers(e)))),
              lambda e: sp.cancel(_force_powers(sp.together(e))))
    blind = (sp.simplify, lambda e: sp.simplify(sp.expand(sp.powsimp(e))),
              lambda e: sp.simplify(sp.expand(e.rewrite(sp.exp))))
    blind_forced = (lambda e: sp.simplify(_force_powers(sp.expand(_force_powers(e)))),
                     lambda e: sp.simplify(_force_powers(sp.together(e))))
    chain = cheap + (forced if force else ())
    # full simplify() can take minutes on large symbolic-depth expressions; beyond this size the
    # caller's numeric fallback decides instead (and the step says so)
    if costly and sp.count_ops(expr) <= COSTLY_SIMPLIFY_MAX_OPS:
        chain += blind + (blind_forced if force else ())
    for f in chain:
        try:
            if f(expr) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError, RecursionError, AttributeError):
            continue
    return False


@dataclass
class Recorder:
    """Collects :class:`Step` objects; ``seed`` makes the numeric fallback reproducible."""

    seed: int = 0
    steps: list = field(default_factory=list)

    # -- sampling ----------------------------------------------------------------------------
    def _points(self, name: str, symbols, domains):
        rng = random.Random(zlib.crc32(name.encode()) ^ self.seed)
        doms = dict(DEFAULT_DOMAINS)
        doms.update({str(k): v for k, v in (domains or {}).items()})
        pts = []
        for _ in range(NUMERIC_POINTS):
            point = {}
            for sym in symbols:
                lo, hi = doms.get(str(sym), (0.1, 2.0))
                point[sym] = mpmath.mpf(lo) + (mpmath.mpf(hi) - mpmath.mpf(lo)) * mpmath.mpf(rng.random())
            pts.append(point)
        return pts

    def _numeric_zero(self, name, lhs, rhs, domains):
        expr = sp.sympify(lhs) - sp.sympify(rhs)
        syms = sorted(expr.free_symbols, key=str)
        worst = mpmath.mpf(0)
        with mpmath.workdps(NUMERIC_DPS):
            f = sp.lambdify(syms, [sp.sympify(lhs), sp.sympify(rhs)], modules="mpmath")
            for point in self._points(name, syms, domains):
                a, b = f(*[point[s] for s in syms])
                a, b = mpmath.mpmathify(a), mpmath.mpmathify(b)
                err = abs(a - b) / (1 + abs(a) + abs(b))
                if not mpmath.isfinite(err):
                    return False, f"non-finite value at {point}"
                worst = max(worst, err)
        ok = worst <= mpmath.mpf(str(NUMERIC_RTOL))
        return ok, f"max relative deviation {mpmath.nstr(worst, 3)} (threshold {NUMERIC_RTOL})"

    # -- step kinds --------------------------------------------------------------------------
    def equal(self, name, lhs, rhs, *, domains=None, numeric=True, detail="", positive_subs=None,
              positive_bases=False, costly=True) -> Step:
        """Assert ``lhs == rhs``; exact simplification first, mpmath fallback if ``numeric``.

        ``positive_subs`` maps sub-expressions known to be positive on the stated domain (e.g.
        ``1 - u`` for ``u`` in (-1, 1)) to positive dummies before simplifying, so that power
        rules valid for positive bases apply; the detail records it.
        """
        lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
        statement = sp.Eq(lhs, rhs, evaluate=False)
        diff = lhs - rhs
        note = detail
        if positive_subs:
            diff_pos = diff.subs(positive_subs)
            note = (detail + "; " if detail else "") + "bases positive on the domain: " + ", ".join(
                f"{k} > 0" for k in positive_subs)
        else:
            diff_pos = diff
        if positive_bases:
            note = (note + "; " if note else "") + "power rules for positive bases (all bases > 0 on the domain)"
        if _simplify_zero(diff_pos, force=positive_bases, costly=costly):
            step = Step(name, statement, "exact", True, (note + "; " if note else "") + "simplify(lhs - rhs) == 0")
        elif numeric:
            ok, info = self._numeric_zero(name, lhs, rhs, domains)
            step = Step(name, statement, _numeric_method(), ok,
                        (note + "; " if note else "") + "SymPy could not simplify lhs - rhs to 0; " + info)
        else:
            step = Step(name, statement, "exact", False, (note + "; " if note else "") + "lhs - rhs did not simplify to 0")
        self.steps.append(step)
        return step

    def positive(self, name, expr, *, assumptions_subs=None, domains=None, detail="") -> Step:
        """Assert ``expr > 0`` via SymPy's assumptions (after ``assumptions_subs``), else mpmath."""
        expr = sp.sympify(expr)
        statement = sp.StrictGreaterThan(expr, 0, evaluate=False)
        probe = expr.subs(assumptions_subs) if assumptions_subs else expr
        if probe.is_positive is True or sp.simplify(probe).is_positive is True:
            step = Step(name, statement, "exact", True, (detail + "; " if detail else "") + "SymPy assumptions: positive")
        else:
            syms = sorted(expr.free_symbols, key=str)
            ok = True
            worst = None
            with mpmath.workdps(NUMERIC_DPS):
                f = sp.lambdify(syms, expr, modules="mpmath")
                for point in self._points(name, syms, domains):
                    v = mpmath.mpmathify(f(*[point[s] for s in syms]))
                    if not (mpmath.isfinite(v) and v > 0):
                        ok = False
                    worst = v if worst is None else min(worst, v)
            step = Step(name, statement, _numeric_method(), ok,
                        (detail + "; " if detail else "") + f"SymPy could not decide the sign; min value {mpmath.nstr(worst, 5)}")
        self.steps.append(step)
        return step

    def limit(self, name, expr, var, point, expected, *, direction="+", domains=None, detail="") -> Step:
        """Assert ``lim_{var -> point} expr == expected`` with ``sympy.limit`` (exact).

        Falls back to mpmath: ``expr`` evaluated at ``var`` ever closer to ``point`` (with
        growing precision) must approach ``expected``; the detail records the distances used.
        """
        expr, expected = sp.sympify(expr), sp.sympify(expected)
        statement = sp.Eq(sp.Limit(expr, var, point, dir=direction), expected, evaluate=False)
        got = None
        try:
            got = sp.limit(expr, var, point, dir=direction)
        except (NotImplementedError, ValueError, TypeError, RecursionError, sp.PoleError):
            got = None
        if got is not None and not got.has(sp.Limit) and _simplify_zero(got - expected):
            step = Step(name, statement, "exact", True, (detail + "; " if detail else "") + f"sympy.limit gives {got}")
        else:
            ok, info = self._numeric_limit(name, expr, var, point, expected, domains, direction)
            step = Step(name, statement, _numeric_method() + " along a sequence approaching the limit", ok,
                        (detail + "; " if detail else "") + f"sympy.limit returned {got}; " + info)
        self.steps.append(step)
        return step

    def _numeric_limit(self, name, expr, var, point, expected, domains, direction="+"):
        # evaluate the remainder at distance 1e-8 and 1e-16 from the point (1e8, 1e16 for oo) at
        # 200 digits (enough to survive the cancellation of singular terms of size up to ~1e150)
        syms = sorted((expr.free_symbols | expected.free_symbols) - {var}, key=str)
        worst = mpmath.mpf(0)
        sign = 1 if direction == "+" else -1
        with mpmath.workdps(200):
            f = sp.lambdify([var] + syms, expr - expected, modules="mpmath")
            for pt in self._points(name, syms, domains):
                vals = []
                for k in (8, 16):
                    if point == sp.oo:
                        x = mpmath.mpf(10) ** k
                    else:
                        x = mpmath.mpf(sp.N(point, 210)) + sign * mpmath.mpf(10) ** (-k)
                    vals.append(abs(mpmath.mpmathify(f(x, *[pt[s] for s in syms]))))
                if not (mpmath.isfinite(vals[1]) and vals[1] < mpmath.mpf(10) ** -4 and vals[1] <= vals[0]):
                    return False, f"remainder {mpmath.nstr(vals[1], 3)} at {pt}"
                worst = max(worst, vals[1])
        return True, f"remainder at distance 1e-16 (or 1e16) at most {mpmath.nstr(worst, 3)}, decreasing from 1e-8"

    def fact(self, name, statement, passed, method="exact", detail="") -> Step:
        """Record a fact decided by the caller (e.g. that a coefficient is free of the data)."""
        step = Step(name, statement, method, bool(passed), detail)
        self.steps.append(step)
        return step
