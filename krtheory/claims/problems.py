"""The embedded default problems of ``krtheory verify`` (fixed seeds, small sizes).

Chosen so that every default flow converges well within the engine's cap on 2 CPU cores, and so
that the instances are *sensitive* (intermediate alpha, not deep in a limit). ``seed`` shifts every
generator seed (``krtheory verify --seed S``); the default run uses ``seed = 0``.

- ``sparse``: the paper's data model (THEORY.md s8, Fig. 1) at small size: x ~ N(0, I_20),
  ``beta*`` 3-sparse with entries 1/sqrt(3), ``y = <beta*, x> + N(0, 0.01)``, n = 8 samples.
- ``gauss``: a generic Gaussian problem, n = 4, d = 8, exact ``y = X beta*`` with a 2-sparse
  ``beta*`` (the l1 solution is then ``beta*`` with a strict dual margin on these seeds).
- ``cond``: conditioning 5, n = 5, d = 10.
- ``dup``: two duplicated columns, n = 3, d = 8 (the min-l1 LP is not unique).
"""
from __future__ import annotations

from krtheory.strategies import Problem, make_problem

__all__ = ["sparse", "gauss", "cond", "dup", "all_default"]


def sparse(seed: int = 0) -> Problem:
    return make_problem(2020 + seed, 8, 20, kind="paper", sparsity=3, noise=0.1)


def gauss(seed: int = 0) -> Problem:
    return make_problem(11 + seed, 4, 8, sparsity=2)


def cond(seed: int = 0) -> Problem:
    return make_problem(31 + seed, 5, 10, condition=5.0)


def dup(seed: int = 0) -> Problem:
    return make_problem(41 + seed, 3, 8, duplicate=2, sparsity=2)


def all_default(seed: int = 0) -> dict[str, Problem]:
    return {"sparse": sparse(seed), "gauss": gauss(seed), "cond": cond(seed), "dup": dup(seed)}
