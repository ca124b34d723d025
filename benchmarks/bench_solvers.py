"""Benchmark: the dual Newton solver against scipy.optimize.minimize (SLSQP, trust-constr).

Run on demand (not in CI):

    .venv/bin/python benchmarks/bench_solvers.py                 # table to stdout
    .venv/bin/python benchmarks/bench_solvers.py --write         # also rewrite benchmarks/SOLVERS.md

Problems: Gaussian X (n = d/10, entries N(0, 1)), y = X beta* with a 5-sparse beta* (entries
1/sqrt 5) plus N(0, 0.01) noise (THEORY.md s8, Fig. 1 setting), the same (X, y) for every
method.  Potential: Q_alpha^D for D = 2 (and D = 3 with --depth3), alpha = 0.1 by default.

Every method's answer is scored by the *same* KKT residual computed from x alone:
    kkt(x) = max( ||X x - y|| / ||y||,  ||g - X^T nu_g||_inf / max(1, ||g||_inf) ),
g = grad Q(x) = q_D'(x / alpha^D), nu_g = least-squares multiplier (g projected on row(X)).
Timings are wall-clock seconds, best of --repeat runs for the Newton solver, one run for the
scipy methods (which take seconds to minutes); BLAS threads default to 1 (OPENBLAS_NUM_THREADS)
because the 2-core machine is shared and threaded LAPACK under contention is erratic (measured
lstsq 100x1000: 0.01 s on 1 thread, 1.3 s on 2 busy threads).
"""
from __future__ import annotations

import argparse
import os
import sys

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from krtheory.solvers import implicit_bias_solution  # noqa: E402


def problem(d: int, seed: int):
    rng = np.random.default_rng(seed)
    n = max(d // 10, 2)
    X = rng.standard_normal((n, d))
    b = np.zeros(d)
    b[:5] = 1 / math.sqrt(5)
    y = X @ b + 0.1 * rng.standard_normal(n)
    return X, y


def q2(z):
    # THEORY.md s2 stable form (z^2 never formed)
    return z * np.arcsinh(z / 2) - z * (z / (2 + np.hypot(2, z)))


def make_potential(depth: float, alpha: float):
    """(Q, grad Q, diag hess Q) in the paper's normalization, for the scipy baselines."""
    c = alpha**depth
    if depth == 2:
        Q = lambda b: c * float(np.sum(q2(b / c)))
        dQ = lambda b: np.arcsinh(b / (2 * c))
        d2Q = lambda b: 1.0 / (c * np.sqrt(4 + (b / c) ** 2))
        return Q, dQ, d2Q
    from krtheory.numeric import potential

    P = potential(depth)
    Q = lambda b: c * float(np.sum(P.q(b / c)))
    dQ = lambda b: P.dq(b / c)
    d2Q = lambda b: P.d2q(b / c) / c
    return Q, dQ, d2Q


def kkt(X, y, x, dQ):
    pr = np.linalg.norm(X @ x - y) / np.linalg.norm(y)
    g = dQ(x)
    nu, *_ = np.linalg.lstsq(X.T, g, rcond=None)
    st = np.max(np.abs(g - X.T @ nu)) / max(1.0, np.max(np.abs(g)))
    return float(max(pr, st))


def run_newton(X, y, alpha, depth, repeat):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        r = implicit_bias_solution(X, y, alpha, depth)
        best = min(best, time.perf_counter() - t)
    return r.x, best, r.success, r.nit


METHODS = {
    # name: (scipy method, options)
    "SLSQP": ("SLSQP", {"ftol": 1e-14}),            # converges (its flag) but only to KKT ~1e-7
    "SLSQP-tight": ("SLSQP", {"ftol": 1e-16}),      # its best attainable accuracy, runs to maxiter
    "trust-constr": ("trust-constr", {"gtol": 1e-14, "xtol": 1e-16}),
}


def run_scipy(name, X, y, alpha, depth, maxiter):
    method, opts = METHODS[name]
    Q, dQ, d2Q = make_potential(depth, alpha)
    x0 = np.linalg.lstsq(X, y, rcond=None)[0]
    t = time.perf_counter()
    if method == "SLSQP":
        cons = [{"type": "eq", "fun": lambda b: X @ b - y, "jac": lambda b: X}]
        res = minimize(Q, x0, jac=dQ, method="SLSQP", constraints=cons, options={**opts, "maxiter": maxiter})
    else:
        from scipy.optimize import LinearConstraint
        from scipy.sparse import diags

        # exact (diagonal) Hessian of Q: the strongest configuration of trust-constr
        res = minimize(Q, x0, jac=dQ, hess=lambda b: diags(d2Q(b)), method="trust-constr",
                       constraints=[LinearConstraint(X, y, y)], options={**opts, "maxiter": maxiter})
    return res.x, time.perf_counter() - t, bool(res.success), int(res.nit)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[50, 100, 200, 500, 1000])
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--depth3", action="store_true", help="also benchmark D = 3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--maxiter", type=int, default=1000)
    ap.add_argument("--max-d-tight", type=int, default=200, help="skip SLSQP-tight above this d")
    ap.add_argument("--max-d-slsqp", type=int, default=1000, help="skip SLSQP above this d")
    ap.add_argument("--write", action="store_true", help="write benchmarks/SOLVERS.md")
    args = ap.parse_args(argv)

    rows = []
    depths = [2] + ([3] if args.depth3 else [])
    for depth in depths:
        _, dQ, _ = make_potential(depth, args.alpha)
        for d in args.dims:
            X, y = problem(d, args.seed + d)
            xn, tn, okn, itn = run_newton(X, y, args.alpha, depth, args.repeat)
            kn = kkt(X, y, xn, dQ)
            row = {"D": depth, "d": d, "n": X.shape[0], "newton_s": tn, "newton_kkt": kn, "newton_nit": itn,
                   "newton_ok": okn}
            for m in METHODS:
                if (m == "SLSQP-tight" and d > args.max_d_tight) or (m == "SLSQP" and d > args.max_d_slsqp):
                    row[m] = None
                    continue
                xs, ts, oks, its = run_scipy(m, X, y, args.alpha, depth, args.maxiter)
                row[m] = {"s": ts, "kkt": kkt(X, y, xs, dQ), "ok": oks, "nit": its,
                          "dist": float(np.linalg.norm(xs - xn) / np.linalg.norm(xn))}
            rows.append(row)
            print(fmt_row(row), flush=True)
    if args.write:
        write_md(rows, args)
    return 0


HEADER = ("| D | d | n | Newton s (nit) | Newton KKT | SLSQP s | SLSQP KKT | SLSQP/Newton | "
          "SLSQP-tight s | SLSQP-tight KKT | tight/Newton | trust-constr s | trust-constr KKT | "
          "trust-constr/Newton | max rel. dist to Newton |")
NCOLS = 15


def fmt_row(r):
    def m(key):
        v = r[key]
        if v is None:
            return ["skipped", "", ""]
        flag = "" if v["ok"] else f" (stopped at maxiter {v['nit']})"
        return [f"{v['s']:.3f}{flag}", f"{v['kkt']:.1e}", f"{v['s'] / r['newton_s']:.0f}x"]

    dists = [r[k]["dist"] for k in METHODS if r[k] is not None]
    cells = [str(r["D"]), str(r["d"]), str(r["n"]), f"{r['newton_s']:.4f} ({r['newton_nit']})",
             f"{r['newton_kkt']:.1e}", *m("SLSQP"), *m("SLSQP-tight"), *m("trust-constr"),
             f"{max(dists):.1e}" if dists else ""]
    return "| " + " | ".join(cells) + " |"


def write_md(rows, args):
    path = Path(__file__).with_name("SOLVERS.md")
    lines = [
        "# Solver benchmark (measured)",
        "",
        "Produced by `benchmarks/bench_solvers.py --write` "
        f"(alpha = {args.alpha}, seed = {args.seed}, Newton best of {args.repeat}); "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, BLAS threads = {os.environ.get('OPENBLAS_NUM_THREADS')}. "
        "The machine is a shared 2-core box: timings are noisy (other jobs ran at the same time).",
        "",
        "KKT residual (same definition for every method, from x alone): "
        "max(||Xx - y||/||y||, ||g - X^T nu_g||_inf / max(1, ||g||_inf)), g = grad Q_alpha(x).",
        "",
        HEADER,
        "|" + "---|" * NCOLS,
        *[fmt_row(r) for r in rows],
        "",
    ]
    # keep the hand-written notes below the marker across reruns
    marker = "<!-- notes: kept by --write -->"
    old = path.read_text() if path.exists() else ""
    notes = old[old.index(marker):] if marker in old else marker + "\n"
    path.write_text("\n".join(lines) + "\n" + notes)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
