"""Benchmarks of the dynamics engine (numbers recorded in benchmarks/DYNAMICS.md).

    python benchmarks/bench_dynamics.py batch   [--B 1000] [--depth 2]   # the 1000-problem batch
    python benchmarks/bench_dynamics.py depths                           # D = 3, 4 timings
    python benchmarks/bench_dynamics.py gd-vs-numpy [--B 20]             # batched engine vs NumPy loop
    python benchmarks/bench_dynamics.py accuracy                         # limits vs the Q-minimizer

Problem family of the issue: Gaussian X (n = 20, d = 100), y = X beta* with beta* 5-sparse of
entries 1/sqrt(5) (random signs/support), alpha log-uniform in [0.1, 10]; all seeded.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from krtheory.dynamics import gradient_descent, gradient_flow


def family(B, n=20, d=100, k=5, lo=0.1, hi=10.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, n, d))
    beta = np.zeros((B, d))
    for b in range(B):
        S = rng.choice(d, k, replace=False)
        beta[b, S] = rng.choice([-1.0, 1.0], k) / math.sqrt(k)
    y = np.einsum("bnd,bd->bn", X, beta)
    alpha = np.exp(rng.uniform(math.log(lo), math.log(hi), B))
    return X, y, alpha


def summarize(r, wall, label):
    st, cnt = np.unique(r.status, return_counts=True)
    print(f"{label}: wall {wall:.1f} s; status {dict(zip(st.tolist(), cnt.tolist()))}; "
          f"steps median {int(np.median(r.steps))} max {int(np.max(r.steps))}; "
          f"rejected total {int(np.sum(r.rejected))}; stiff switches {int(np.sum(r.stiff_time >= 0))}; "
          f"max drift {np.max(r.invariant_drift):.2e}", flush=True)


def bench_batch(B, depth, lo, hi, seed, threads):
    X, y, alpha = family(B, lo=lo, hi=hi, seed=seed)
    t0 = time.perf_counter()
    r = gradient_flow(X, y, alpha, depth, threads=threads)
    wall = time.perf_counter() - t0
    summarize(r, wall, f"gradient_flow B={B} D={depth} alpha in [{lo}, {hi}]")
    yy = np.sum(y ** 2, -1)
    rr = np.sum((np.einsum("bnd,bd->bn", X, r.beta) - y) ** 2, -1)
    print(f"  max ||r||^2/||y||^2 = {np.max(rr / yy):.2e} (target 1e-20)")
    return r, wall


def numpy_gd(X, y, alpha, D, eta, tol=1e-20, max_steps=1_000_000):
    """Per-problem textbook GD on raw w (sum loss), as published experiment code does it."""
    wp = np.full(X.shape[1], float(alpha))
    wm = wp.copy()
    thr = tol * float(y @ y)
    for k in range(max_steps):
        r = X @ (wp ** D - wm ** D) - y
        if not np.isfinite(r).all() or r @ r > 1e12 * thr / tol:
            return None, k
        if r @ r <= thr:
            return wp ** D - wm ** D, k
        g = X.T @ r
        wp, wm = wp - eta * 2 * D * wp ** (D - 1) * g, wm + eta * 2 * D * wm ** (D - 1) * g
    return wp ** D - wm ** D, max_steps


def bench_gd_vs_numpy(B, depth, seed, threads):
    from krtheory.solvers import implicit_bias_solution

    X, y, alpha = family(B, seed=seed)
    t0 = time.perf_counter()
    r = gradient_flow(X, y, alpha, depth, threads=threads)
    t_engine = time.perf_counter() - t0
    tg0 = time.perf_counter()
    g = gradient_descent(X, y, alpha, depth, threads=threads)
    t_gd = time.perf_counter() - tg0
    t_np_final, t_np_search, errs, steps = 0.0, 0.0, [], []
    flow_err, gd_err = [], []
    for b in range(B):
        ref = implicit_bias_solution(X[b], y[b], alpha[b], depth).x
        flow_err.append(np.linalg.norm(r.beta[b] - ref) / np.linalg.norm(ref))
        gd_err.append(np.linalg.norm(g.beta[b] - ref) / np.linalg.norm(ref))
        eta = 0.5 / (2 * depth ** 2 * np.linalg.norm(X[b], 2) ** 2)  # start large, halve
        while True:
            ts = time.perf_counter()
            beta, k = numpy_gd(X[b], y[b], alpha[b], depth, eta)
            dt = time.perf_counter() - ts
            t_np_search += dt
            if beta is not None and np.linalg.norm(beta - ref) <= 1e-4 * np.linalg.norm(ref):
                t_np_final += dt
                errs.append(np.linalg.norm(beta - ref) / np.linalg.norm(ref))
                steps.append(k)
                break
            eta /= 2
    print(f"B={B} D={depth}: engine gradient_flow {t_engine:.2f} s (max rel err vs implicit_bias_solution "
          f"{max(flow_err):.2e}); engine gradient_descent (default step) {t_gd:.2f} s (max rel err {max(gd_err):.2e})")
    print(f"  NumPy per-problem GD with the largest 1e-4-accurate step: {t_np_final:.2f} s for the final runs "
          f"({t_np_search:.2f} s including the halving search); median steps {int(np.median(steps))}; "
          f"max rel err {max(errs):.2e}")
    print(f"  ratio NumPy(final runs) / engine flow = {t_np_final / t_engine:.1f}x; "
          f"including search = {t_np_search / t_engine:.1f}x", flush=True)


def bench_accuracy(threads):
    """Flow limits vs implicit_bias_solution on the family (d = 100, n = 20) over the issue's range."""
    from krtheory.solvers import implicit_bias_solution

    for D, alphas in ((2, [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]), (3, [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]),
                      (4, [1e-2, 1e-1, 1.0, 10.0, 100.0])):
        X, y, _ = family(len(alphas) * 4, seed=7)
        al = np.repeat(alphas, 4)
        t0 = time.perf_counter()
        r = gradient_flow(X, y, al, D, threads=threads)
        wall = time.perf_counter() - t0
        for a in alphas:
            sel = np.nonzero(al == a)[0]
            e = []
            for b in sel:
                ref = implicit_bias_solution(X[b], y[b], a, D).x
                e.append(np.linalg.norm(r.beta[b] - ref) / np.linalg.norm(ref))
            print(f"D={D} alpha={a:g}: max rel err {max(e):.2e}; status {sorted(set(r.status[sel]))}; "
                  f"methods {sorted(set(r.method[sel]))}; max t {np.max(r.time[sel]):.3g}; "
                  f"max steps {int(np.max(r.steps[sel]))}", flush=True)
        print(f"D={D}: batch of {len(al)} in {wall:.1f} s", flush=True)


def bench_traps(threads):
    """The numerical traps of the issue, measured on one problem of the family (d = 100, n = 20)."""
    X, y, _ = family(1, seed=3)
    X, y = X[0], y[0]
    bl2 = np.linalg.pinv(X) @ y
    print("(b) float64 floor at alpha = 100, D = 4 (kernel regime, beta ~ X^+ y):")
    for coords in ("log", "raw"):
        r = gradient_flow(X, y, 100.0, 4, coordinates=coords, threads=threads, max_steps=20000)
        print(f"  coordinates={coords}: status {r.status}, ||r||^2/||y||^2 = {r.loss / (y @ y):.2e}, "
              f"|beta - X^+y|/|X^+y| = {np.linalg.norm(r.beta - bl2) / np.linalg.norm(bl2):.2e}")
    print("(a) stiff tail and time scale vs step count, D = 3 (tol 1e-20):")
    for a in (1e-1, 1e-2, 1e-3, 1e-4, 1e-6):
        t0 = time.perf_counter()
        r = gradient_flow(X, y, a, 3, threads=threads)
        print(f"  alpha={a:g}: {r.status}, t = {r.time:.3g}, steps {r.steps} (rejected {r.rejected}), "
              f"method {r.method} (stiff from t = {r.stiff_time:.3g}), {time.perf_counter() - t0:.1f} s")
    print("  same, DP5 only, alpha = 1e-2, capped at 20000 steps:")
    r = gradient_flow(X, y, 1e-2, 3, method="dopri5", max_steps=20000, threads=threads)
    print(f"  {r.status}: t = {r.time:.3g}, ||r||^2/||y||^2 = {r.loss / (y @ y):.2e}, measured rate {r.rate:.3g}")
    print("  a capped run reports its rate: D = 4, alpha = 1e-2, t_max = 1e3:")
    r = gradient_flow(X, y, 1e-2, 4, t_max=1e3, threads=threads)
    print(f"  {r.message}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["batch", "depths", "gd-vs-numpy", "accuracy", "traps"])
    ap.add_argument("--B", type=int, default=1000)
    ap.add_argument("--depth", type=float, default=2)
    ap.add_argument("--lo", type=float, default=0.1)
    ap.add_argument("--hi", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.what == "batch":
        bench_batch(a.B, a.depth, a.lo, a.hi, a.seed, a.threads)
    elif a.what == "depths":
        for D in (3, 4):
            bench_batch(a.B, D, a.lo, a.hi, a.seed, a.threads)
    elif a.what == "gd-vs-numpy":
        bench_gd_vs_numpy(a.B, int(a.depth), a.seed, a.threads)
    elif a.what == "accuracy":
        bench_accuracy(a.threads)
    elif a.what == "traps":
        bench_traps(a.threads)


if __name__ == "__main__":
    main()
