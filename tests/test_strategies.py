"""krtheory.strategies: the generated problems have the properties they advertise."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from krtheory import strategies as kst
from krtheory._validation import InvalidInputError, check_interpolable


@given(kst.problems(n=(1, 6), d=(2, 15), sparsity=(1, 3)))
def test_problems_are_underdetermined_consistent_and_sparse(p):
    assert 1 <= p.n < p.d
    assert p.X.dtype == np.float64 and p.X.shape == (p.n, p.d) and p.y.shape == (p.n,)
    assert not p.X.flags.writeable and not p.y.flags.writeable
    check_interpolable(p.X, p.y)  # y in range(X): raises otherwise
    nnz = int(np.count_nonzero(p.beta_star))
    assert 1 <= nnz <= 3 and nnz == p.spec["sparsity"]
    # noise 0: y is exactly X beta* up to the rounding of one matvec (~d eps |X||beta|)
    np.testing.assert_allclose(p.X @ p.beta_star, p.y, rtol=0, atol=1e-13 * (1 + np.abs(p.y).max()))


@given(kst.problems(n=(2, 5), d=(6, 10), condition=(1.0, 1e4)))
def test_condition_number_is_the_requested_one(p):
    kappa = p.spec["condition"]
    s = np.linalg.svd(p.X, compute_uv=False)
    # the singular values are set exactly, so cond is kappa up to SVD rounding (~1e-15 relative each)
    assert s[0] / s[-1] == pytest.approx(kappa, rel=1e-10)
    assert s[0] == pytest.approx(math.sqrt(p.d), rel=1e-12)


@given(kst.problems(n=(2, 4), d=(6, 10), duplicate=(1, 2)))
def test_duplicated_columns(p):
    k = p.spec["duplicate"]
    np.testing.assert_array_equal(p.X[:, p.d - k:], p.X[:, :k])


def test_paper_data_model():
    p = kst.make_problem(7, 20, 60, kind="paper", sparsity=5, noise=0.1)
    nz = p.beta_star[p.beta_star != 0]
    np.testing.assert_allclose(nz, 1 / math.sqrt(5), rtol=0, atol=0)
    # noise of standard deviation 0.1: residual y - X beta* is N(0, 0.01) in each of 20 entries;
    # its sample std lies in [0.05, 0.17] with probability > 1 - 1e-4 (chi-square, 20 dof)
    assert 0.05 < np.std(p.y - p.X @ p.beta_star) < 0.17


@given(kst.problems(n=(2, 4), d=(3, 8), noise=(0.0, 0.5), condition=(1.0, 100.0)))
@settings(max_examples=10)
def test_spec_rebuilds_bit_for_bit(p):
    q = kst.make_problem(**p.spec)
    np.testing.assert_array_equal(p.X, q.X)
    np.testing.assert_array_equal(p.y, q.y)
    assert p.key == q.key


def test_different_seeds_different_keys():
    assert kst.make_problem(0, 3, 6).key != kst.make_problem(1, 3, 6).key


@given(kst.alphas(1e-3, 1e2))
def test_alphas_in_range(a):
    # the map 10**e can round by one ulp at the ends
    assert 1e-3 * (1 - 1e-12) <= a <= 1e2 * (1 + 1e-12)


@given(kst.log_alphas(-1000.0, -10.0))
def test_log_alphas_reach_beyond_float_range(la):
    inst = kst.Instance.make(kst.make_problem(0, 2, 3), log_alpha=la)
    assert inst.log_alpha == la
    if la < math.log(np.finfo(float).tiny):
        assert inst.alpha is None  # not representable, log carried instead
    else:
        assert inst.alpha == pytest.approx(math.exp(la), rel=1e-15)


@given(kst.depths())
def test_depths_default_values(D):
    assert D in (2, 3, 4)


@given(kst.depths(real=(2.0, 5.0)))
def test_real_depths(D):
    assert 2.0 <= D <= 5.0


@given(st.integers(1, 8).flatmap(lambda d: st.tuples(st.just(d), kst.init_shapes(d, spread=3.0))))
def test_init_shapes(arg):
    d, (u, v) = arg
    for a in (u, v):
        assert a.shape == (d,) and a.dtype == np.float64
        assert np.all(a >= 1 / 3 * (1 - 1e-12)) and np.all(a <= 3 * (1 + 1e-12))


def test_invalid_arguments_are_named():
    with pytest.raises(InvalidInputError, match="n < d"):
        kst.make_problem(0, 5, 5)
    with pytest.raises(InvalidInputError, match="kind"):
        kst.make_problem(0, 2, 5, kind="uniform")
    with pytest.raises(InvalidInputError, match="condition"):
        kst.make_problem(0, 2, 5, condition=0.5)
    with pytest.raises(InvalidInputError, match="sparsity"):
        kst.make_problem(0, 2, 5, sparsity=9)
    with pytest.raises(InvalidInputError, match="min_alpha"):
        kst.alphas(1.0, 0.1)
    with pytest.raises(InvalidInputError, match="depth"):
        kst.depths((1.5,))
    with pytest.raises(InvalidInputError, match="spread"):
        kst.init_shapes(3, spread=0.5)


def test_instance_describe_is_jsonable():
    import json

    inst = kst.Instance.make(kst.make_problem(1, 2, 4), alpha=0.5, depth=3, eps=0.25, u=np.ones(4))
    d = json.loads(json.dumps(inst.describe()))
    assert d["n"] == 2 and d["d"] == 4 and d["depth"] == 3 and d["eps"] == 0.25 and d["u"] == [1.0] * 4
    assert d["alpha"] == 0.5


def test_impossible_size_ranges_are_refused():
    # d below n + 1 everywhere: clipping would silently draw sizes outside the requested range
    from krtheory._validation import InvalidInputError

    with pytest.raises(InvalidInputError, match="no underdetermined problem fits"):
        kst.problems(n=(10, 12), d=(3, 4))
    with pytest.raises(InvalidInputError, match="no underdetermined problem fits"):
        kst.problems(n=5, d=5)
