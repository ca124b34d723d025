"""Forward link functions of krtheory.numeric.Potential: h_D, h_D', H_D and their edge forms.

Reference: textbook formulas in mpmath at dps = 2|log10 x| + 40 (tests/test_numeric_mpref.py).
Tolerance: the issue's target, 1e-13 relative (absolute 1e-300 below the smallest normal); the
implementation measures ~1e-15 (docs/accuracy.md), so a failure means a real regression.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from krtheory import InvalidInputError
from krtheory.numeric import potential
from test_numeric_mpref import DEPTHS, H, H_e, dh, dh_e, dps_for, h, h_e, rel_err

TOL = 1e-13
EDGE_E = (1e-300, 3e-154, 1e-16, 1e-8, 0.3, 0.5, 0.5000000000000001, 0.9, 1.0)


def _u_points(D):
    if D == 2:
        return [0.0, 1e-300, 3e-154, 1e-8, 0.3, 1.0, 30.0, 700.0, 709.7, 709.79, 710.0]
    return [0.0, 1e-300, 3e-154, 1e-8, 0.3, 0.4999999999999999, 0.5, 0.9, 1 - 1e-8, 1 - 1e-16]


@pytest.mark.parametrize("D", DEPTHS)
def test_link_functions_at_edge_points(D):
    P = potential(D)
    us = np.array([s * x for x in _u_points(D) for s in (1, -1)])
    got = {"h": P.link(us), "dh": P.link_derivative(us), "H": P.conjugate(us)}
    for i, x in enumerate(us):
        with mp.workdps(dps_for(x)):
            refs = {"h": h(D, x), "dh": dh(D, x), "H": H(D, x)}
            for k, ref in refs.items():
                assert rel_err(got[k][i], ref) <= TOL, (k, D, x, got[k][i], ref)


@pytest.mark.parametrize("D", [d for d in DEPTHS if d != 2])
def test_edge_forms_at_edge_points(D):
    P = potential(D)
    es = np.array(EDGE_E)
    got = {"h": P.link_from_edge(es, 1), "hm": P.link_from_edge(es, -1),
           "dh": P.link_derivative_from_edge(es), "H": P.conjugate_from_edge(es)}
    for i, x in enumerate(es):
        with mp.workdps(dps_for(x)):
            refs = {"h": h_e(D, x), "hm": -h_e(D, x), "dh": dh_e(D, x), "H": H_e(D, x)}
            for k, ref in refs.items():
                assert rel_err(got[k][i], ref) <= TOL, (k, D, x, got[k][i], ref)


@pytest.mark.parametrize("D", DEPTHS)
def test_link_dense_grid(D):
    P = potential(D)
    if D == 2:
        us = np.geomspace(1e-300, 709.7, 120)
    else:
        us = np.concatenate([np.geomspace(1e-300, 0.49, 60), 1 - np.geomspace(1.1e-16, 0.5, 60)])
    out = (P.link(us), P.link_derivative(us), P.conjugate(us))
    for i, x in enumerate(us):
        with mp.workdps(dps_for(x)):
            for fn, vals in zip((h, dh, H), out):
                assert rel_err(vals[i], fn(D, x)) <= TOL, (fn.__name__, D, x)


def test_exact_zero_and_oddness():
    for D in DEPTHS:
        P = potential(D)
        assert P.link(0.0) == 0.0 and P.conjugate(0.0) == 0.0
        us = np.geomspace(1e-200, 0.999, 50)
        # the rewrites are exactly odd / even (sinh, atanh odd; u^2 even), not merely to rounding
        assert np.array_equal(P.link(-us), -P.link(us))
        assert np.array_equal(P.conjugate(-us), P.conjugate(us))


def test_overflow_only_where_true_value_exceeds_float_max():
    P = potential(2)
    # 2 sinh(u) crosses 1.797e308 at u = log(1.797e308) = 709.7827...
    assert math.isfinite(P.link(709.78)) and P.link(709.79) == math.inf and P.link(-709.79) == -math.inf
    P = potential(2.5)  # p = 5: h(1-e) ~ e^-5 overflows for e < ~1.8e-62 ... at e = 1e-300 surely
    assert P.link_from_edge(1e-300, 1) == math.inf
    # just below the float maximum: e^-5 (1 - rho^5) must not overflow early
    e = float(mp.mpf(np.finfo(float).max / 1.0001) ** (-mp.mpf(1) / 5))
    assert math.isfinite(P.link_from_edge(e, 1))


def test_torch_matches_numpy_and_gradients():
    for D in DEPTHS:
        P = potential(D)
        us = np.array([1e-300, 1e-8, 0.3, 0.7, 1 - 1e-12]) if D != 2 else np.array([1e-300, 1e-8, 0.3, 3.0, 500.0])
        us = np.concatenate([us, -us])
        t = torch.tensor(us, dtype=torch.float64, requires_grad=True)
        for name, deriv in (("link", "link_derivative"), ("conjugate", "link"), ("link_derivative", None)):
            out = getattr(P, name)(t)
            assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
            # CPU tensors run the NumPy code: bitwise equal (the torch-kernel path, which CUDA
            # tensors take, is compared in tests/test_numeric_solve.py)
            np.testing.assert_array_equal(out.detach().numpy(), getattr(P, name)(us))
            if deriv is None:
                continue
            (g,) = torch.autograd.grad(out.sum(), t)
            # autograd of the stable form vs an independent high-precision derivative
            for i, x in enumerate(us):
                with mp.workdps(dps_for(x)):
                    ref = {"link": dh, "conjugate": h}[name](D, x)
                    assert rel_err(g[i].item(), ref) <= 1e-13, (name, D, x)


def test_edge_forms_torch_gradient():
    D = 3
    P = potential(D)
    es = torch.tensor([1e-200, 1e-10, 0.3, 0.6, 1.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(P.link_from_edge(es, 1).sum(), es)
    for i, x in enumerate(es.detach().numpy()):
        with mp.workdps(dps_for(x)):
            assert rel_err(g[i].item(), -dh_e(D, x)) <= 1e-13


def test_python_float_in_numpy_scalar_out():
    out = potential(3).link(0.25)
    assert isinstance(out, np.float64)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    with pytest.raises(InvalidInputError, match="non-finite"):
        potential(3).link(np.array([0.1, bad]))
    with pytest.raises(InvalidInputError, match="non-finite"):
        potential(2).conjugate(torch.tensor([bad], dtype=torch.float64))


def test_domain_errors():
    with pytest.raises(InvalidInputError, match=r"\(-1, 1\)"):
        potential(3).link(1.0)
    with pytest.raises(InvalidInputError, match=r"\(0, 1\]"):
        potential(3).conjugate_from_edge(0.0)
    with pytest.raises(InvalidInputError, match="sign"):
        potential(3).link_from_edge(0.5, 2)
    with pytest.raises(InvalidInputError, match="depth > 2"):
        potential(2).link_from_edge(0.5, 1)
    with pytest.raises(InvalidInputError, match="depth"):
        potential(1.5)


@given(log10_e=st.floats(-300, 0), negative=st.booleans(), D=st.sampled_from([d for d in DEPTHS if d != 2]))
def test_hypothesis_link_functions_over_the_edge_range(log10_e, negative, D):
    # e in [1e-300, 1] through the edge forms, and u = +-(1 - e) (when representable) directly
    P = potential(D)
    e = 10.0**log10_e
    sg = -1.0 if negative else 1.0
    with mp.workdps(dps_for(e)):
        assert rel_err(P.link_from_edge(e, sg), sg * h_e(D, e)) <= TOL
        assert rel_err(P.link_derivative_from_edge(e), dh_e(D, e)) <= TOL
        assert rel_err(P.conjugate_from_edge(e), H_e(D, e)) <= TOL
    u = sg * (1 - e)
    if abs(u) < 1:
        with mp.workdps(dps_for(u, 1 - abs(u))):
            assert rel_err(P.link(u), h(D, u)) <= TOL
            assert rel_err(P.conjugate(u), H(D, u)) <= TOL


@given(log10_u=st.floats(-300, math.log10(709.7)), negative=st.booleans())
def test_hypothesis_d2_link(log10_u, negative):
    P = potential(2)
    u = (-1 if negative else 1) * 10.0**log10_u
    with mp.workdps(dps_for(u)):
        assert rel_err(P.link(u), h(2, u)) <= TOL
        assert rel_err(P.conjugate(u), H(2, u)) <= TOL
        assert rel_err(P.link_derivative(u), dh(2, u)) <= TOL
