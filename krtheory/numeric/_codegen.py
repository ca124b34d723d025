"""Compile the SymPy rewrites of :mod:`.expressions` into Python functions over a back end ``F``.

``sympy.lambdify(modules="torch")`` cannot print ``expm1``/``log1p``/``hypot`` (SymPy 1.14), and
the NumPy printer would bake in ``numpy``; so a tiny printer writes every function call as
``F.<name>(...)`` and the generated function takes ``F`` (``_backend.NP`` or ``_backend.TORCH``)
as its first argument. Compilation happens once per process, on first use (SymPy is imported
lazily so that ``import krtheory.numeric`` stays cheap).
"""
from __future__ import annotations

import functools
import linecache

__all__ = ["compiled"]


def _printer():
    import sympy as sp
    from sympy.printing.str import StrPrinter

    class _BackendPrinter(StrPrinter):
        def _print_Function(self, expr):
            name = type(expr).__name__
            if name == "PowDD":
                name = "powdd"
            return "F.%s(%s)" % (name, ", ".join(self._print(a) for a in expr.args))

        def _print_Rational(self, expr):
            return "(%d/%d)" % (expr.p, expr.q)

        def _print_Pow(self, expr, rational=False):
            base, exp_ = expr.as_base_exp()
            if exp_ == sp.S.Half:
                return "F.sqrt(%s)" % self._print(base)
            if exp_ == -sp.S.Half:
                return "(1/F.sqrt(%s))" % self._print(base)
            return "(%s)**(%s)" % (self._print(base), self._print(exp_))

        def _print_Float(self, expr):
            return repr(float(expr))

    return _BackendPrinter()


@functools.lru_cache(maxsize=None)
def compiled() -> dict:
    """``{key: fn(F, x, p, p_lo, r, r_lo, s, s_lo)}`` for every key of ``stable_expressions()``."""
    from . import expressions as ex

    printer = _printer()
    out = {}
    params = ", ".join(str(a) for a in ex.PARAMS)
    for key, expr in ex.stable_expressions().items():
        (var,) = [str(v) for v in expr.free_symbols if v in (ex.u, ex.e, ex.z)]
        src = f"def {key}(F, {var}, {params}):\n    return {printer.doprint(expr)}\n"
        filename = f"<krtheory.numeric generated: {key}>"
        # Register the source so tracebacks and inspect show the generated code.
        linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
        namespace: dict = {}
        exec(compile(src, filename, "exec"), namespace)  # noqa: S102 - source printed from our own SymPy expressions
        fn = namespace[key]
        fn.source = src
        out[key] = fn
    return out
