"""The safeguarded Newton solver for h_D^{-1} (krtheory/numeric/_solve.py) and the torch-kernel path.

References: mpmath roots (tests/test_numeric_mpref.py); the torch-kernel path (what CUDA tensors
run) is exercised on CPU by switching off the NumPy route, and must agree with NumPy to a few
ulps (different libm kernels: 8 ulps allowed, measured <= 4) with the same gradients.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import krtheory.numeric._potential as pot
from krtheory.numeric import Q, potential
from krtheory.numeric import _backend as B
from krtheory.numeric import _solve
from test_numeric_mpref import potential_ref, rel_err

ZS = np.concatenate([[0.0, 5e-324, 1.7976931348623157e308], np.geomspace(1e-300, 1e300, 301)])


@pytest.mark.parametrize("D", [2.001, 2.01, 2.1, 2.5, 3, 16, 100, 1e4])
def test_solver_converges_for_extreme_depths(D):
    # D near 2 (p up to 2001) and very large D (p -> 1): residual of h_D(v) = |z| at the returned
    # root, and agreement with the mpmath root at a subsample; no NaN anywhere
    P = potential(D)
    v, e, central = _solve.solve_link_inverse(B.NP, ZS, P.params, P.inv_p)
    assert not np.any(np.isnan(v)) and not np.any(np.isnan(e))
    assert np.all((v >= 0) & (v <= 1) & (e >= 0) & (e <= 1))
    for z in ZS[3::30]:
        ref = potential_ref(D, float(z))
        i = int(np.flatnonzero(ZS == z)[0])
        # 1e-13: the target; D < 2.1 uses exp/cosh of arguments up to ~700 (error ~700 eps)
        assert rel_err(P.dq_complement(z), ref["one_minus_abs_dq"]) <= 1e-13
        assert rel_err(v[i], abs(ref["dq"])) <= 1e-13


def test_iteration_count_is_small():
    # count the vectorized Newton sweeps over the whole range: quadratic convergence from the
    # bounds means a handful of sweeps, far below the cap
    calls = []
    orig = _solve._converged

    def counting(F, a, b):
        calls.append(1)
        return orig(F, a, b)

    _solve._converged = counting
    try:
        for D in (2.5, 3, 4, 5, 8, 16):
            calls.clear()
            potential(D).dq(ZS)
            assert len(calls) <= 16, (D, len(calls))
    finally:
        _solve._converged = orig


@pytest.fixture
def torch_kernels():
    old = pot.CPU_VIA_NUMPY
    pot.CPU_VIA_NUMPY = False
    yield
    pot.CPU_VIA_NUMPY = old


@pytest.mark.parametrize("D", [2, 2.5, 3, 4, 5, 8, 16])
def test_torch_kernel_path_matches_numpy(D, torch_kernels):
    P = potential(D)
    t = torch.tensor(ZS)
    for m in ("q", "dq", "d2q", "d3q", "dq_complement", "l1_gap"):
        a = getattr(P, m)(ZS)
        b = getattr(P, m)(t).numpy()
        assert not np.any(np.isnan(b)), m
        finite = np.isfinite(a) & (np.abs(a) > 1e-300)
        # d3q = -h''/h'^3 multiplies the per-kernel differences by ~4 (the cube)
        ulps = 32 if m == "d3q" else 8
        np.testing.assert_allclose(b[finite], a[finite], rtol=ulps * 2.2e-16, err_msg=m)
        np.testing.assert_array_equal(np.isinf(b), np.isinf(a))
    us = np.linspace(-0.999, 0.999, 41) if D != 2 else np.linspace(-700, 700, 41)
    for m in ("link", "link_derivative", "conjugate"):
        np.testing.assert_allclose(getattr(P, m)(torch.tensor(us)).numpy(), getattr(P, m)(us), rtol=8 * 2.2e-16)


def test_torch_kernel_path_gradients(torch_kernels):
    for D in (2, 3, 8):
        P = potential(D)
        zs = np.array([1e-200, 0.3, 5.0, 1e40])
        t = torch.tensor(np.concatenate([zs, -zs]), requires_grad=True)
        (g,) = torch.autograd.grad(P.q(t).sum(), t, create_graph=True)
        (g2,) = torch.autograd.grad(g.sum(), t)
        for i, z in enumerate(t.detach().numpy()):
            ref = potential_ref(D, float(z))
            assert rel_err(g[i].item(), ref["dq"]) <= 1e-13
            assert rel_err(g2[i].item(), ref["d2q"]) <= 1e-13
        beta = torch.tensor([0.5, -2.0, 1e-3], dtype=torch.float64, requires_grad=True)
        out = Q(beta, 0.1, D)
        (gb,) = torch.autograd.grad(out, beta)
        np.testing.assert_allclose(gb.numpy(), P.dq(beta.detach().numpy() / 0.1**D), rtol=1e-15)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    zs = torch.tensor(ZS, device="cuda")
    for D in (2, 3, 5, 16):
        P = potential(D)
        for m in ("q", "dq", "d2q", "dq_complement", "l1_gap"):
            got = getattr(P, m)(zs)
            assert got.device.type == "cuda"
            ref = getattr(P, m)(ZS)
            g = got.cpu().numpy()
            finite = np.isfinite(ref) & (np.abs(ref) > 1e-300)
            np.testing.assert_allclose(g[finite], ref[finite], rtol=8 * 2.2e-16, err_msg=f"{m} D={D}")
        t = zs.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(P.q(t).sum(), t)
        np.testing.assert_allclose(g.cpu().numpy(), P.dq(ZS), rtol=8 * 2.2e-16, atol=1e-300)
