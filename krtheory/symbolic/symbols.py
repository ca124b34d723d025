"""The SymPy symbols of the symbolic layer and the normalization of ``depth`` / ``loss`` / ``init``.

Exported formulas use the *real* symbols ``u`` (dual / link variable), ``z`` (argument of the
potential), ``alpha`` (initialization scale), ``t`` (time), ``s`` (the integrated gradient
``s = (X^T int_0^t r)_i``), ``b`` (one coordinate of beta), ``e`` (edge variable ``1 - u``), and for
the symbolic depth ``D`` (positive; the derivation is for ``D > 2``). Internally some derivations
use positive versions (``ALPHA_POS``) so that power rules for positive bases apply; the exported
formulas are rewritten to the real symbols (:func:`export`).
"""
from __future__ import annotations

from numbers import Real

import sympy as sp

from krtheory._validation import InvalidInputError

u = sp.Symbol("u", real=True)
z = sp.Symbol("z", real=True)
alpha = sp.Symbol("alpha", real=True)
t = sp.Symbol("t", real=True)
s = sp.Symbol("s", real=True)
b = sp.Symbol("b", real=True)
e = sp.Symbol("e", positive=True)
D_SYM = sp.Symbol("D", positive=True)
p = sp.Symbol("p", positive=True)
n = sp.Symbol("n", positive=True, integer=True)

ALPHA_POS = sp.Symbol("alpha", positive=True)
Z_POS = sp.Symbol("z", positive=True)
B_POS = sp.Symbol("b", positive=True)
#: the variable of the expansions at infinity: |z| (q_D is even, so q_D(z) = q_D(|z|))
ABS_Z = sp.Symbol("abs_z", positive=True)
DELTA = sp.Symbol("delta", positive=True)  # D = 2 + delta encodes D > 2 for SymPy's assumptions

LOSS_FACTORS = {"sum": sp.Integer(1), "half": sp.Rational(1, 2), "mean": 1 / n}
LOSS_TEXT = {"sum": "L = sum_k r_k^2 (paper)", "half": "L = (1/2) sum_k r_k^2", "mean": "L = (1/n) sum_k r_k^2"}


def export(expr):
    """Rewrite internal positive symbols to the exported real ones (``alpha``, ``z``, ``b``)."""
    return sp.sympify(expr).xreplace({ALPHA_POS: alpha, Z_POS: z, B_POS: b})


MAX_EXPONENT_TERMS = 1000


def normalize_depth(depth):
    """Return ``D`` as a SymPy Integer/Rational (numeric depth) or ``D_SYM`` (``depth == "D"``)."""
    if isinstance(depth, str):
        if depth.strip() == "D":
            return D_SYM
        raise InvalidInputError(f"depth must be a real number >= 2 or the string 'D', got {depth!r}")
    if isinstance(depth, sp.Basic):
        if depth == D_SYM or (isinstance(depth, sp.Symbol) and depth.name == "D"):
            return D_SYM
        if depth.is_number and depth.is_real:
            depth = float(depth) if not depth.is_Rational else depth
        else:
            raise InvalidInputError(f"depth must be a real number >= 2 or the symbol D, got {depth!r}")
    if isinstance(depth, sp.Rational):
        value = depth
    elif isinstance(depth, bool) or not isinstance(depth, Real):
        raise InvalidInputError(f"depth must be a real number >= 2 or 'D', got {depth!r}")
    else:
        f = float(depth)
        if f != f or f in (float("inf"), float("-inf")):
            raise InvalidInputError(f"depth must be finite, got {depth!r}")
        # floats are read as the short decimal they print as (2.5 -> 5/2), exact for the derivation
        value = sp.Integer(int(f)) if f.is_integer() else sp.nsimplify(repr(f), rational=True)
    if value < 2:
        raise InvalidInputError(f"depth must be >= 2, got {depth!r}")
    if value != 2:
        # the exact algebra raises (1 -+ u) to the power p = D/(D-2): a rational with large terms
        # (D = 2.0001 gives p = 20001, D = 1e9 a ratio of 9-digit integers) makes SymPy crawl
        p = value / (value - 2)
        if max(abs(p.p), abs(p.q)) > MAX_EXPONENT_TERMS:
            raise InvalidInputError(
                f"depth {depth!r} gives p = D/(D-2) = {p}, too large a rational for exact derivation "
                f"(numerator and denominator at most {MAX_EXPONENT_TERMS}); derive the symbolic depth "
                f"instead (omit --depth, or depth='D'): its formulas hold for every real D > 2")
    return value


def normalize_loss(loss):
    if loss not in LOSS_FACTORS:
        raise InvalidInputError(f"loss must be one of 'sum', 'half', 'mean', got {loss!r}")
    return loss


def normalize_init(init, D):
    """Return ``(u0, v0)``: the shape of ``w+(0) = alpha u0``, ``w-(0) = alpha v0`` (unbiased: 1, 1)."""
    if isinstance(init, str):
        if init == "unbiased":
            return sp.Integer(1), sp.Integer(1)
        raise InvalidInputError(f"init must be 'unbiased' or ('shape', u, v), got {init!r}")
    if not (isinstance(init, tuple) and len(init) == 3 and init[0] == "shape"):
        raise InvalidInputError(f"init must be 'unbiased' or ('shape', u, v), got {init!r}")
    u0, v0 = sp.sympify(init[1]), sp.sympify(init[2])
    for name, val in (("u", u0), ("v", v0)):
        if val.is_positive is not True:
            raise InvalidInputError(
                f"init shape {name} must be a SymPy-positive number or symbol (e.g. Symbol('{name}', positive=True)), got {val!r}")
    if (u0, v0) != (1, 1) and D != 2:
        raise InvalidInputError("a general init shape is derived for depth 2 only; use init='unbiased' for D > 2")
    return u0, v0
