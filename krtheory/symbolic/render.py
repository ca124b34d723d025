"""Rendering a :class:`~krtheory.symbolic.derivation.Derivation` as text, LaTeX, Python or JSON.

- ``text``: one ``name: formula`` per line, then the steps with verdicts.
- ``latex``: an ``align*`` block (``sympy.latex``), then the steps as a list.
- ``python``: valid Python source (``from sympy import *``, the symbols with their assumptions,
  then ``name = <expression>``); ``exec`` of it reproduces the formulas.
- ``json``: ``{"depth", "loss", "passed", "formulas": {name: {"srepr", "str", "latex"}}, "steps": [...]}``;
  ``sympy.sympify(srepr)`` round-trips every formula exactly (assumptions included).
"""
from __future__ import annotations

import json

import sympy as sp

from .symbols import LOSS_TEXT

__all__ = ["render", "FORMATS"]

FORMATS = ("text", "latex", "python", "json")


def _header(d):
    depth = "symbolic D > 2" if d.depth.free_symbols else f"D = {d.depth}"
    init = "unbiased w+-(0) = alpha" if tuple(d.init) == (1, 1) else f"w+(0) = alpha*{d.init[0]}, w-(0) = alpha*{d.init[1]}"
    return depth, LOSS_TEXT[d.loss], init


def _summary(d):
    n = len(d.steps)
    exact = sum(1 for s in d.steps if s.method == "exact")
    ok = sum(1 for s in d.steps if s.passed)
    return f"{ok}/{n} steps passed ({exact} exact, {n - exact} numeric)"


def render(d, fmt="text") -> str:
    from krtheory._validation import InvalidInputError

    if fmt not in FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    depth, loss, init = _header(d)
    if fmt == "text":
        lines = [f"krtheory derive: {depth}; loss {loss}; init {init}", ""]
        width = max(len(k) for k in d.formulas)
        for k, v in d.formulas.items():
            lines.append(f"{k:<{width}}  {sp.sstr(v)}")
        lines += ["", "steps:"]
        for st in d.steps:
            lines.append(f"  [{st.verdict()}] {st.name}  ({st.method})")
        lines.append(_summary(d))
        return "\n".join(lines)
    if fmt == "latex":
        lines = [f"% krtheory derive: {depth}; loss {loss}; init {init}", r"\begin{align*}"]
        items = list(d.formulas.items())
        for i, (k, v) in enumerate(items):
            end = r" \\" if i < len(items) - 1 else ""
            name = k.replace("_", r"\_")
            lines.append(rf"\text{{{name}}} &: {sp.latex(v)}{end}")
        lines.append(r"\end{align*}")
        lines.append(r"\begin{itemize}")
        for st in d.steps:
            lines.append(rf"\item[{st.verdict()}] ${sp.latex(st.statement)}$ ({st.method})")
        lines.append(r"\end{itemize}")
        lines.append(f"% {_summary(d)}")
        return "\n".join(lines)
    if fmt == "python":
        syms = set()
        for v in d.formulas.values():
            syms |= v.free_symbols if isinstance(v, sp.Basic) else set()
        lines = [f"# krtheory derive: {depth}; loss {loss}; init {init}", "from sympy import *", ""]
        for sym in sorted(syms, key=str):
            assumptions = {k: v for k, v in sym.assumptions0.items() if k in ("real", "positive", "integer") and v}
            args = ", ".join(f"{k}=True" for k in sorted(assumptions))
            lines.append(f"{sym.name} = Symbol({sym.name!r}{', ' + args if args else ''})")
        lines.append("")
        for k, v in d.formulas.items():
            lines.append(f"{k} = {sp.srepr(v)}")
        lines.append(f"# {_summary(d)}")
        return "\n".join(lines)
    payload = {
        "depth": sp.srepr(d.depth),
        "depth_str": str(d.depth),
        "loss": d.loss,
        "init": [str(x) for x in d.init],
        "passed": d.passed,
        "summary": _summary(d),
        "formulas": {k: {"srepr": sp.srepr(v), "str": sp.sstr(v), "latex": sp.latex(v)} for k, v in d.formulas.items()},
        "steps": [{"name": st.name, "statement": sp.sstr(st.statement), "srepr": sp.srepr(st.statement),
                   "method": st.method, "passed": st.passed, "detail": st.detail} for st in d.steps],
    }
    return json.dumps(payload, indent=2)
