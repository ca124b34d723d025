"""krtheory._validation: every bad input is named in the error message."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from krtheory._validation import (InvalidInputError, as_problem, check_depth, check_interpolable,
                                  resolve_log_alpha)


def test_invalid_input_error_is_a_value_error():
    assert issubclass(InvalidInputError, ValueError)


@pytest.mark.parametrize("X, y, needle", [
    (np.full((2, 3), np.nan), np.ones(2), "X has 6 non-finite entries"),
    (np.ones((2, 3)), np.array([1.0, np.inf]), "y has 1 non-finite entry"),
    (np.ones((2, 3)) + 1j, np.ones(2), "X must be real"),
    (torch.ones(2, 3, dtype=torch.complex128), np.ones(2), "X must be real"),
    (np.ones(3), np.ones(1), "X must have shape (n, d)"),
    (np.ones((2, 3)), np.ones(3), "shape mismatch"),
    (np.ones((2, 3)), np.ones((2, 1)), "y must have shape"),
    (np.ones((0, 3)), np.ones(0), "at least one row"),
    ([["a", "b"]], [1.0], "real numeric array"),
])
def test_as_problem_names_the_problem(X, y, needle):
    with pytest.raises(InvalidInputError, match=None) as info:
        as_problem(X, y)
    assert needle in str(info.value)


def test_as_problem_accepts_torch_and_lists_and_batches():
    X, y = as_problem(torch.ones(2, 3), [1, 2])
    assert X.dtype == np.float64 and y.tolist() == [1.0, 2.0]
    Xb, yb = as_problem(np.ones((4, 2, 3)), np.ones((4, 2)), batched=True)
    assert Xb.shape == (4, 2, 3)
    with pytest.raises(InvalidInputError, match="shape"):
        as_problem(np.ones((4, 2, 3)), np.ones((4, 2)))  # a batch where none is allowed


@pytest.mark.parametrize("depth", [1, 1.999, -3, math.nan, math.inf, "3", True, None])
def test_check_depth_rejects(depth):
    with pytest.raises(InvalidInputError, match="depth"):
        check_depth(depth)


def test_check_depth_accepts_reals():
    assert check_depth(2) == 2.0 and check_depth(2.5) == 2.5 and check_depth(np.float64(7)) == 7.0


@pytest.mark.parametrize("kwargs, needle", [
    ({}, "exactly one"), ({"alpha": 1.0, "log_alpha": 0.0}, "exactly one"),
    ({"alpha": 0.0}, "> 0"), ({"alpha": -1.0}, "> 0"), ({"alpha": math.inf}, "finite"),
    ({"alpha": math.nan}, "finite"), ({"alpha": "0.1"}, "positive real"), ({"alpha": True}, "positive real"),
    ({"log_alpha": math.nan}, "finite"), ({"log_alpha": "x"}, "finite"),
])
def test_resolve_log_alpha_rejects(kwargs, needle):
    with pytest.raises(InvalidInputError) as info:
        resolve_log_alpha(**kwargs)
    assert needle in str(info.value)


def test_resolve_log_alpha_values():
    assert resolve_log_alpha(alpha=math.e) == pytest.approx(1.0, rel=1e-15)
    assert resolve_log_alpha(log_alpha=-1000) == -1000.0


def test_check_interpolable():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 6))
    y = X @ rng.standard_normal(6)
    beta = check_interpolable(X, y)
    # the returned vector is the min-l2 interpolator: independent reference pinv
    assert np.allclose(beta, np.linalg.pinv(X) @ y, rtol=1e-12, atol=1e-14)
    with pytest.raises(InvalidInputError, match="not in the range of X.*not underdetermined"):
        check_interpolable(rng.standard_normal((6, 3)), rng.standard_normal(6))
    low_rank = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 8))
    with pytest.raises(InvalidInputError, match="not in the range of X"):
        check_interpolable(low_rank, rng.standard_normal(4))
