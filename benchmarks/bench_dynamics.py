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
    rel = r.loss / np.sum(r.history[1][0][:1]) if False else None  # noqa: F841
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["batch", "depths", "gd-vs-numpy", "accuracy"])
    ap.add_argument("--B", type=int, default=1000)
    ap.add_argument("--depth", type=float, default=2)
    ap.add_argument("--lo", type=float, default=0.1)
    ap.add_argument("--hi", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.what == "batch":
        bench_batch(a.B, a.depth, a.lo, a.hi, a.seed, a.threads)


if __name__ == "__main__":
    main()
