"""q_inf(z) = sqrt(1+z^2) - 1 - log((1+sqrt(1+z^2))/2) (THEORY.md s4, D -> infinity).

Reference: the textbook form in mpmath at dps = 2|log10 z| + 40 (its cancellation near 0 costs
~2|log10 z| digits). Tolerance 1e-13 relative, the issue's target for the potentials.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from krtheory.numeric import potential, q_infinity
from test_numeric_mpref import dps_for, rel_err


def _ref(z):
    with mp.workdps(dps_for(z)):
        s = mp.sqrt(1 + mp.mpf(z) ** 2)
        return +(s - 1 - mp.log((1 + s) / 2))


def test_edge_points_and_grid():
    zs = np.concatenate([[0.0, 1e-300, 3e-154, 1e-8, 0.2, 1.0, 1e154, 1e300, 1.7e308], np.geomspace(1e-300, 1e300, 61)])
    zs = np.concatenate([zs, -zs])
    got = q_infinity(zs)
    for z, g in zip(zs, got):
        assert rel_err(g, _ref(z)) <= 1e-13, (z, g)
    assert q_infinity(0.0) == 0.0


@settings(max_examples=20)
@given(st.floats(-300, 300))
def test_hypothesis_range(log10):
    z = 10.0**log10
    assert rel_err(q_infinity(z), _ref(z)) <= 1e-13


def test_asymptote_and_depth_limit():
    # q_inf = |z| - ln|z| + ln 2 - 1 + o(1) (THEORY.md s4)
    z = 1e12
    assert abs(q_infinity(z) - (z - math.log(z) + math.log(2) - 1)) < 1e-3
    # q_D -> q_inf as D -> infinity; at D = 1e4 the difference is O(1/D) relative
    for z in (0.5, 3.0, 40.0):
        assert abs(potential(1e4).q(z) / q_infinity(z) - 1) < 1e-3


def test_torch_gradient():
    zs = np.array([1e-200, 1e-3, 0.5, 7.0, 1e100])
    t = torch.tensor(np.concatenate([zs, -zs]), requires_grad=True)
    (g,) = torch.autograd.grad(q_infinity(t).sum(), t)
    for z, gi in zip(t.detach().numpy(), g.numpy()):
        # q_inf'(z) = z/(1 + sqrt(1+z^2)) ... derived: d/dz [s - 1 - log((1+s)/2)] = z/s - z/(s(1+s)) = z/(1+s)
        with mp.workdps(dps_for(z)):
            ref = mp.mpf(z) / (1 + mp.sqrt(1 + mp.mpf(z) ** 2))
        assert rel_err(gi, ref) <= 1e-13
