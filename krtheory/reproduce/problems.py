"""Problem generators for the reproductions (THEORY.md s8)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from krtheory._validation import InvalidInputError

__all__ = ["SparseProblem", "sparse_regression_problem", "population_error"]


@dataclass(frozen=True)
class SparseProblem:
    """Sparse linear regression: ``y = X beta_star + noise``.

    ``X`` (n, d) float64 with i.i.d. N(0, 1) entries (x ~ N(0, I_d)); ``beta_star`` (d,) r-sparse
    with entries 1/sqrt(r) on a random support (so ||beta_star||_2 = 1); noise i.i.d. N(0, noise_var).
    """

    X: np.ndarray
    y: np.ndarray
    beta_star: np.ndarray
    noise_var: float

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]


def sparse_regression_problem(n: int, d: int, r: int, noise_var: float, rng: np.random.Generator) -> SparseProblem:
    """Draw the Fig. 1 instance (THEORY.md s8). Requires 1 <= r <= d and 1 <= n < d."""
    if not (1 <= r <= d):
        raise InvalidInputError(f"sparsity r must satisfy 1 <= r <= d = {d}, got {r}")
    if not (1 <= n < d):
        raise InvalidInputError(f"need 1 <= n < d for an underdetermined problem, got n = {n}, d = {d}")
    if not (noise_var >= 0 and np.isfinite(noise_var)):
        raise InvalidInputError(f"noise variance must be finite and >= 0, got {noise_var}")
    X = rng.standard_normal((n, d))
    beta = np.zeros(d)
    beta[rng.choice(d, size=r, replace=False)] = 1.0 / np.sqrt(r)
    y = X @ beta + np.sqrt(noise_var) * rng.standard_normal(n)
    return SparseProblem(X=X, y=y, beta_star=beta, noise_var=float(noise_var))


def population_error(beta: np.ndarray, beta_star: np.ndarray) -> float:
    """E_x <beta - beta_star, x>^2 = ||beta - beta_star||_2^2 for x ~ N(0, I) (noise excluded)."""
    return float(np.sum((np.asarray(beta) - beta_star) ** 2))
