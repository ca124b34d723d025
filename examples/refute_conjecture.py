"""Refute a (deliberately false) alpha threshold with krtheory.check.

Conjecture (false): "for the D = 2 network, any initialization scale alpha <= 0.5 already puts the
gradient-flow limit within 1% of the minimum l1 norm". Theorem 2 says the rich regime needs alpha
exponentially small in d / (eps ||beta*||_1); krtheory.check integrates the flow (not the solver)
on generated sparse problems and returns a shrunk counterexample.

Run:  python examples/refute_conjecture.py
"""
from __future__ import annotations

import krtheory
from krtheory import strategies as kst

THRESHOLD = 0.5   # the conjectured alpha
EPS = 0.01        # "within 1% of min l1"


def conjecture(case) -> bool:  # case: krtheory.check.FlowCase
    if case.alpha > THRESHOLD:
        return True  # the conjecture says nothing about larger alpha
    assert case.l1_norm <= (1 + EPS) * case.min_l1_norm, (
        f"alpha = {case.alpha:.4g} <= {THRESHOLD} but ||beta_flow||_1 / ||beta*_l1||_1 - 1 = "
        f"{case.l1_norm / case.min_l1_norm - 1:.4g} > {EPS}")
    return True


def main(max_examples: int = 12, seed: int = 0, shrink_budget_s: float = 30.0) -> krtheory.check.CheckResult:
    strategy = kst.instances(
        kst.problems(n=(2, 4), d=(4, 8), sparsity=(1, 2)),
        kst.alphas(0.2, 2.0),
        kst.depths((2,)),
    )
    result = krtheory.check(conjecture, strategy, max_examples=max_examples, seed=seed,
                                  shrink_budget_s=shrink_budget_s)
    return result


if __name__ == "__main__":
    res = main()
    print(res)
