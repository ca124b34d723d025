"""Executable step-by-step proofs of the results SymPy can carry (THEORY.md sections 1-5).

``PROOFS`` maps a name to a :class:`Proof`; ``Proof.run()`` returns a :class:`ProofReport` with
every checked step. ``run_proofs(names, verbose, stream)`` runs several and prints a table.
The files ``proofs/<name>.py`` of the repository are thin executables around these.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import sympy as sp

from .steps import Recorder, Step
from .symbols import ALPHA_POS, u

__all__ = ["Proof", "ProofReport", "PROOFS", "run_proofs", "main"]


@dataclass(frozen=True)
class ProofReport:
    """``seconds``: wall time of this proof in this process; derivations it shares with an earlier
    proof come from the ``derive`` cache (their steps were checked then), so they cost ~0 here."""

    name: str
    title: str
    steps: tuple
    passed: bool
    seconds: float


@dataclass(frozen=True)
class Proof:
    """``build()`` returns an iterable of checked :class:`Step` s (the builders are generators, so
    steps arrive as they are checked; a derivation's steps arrive when its ``derive`` finishes)."""

    name: str
    title: str
    build: Callable[[], Iterable]

    def run(self, on_step: Callable[[Step], None] | None = None) -> ProofReport:
        t0 = time.perf_counter()
        steps = []
        for st in self.build():
            steps.append(st)
            if on_step is not None:
                on_step(st)
        passed = bool(steps) and all(st.passed for st in steps)
        return ProofReport(self.name, self.title, tuple(steps), passed, time.perf_counter() - t0)


def _select(d, words):
    return [st for st in d.steps if any(w in st.name for w in words)]


_FLOW_WORDS = ("dL/dw", "solves", "chain rule", "initial value", "invariant", "zeta", "beta(", "link", "gradient coefficient")
_POT_WORDS = ("H_", "H'", "H(0)", "Legendre", "q(", "q'", "q_D", "KKT", "dual", "flow limit", "flow-natural", "real root",
              "h(h^", "convex", "shaped")


def _d2_characterization():
    from .derivation import derive

    yield from _select(derive(2), _FLOW_WORDS + _POT_WORDS)
    shaped = derive(2, init=("shape", sp.Symbol("u0", positive=True), sp.Symbol("v0", positive=True)))
    yield from _select(shaped, ("scale * h", "shaped", "beta(0)"))


def _depth_characterization():
    from .derivation import derive

    for D in (3, 4, 2.5):
        yield from _select(derive(D), _FLOW_WORDS + _POT_WORDS)


#: step names of :func:`krtheory.symbolic.depth_limits.derive_depth_limits` (part of ``derive("D")``)
_LIMIT_WORDS = ("in p", "D -> 2:", "D -> oo:", "h_oo", "q_oo")


def _depth_limits():
    from .derivation import derive

    # the symbolic-depth derivation carries the limit steps (with the link and H they start from)
    yield from _select(derive("D"), _LIMIT_WORDS)


def _asymptotics():
    from .derivation import derive

    words = ("series", "C_D", "z -> oo", "alpha ->", "rate", "constant term", "relative correction", "e^(1-p)", "edge")
    for D in (2, 3, 4):
        yield from _select(derive(D), words)


def _tangent_kernel():
    from .derivation import derive

    words = ("tangent kernel", "c = 2 D", "linearized", "Theta")
    for D, loss in ((2, "sum"), (2, "half"), (3, "sum"), (3, "mean")):
        yield from _select(derive(D, loss=loss), words)


def _scale_covariance():
    """KKT system beta = alpha^D h(X^T nu), X beta = y, on a generic instance (THEORY.md s3)."""
    rec = Recorder()
    a = ALPHA_POS
    c = sp.Symbol("c", positive=True)
    nr, nc = 2, 3
    X = sp.Matrix(nr, nc, lambda i, j: sp.Symbol(f"x_{i}{j}", real=True))
    nu = sp.Matrix(nr, 1, lambda i, j: sp.Symbol(f"nu_{i}", real=True))
    from .derivation import derive

    for D in (sp.Integer(2), sp.Integer(3), sp.Rational(5, 2)):
        d = derive(D)
        h = d.formulas["link"]
        lam = X.T * nu
        beta = sp.Matrix([a ** D * h.subs(u, lam[i]) for i in range(nc)])
        y = X * beta
        # (X, c y, alpha c^(1/D)): the same nu gives c beta, which is feasible for c y
        a2 = a * c ** (1 / sp.sympify(D))
        beta2 = sp.Matrix([a2 ** D * h.subs(u, lam[i]) for i in range(nc)])
        for i in range(nc):
            yield rec.equal(f"D = {D}: (alpha c^(1/D))^D h((X^T nu)_{i}) = c beta_{i}", beta2[i], c * beta[i],
                      numeric=False, positive_bases=True,
                      detail="KKT stationarity holds for (X, c y, alpha c^(1/D)) with the same nu")
        for kk in range(nr):
            yield rec.equal(f"D = {D}: (X (c beta))_{kk} = c y_{kk} (feasible for c y)", (X * beta2)[kk], c * y[kk],
                      numeric=False, positive_bases=True)
        # oddness: -nu gives -beta (h odd), feasible for -y
        for i in range(nc):
            yield rec.equal(f"D = {D}: alpha^D h(-(X^T nu)_{i}) = -beta_{i} (h odd)", a ** D * h.subs(u, -lam[i]), -beta[i],
                      numeric=False)
        yield rec.fact(f"D = {D}: KKT solutions are unique (strictly convex Q: h' > 0)", sp.Eq(sp.Symbol("unique"), sp.true,
                 evaluate=False), all(st.passed for st in d.steps if "increasing" in st.name),
                 detail="from the derivation's step 'link is increasing'; hence beta_{alpha c^(1/D)}(X, c y) = "
                        "c beta_alpha(X, y), i.e. beta_alpha(X, c y) = c beta_{alpha c^(-1/D)}(X, y), and "
                        "beta_alpha(X, -y) = -beta_alpha(X, y)")


PROOFS: dict[str, Proof] = {
    p.name: p
    for p in (
        Proof("d2_characterization", "D = 2: flow solution, invariant, q = H^*, KKT and dual (Theorem 1)", _d2_characterization),
        Proof("depth_characterization", "D > 2 (D = 3, 4, 5/2): flow, invariant, h_D, H_D, q_D, KKT (Theorem 3)",
              _depth_characterization),
        Proof("depth_limits", "D -> 2 (p q_D -> q) and D -> oo (h_oo, q_oo) limits", _depth_limits),
        Proof("asymptotics", "series of q_D at 0 and oo, C_D, alpha -> 0 / oo limits and rates", _asymptotics),
        Proof("tangent_kernel", "tangent kernel at init and linearized residual dynamics", _tangent_kernel),
        Proof("scale_covariance", "beta_alpha(X, c y) = c beta_{alpha c^(-1/D)}(X, y) and oddness in y", _scale_covariance),
    )
}


def _print_step(st, stream):
    print(f"  [{st.verdict()}] {st.name}", file=stream)
    print(f"         {sp.sstr(st.statement)[:160]}", file=stream)
    print(f"         method: {st.method}; {st.detail[:200]}", file=stream, flush=True)


_HEADER = f"{'proof':<24} {'steps':>5} {'passed':>6} {'seconds':>8}  verdict"


def _row(rep):
    ok = sum(1 for st in rep.steps if st.passed)
    return f"{rep.name:<24} {len(rep.steps):>5} {ok:>6} {rep.seconds:>8.2f}  {'PASS' if rep.passed else 'FAIL'}"


def run_proofs(names=None, verbose=False, stream=sys.stdout) -> list:
    """Run the named proofs (default: all) and print a table as they go.

    The header first, then one row per proof as soon as it finishes (``verbose``: preceded by the
    proof's title and every step with its verdict, printed as the step arrives), then a summary
    line. Returns the :class:`ProofReport` s in order.
    """
    from krtheory._validation import InvalidInputError

    names = list(PROOFS) if not names else list(names)
    unknown = [n for n in names if n not in PROOFS]
    if unknown:
        raise InvalidInputError(f"unknown proof(s) {', '.join(unknown)}; known: {', '.join(PROOFS)}")
    print(_HEADER, file=stream, flush=True)
    reports = []
    t0 = time.perf_counter()
    for name in names:
        if verbose:
            print(f"{name}: {PROOFS[name].title}", file=stream, flush=True)
        rep = PROOFS[name].run(on_step=(lambda st: _print_step(st, stream)) if verbose else None)
        reports.append(rep)
        print(_row(rep), file=stream, flush=True)
    ok = sum(1 for r in reports if r.passed)
    nsteps = sum(len(r.steps) for r in reports)
    print(f"{ok}/{len(reports)} proofs passed ({nsteps} steps) in {time.perf_counter() - t0:.1f} s", file=stream,
          flush=True)
    return reports


def main(name: str) -> int:
    """Entry point of ``proofs/<name>.py``: print every step of one proof; exit status 0 iff it passed."""
    reports = run_proofs([name], verbose=True)
    return 0 if reports[0].passed else 1
