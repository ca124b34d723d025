"""q_D, q_D', q_D'', 1 - |q_D'|, |z| - q_D of krtheory.numeric.Potential against independent references.

References: mpmath (tests/test_numeric_mpref.py: textbook forms at dps = 2|log10 z| + 40 and a
high-precision Newton root), the shared cases ../shared/cases/q_values.json (40 digits, made by a
separate script), closed-form limits. Tolerance 1e-13 relative = the issue's accuracy target
(absolute 1e-300 below the smallest normal float); measured errors are ~1e-15 (docs/accuracy.md).
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from krtheory import InvalidInputError
from krtheory.numeric import potential
from test_numeric_mpref import DEPTHS, potential_ref, rel_err

TOL = 1e-13
# the issue's fixed edge list in z, plus points around the region splits and D = 2's zeros
EDGE_Z = (0.0, 1e-300, 3e-154, 1e-8, 1.0, 1e154, 1e300, 1.7976931348623157e308,
          2 * math.sinh(1.0), 3.3, 3.31, 7.0, 7.7, 31.8)
METHODS = (("q", "q"), ("dq", "dq"), ("d2q", "d2q"), ("dq_complement", "one_minus_abs_dq"),
           ("l1_gap", "abs_z_minus_q"))


def _check(D, zs, methods=METHODS):
    P = potential(D)
    zs = np.asarray(zs, dtype=float)
    got = {m: getattr(P, m)(zs) for m, _ in methods}
    for i, z in enumerate(zs):
        ref = potential_ref(D, float(z))
        for m, key in methods:
            err = rel_err(got[m][i], ref[key])
            assert err <= TOL, (m, D, z, got[m][i], mp.nstr(ref[key], 20), err)


@pytest.mark.parametrize("D", DEPTHS)
def test_edge_list(D):
    zs = [s * z for z in EDGE_Z for s in (1, -1)]
    _check(D, zs)


@pytest.mark.parametrize("D", [d for d in DEPTHS if d != 2])
def test_edge_variable_points(D):
    # z such that 1 - |u| is exactly 1e-8 and 1e-16 (the edge list in u): z = h_D(1 - e)
    P = potential(D)
    for e in (1e-8, 1e-16):
        with mp.workdps(80):
            p = mp.mpf(D) / (mp.mpf(D) - 2)
            z = float(mp.mpf(e) ** (-p) - (2 - mp.mpf(e)) ** (-p))
        _check(D, [z, -z])
        # and dq_complement recovers e itself (to the rounding of z: condition 1/p)
        assert abs(P.dq_complement(z) / e - 1) < 1e-14


@given(log10=st.floats(-300, 300), negative=st.booleans())
@pytest.mark.parametrize("D", DEPTHS)
def test_whole_range_hypothesis(D, log10, negative):
    z = 10.0**log10 * (-1 if negative else 1)
    _check(D, [z])


def test_shared_q_values(q_cases):
    # 40-digit references made with 320-digit mpmath by an independent script (cases/README.md).
    # Their z are exact decimals; float(z) rounds by <= 1.1e-16 relative, which moves every
    # quantity here by at most ~2.2e-16 relative (condition numbers <= 2), far below TOL.
    n = 0
    for case in q_cases["values"]:
        P = potential(case["D"])
        z = float(case["z"])
        for m, key in METHODS:
            if key not in case:
                continue
            ref = mp.mpf(case[key])
            got = getattr(P, m)(z)
            assert rel_err(got, ref) <= TOL, (case["D"], case["z"], m, got, case[key])
            n += 1
    assert n >= 60


def test_exact_zero_and_symmetry():
    for D in DEPTHS:
        P = potential(D)
        assert P.q(0.0) == 0.0 and P.dq(0.0) == 0.0 and P.l1_gap(0.0) == 0.0
        zs = np.geomspace(1e-300, 1e300, 61)
        assert np.array_equal(P.q(-zs), P.q(zs))
        assert np.array_equal(P.dq(-zs), -P.dq(zs))
        assert np.all(P.q(zs) >= 0)
        if D != 2:
            # bounds of THEORY.md s4: |z| - (D/2)|z|^(2/D) <= q_D(z) <= |z|
            assert np.all(P.q(zs) <= zs)
            # (the float power z**(2/D) with a rounded exponent is itself off by up to
            # |log z| * eps ~ 1e-13 at z = 1e300, while the true gap sits only C_D below the bound)
            assert np.all(P.l1_gap(zs) <= (D / 2) * zs ** (2 / D) * (1 + 1e-12))


def test_d2_overflow_only_beyond_float_max():
    P = potential(2)
    # q(z) ~ z log z crosses 1.797e308 near z = 2.56e305
    assert math.isfinite(P.q(2.5e305)) and P.q(2.6e305) == math.inf
    assert P.l1_gap(2.6e305) == -math.inf
    for D in DEPTHS[1:]:  # D > 2: q_D <= |z| never overflows
        assert math.isfinite(potential(D).q(1.7976931348623157e308))


@settings(max_examples=25)
@given(st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True))
def test_no_nan_for_any_finite_input(z):
    for D in DEPTHS:
        P = potential(D)
        for m in ("q", "dq", "d2q", "d3q", "dq_complement", "l1_gap"):
            v = getattr(P, m)(z)
            assert not math.isnan(v), (m, D, z)


def test_extreme_finite_inputs_no_nan():
    zs = np.array([0.0, -0.0, 5e-324, -5e-324, 2.2e-308, 1.7976931348623157e308, -1.7976931348623157e308])
    for D in DEPTHS:
        P = potential(D)
        for m in ("q", "dq", "d2q", "d3q", "dq_complement", "l1_gap"):
            assert not np.any(np.isnan(getattr(P, m)(zs))), (m, D)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_raises(bad):
    with pytest.raises(InvalidInputError, match="non-finite"):
        potential(3).q(bad)
    with pytest.raises(InvalidInputError, match="non-finite"):
        potential(2).dq(np.array([1.0, -bad]))


def test_torch_gradients_match_high_precision_derivatives():
    # gradient of q is dq and of dq is d2q (custom autograd rules, no differentiation through
    # Newton); compared with the mpmath q', q'' at the same points.
    for D in DEPTHS:
        P = potential(D)
        zs = np.array([1e-300, 1e-8, 0.7, 3.3, 40.0, 1e20, 1e300])
        zs = np.concatenate([zs, -zs])
        t = torch.tensor(zs, requires_grad=True)
        (g1,) = torch.autograd.grad(P.q(t).sum(), t, create_graph=True)
        (g2,) = torch.autograd.grad(g1.sum(), t)
        (g3,) = torch.autograd.grad(P.dq(t).sum(), t)
        for i, z in enumerate(zs):
            ref = potential_ref(D, float(z))
            assert rel_err(g1[i].item(), ref["dq"]) <= TOL, (D, z)
            assert rel_err(g2[i].item(), ref["d2q"]) <= TOL, (D, z)
            assert rel_err(g3[i].item(), ref["d2q"]) <= TOL, (D, z)


def test_torch_third_derivative():
    # d3q = d/dz q'' = -h''(u)/h'(u)^3 (implicit differentiation), with h'' taken by mpmath's own
    # numerical differentiation of the textbook h at 80 digits (independent of our h'' rewrite)
    from test_numeric_mpref import dh, h

    for D in (2, 3, 5):
        P = potential(D)
        for z in (0.3, 2.0, 50.0, -7.0, 1e12):
            t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
            (g,) = torch.autograd.grad(P.d2q(t), t)
            with mp.workdps(80):
                u = potential_ref(D, z)["dq"]
                ref = -mp.diff(lambda x: h(D, x), u, 2) / dh(D, u) ** 3
            assert rel_err(g.item(), ref) <= 1e-13, (D, z, g.item(), ref)


def test_l1_gap_and_dq_complement_gradients():
    for D in (2, 3, 8):
        P = potential(D)
        zs = np.array([0.5, 3.3, 1e10, -1e100])
        t = torch.tensor(zs, requires_grad=True)
        (ga,) = torch.autograd.grad(P.l1_gap(t).sum(), t)
        (gb,) = torch.autograd.grad(P.dq_complement(t).sum(), t)
        for i, z in enumerate(zs):
            ref = potential_ref(D, float(z))
            # d/dz (|z| - q) = sign(z) (1 - |q'|);  d/dz (1 - |q'|) = -sign(z) q''
            assert rel_err(ga[i].item(), np.sign(z) * ref["one_minus_abs_dq"]) <= TOL
            assert rel_err(gb[i].item(), -np.sign(z) * ref["d2q"]) <= TOL


def test_torch_equals_numpy_bitwise_on_cpu_and_float32_roundtrip():
    zs = np.concatenate([np.geomspace(1e-300, 1e300, 41), [0.0, 3.3]])
    for D in DEPTHS:
        P = potential(D)
        for m in ("q", "dq", "d2q", "dq_complement", "l1_gap"):
            a = getattr(P, m)(zs)
            b = getattr(P, m)(torch.tensor(zs)).numpy()
            assert np.array_equal(a, b), (m, D)
    out = potential(3).q(torch.tensor([0.5], dtype=torch.float32))
    assert out.dtype == torch.float32


def test_link_inverse_roundtrip():
    # independent of mpmath: h_D(h_D^{-1}(z)) = z to a few ulps times the condition number
    for D in DEPTHS:
        P = potential(D)
        zs = np.geomspace(1e-300, 1e300 if D != 2 else 1e300, 301)
        u = P.link_inverse(zs)
        if D == 2:
            # 2 sinh(u) amplifies the rounding of u by its condition number u coth u <= 710
            back, rtol = P.link(u), 710 * 2.3e-16
        else:
            # through the edge variable the condition number is only p <= 5
            e = P.dq_complement(zs)
            central = e > 0.5
            back = np.empty_like(zs)
            back[central] = P.link(u[central])
            back[~central] = P.link_from_edge(e[~central], 1.0)
            rtol = 2e-14
        np.testing.assert_allclose(back, zs, rtol=rtol)


def test_d2_zero_crossings_keep_relative_accuracy():
    # D = 2: |z| - q(z) and 1 - |q'(z)| = 1 - asinh(|z|/2) vanish at |z| = 2 x_g and 2 sinh 1. At the
    # floats next to the zeros the true values are ~1e-16, so a naive float evaluation (|z| - q,
    # 1 - asinh) would have relative errors ~1; the asinh-difference forms keep 1e-13. Zeros located
    # here independently with mpmath at 50 digits.
    with mp.workdps(50):
        xg = mp.findroot(lambda x: mp.asinh(x) - x / (1 + mp.sqrt(1 + x * x)) - 1, 1.6)
        zeros = {"l1_gap": float(2 * xg), "dq_complement": float(2 * mp.sinh(1))}
    P = potential(2)
    key = {"l1_gap": "abs_z_minus_q", "dq_complement": "one_minus_abs_dq"}
    for m, z0 in zeros.items():
        zs = [z0]
        for _ in range(3):
            zs = [np.nextafter(zs[0], 0.0)] + zs + [np.nextafter(zs[-1], np.inf)]
        for z in zs + [-z for z in zs]:
            ref = potential_ref(2, float(z))[key[m]]
            assert rel_err(getattr(P, m)(z), ref) <= TOL, (m, z)
