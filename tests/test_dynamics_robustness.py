"""Robustness of the dynamics engine against a new user's inputs (krtheory/dynamics/_common.py,
_driver.py stop rules): unrepresentable scales are refused with the exact rescaling as remedy,
and that remedy is checked against the flow itself; y just outside range(X) stops at a plateau
whose level is the least-squares residual (NumPy lstsq, an independent algorithm); no warnings.
"""
import warnings

import numpy as np
import pytest
import torch

from krtheory._validation import InvalidInputError
from krtheory.dynamics import gradient_descent, gradient_flow
from krtheory.dynamics._driver import decay_rate


def _problem():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 8))
    b = np.zeros(8)
    b[0] = 1
    return X, X @ b


def _off_range():
    # rank-2 X and y = X v + 1e-9 noise: check_range accepts it (relative residual ~4e-9)
    rng = np.random.default_rng(0)
    Xr = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 8))
    v = rng.standard_normal(8)
    return Xr, Xr @ v + 1e-9 * rng.standard_normal(4)


@pytest.mark.parametrize("xs, ys, what", [(1e-200, 1.0, "||X||_2"), (1e150, 1.0, "||X||_2"),
                                          (1.0, 1e-200, "||y||"), (1.0, 1e200, "||y||")])
def test_unrepresentable_data_scales_are_refused_with_the_remedy(xs, ys, what):
    X, y = _problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for run in (gradient_flow, gradient_descent):
            with pytest.raises(InvalidInputError) as ei:
                run(X * xs, y * ys, 0.5, 2)
            msg = str(ei.value)
            assert msg.startswith(what) and "beta_alpha(c X, y) = beta_alpha(X, y / c)" in msg


def test_the_rescaling_remedy_is_exact():
    # beta(cX, cy)(t) = beta(X, y)(c^2 t), and beta_alpha(X, s y) = s beta_{alpha s^(-1/D)}(X, y) at
    # time t s^(2/D - 2) (the identities the refusal message offers), compared at a fixed time
    # mid-way through the fit (t = 3 of ~13, where beta still moves at O(1) per unit time).
    # Powers of 2 scale exactly in float64; the step sequences differ (the starting-step heuristic
    # is not scale-equivariant), so the runs agree to the integration error (measured 4e-11 at
    # rtol 1e-10; 1e-9 allows for platforms), while beta(T) is still 2e-3..7e-3 from its limit.
    X, y = _problem()
    T = 3.0
    ref = gradient_flow(X, y, 0.5, 2, t_max=T)
    c = 2.0 ** -40
    r1 = gradient_flow(X * c, y * c, 0.5, 2, t_max=T / c ** 2)
    assert ref.status == r1.status == "time-limit"
    np.testing.assert_allclose(r1.beta, ref.beta, rtol=0, atol=1e-9)
    s, D = 2.0 ** 40, 3
    ref3 = gradient_flow(X, y, 0.5, D, t_max=T)
    r2 = gradient_flow(X, s * y, 0.5 * s ** (1 / D), D, t_max=T * s ** (2 / D - 2))
    assert ref3.status == r2.status == "time-limit"
    np.testing.assert_allclose(r2.beta / s, ref3.beta, rtol=0, atol=1e-9)
    # the comparison is of the trajectory, not of the limit: beta(T) is 1e6 tolerances from it
    assert np.abs(ref3.beta - gradient_flow(X, y, 0.5, D).beta).max() > 1e-3


def test_alpha_scales():
    X, y = _problem()
    with pytest.raises(InvalidInputError, match=r"alpha\^D .* overflows float64"):
        gradient_flow(X, y, alpha=1e300, depth=3)
    # tiny alpha at D = 3: the escape time ~ alpha^-(D-2) = 1e300 exceeds what the time axis
    # resolves; an honest failure, without warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = gradient_flow(X, y, alpha=1e-300, depth=3)
    assert r.status == "step-underflow" and not r.success and "escape time" in r.message
    assert np.all(np.isfinite(r.beta))


@pytest.mark.parametrize("device", ["mps", "meta", "xla"])
def test_only_cpu_and_cuda_devices(device):
    X, y = _problem()
    with pytest.raises(InvalidInputError, match="device"):
        gradient_flow(X, y, 0.5, 2, device=device)


@pytest.mark.parametrize("kw", [{"alpha": "0.1"}, {"alpha": ["0.1"]}, {"alpha": True}, {"alpha": 1 + 0j},
                                {"log_alpha": "-1"}])
def test_non_numeric_alpha_is_rejected(kw):
    X, y = _problem()
    with pytest.raises(InvalidInputError, match="alpha must be"):
        gradient_flow(X, y, depth=3, **kw)


@pytest.mark.parametrize("run", [gradient_flow, gradient_descent])
def test_y_just_outside_the_range_stops_at_a_plateau(run):
    X, y = _off_range()
    # independent reference: the part of y outside range(X), by NumPy's lstsq (SVD)
    res = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    rel_ls = float(res @ res / (y @ y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run(X, y, 0.5, 2)
    assert r.status == "plateau" and not r.success
    assert "outside the range of X" in r.message
    rel = float(np.sum((X @ r.beta - y) ** 2) / (y @ y))
    # the flow's limit is the least-squares fit: its residual is exactly the off-range part
    # (rel_ls ~ 3e-20; the float floor of ||r||^2/||y||^2 is ~(1e-16)^2, so 5 % is generous)
    assert abs(rel / rel_ls - 1) < 0.05
    assert f"{rel:.2e}"[:3] in r.message  # the message names the residual reached


def test_decay_rate_at_huge_times():
    # log L = -k t exactly, t ~ 1e298 (a D = 3, alpha = 1e-300 time scale): the slope is k
    k = 3e-298
    t = np.linspace(1e298, 2e298, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rate = decay_rate(t, np.exp(-k * t))
    assert abs(rate / k - 1) < 1e-10  # a linear fit of exact data: rounding only


class _FakeView:
    """A model view whose rounding-floor source ``beta_scale`` is fixed (for the stop rules)."""

    def __init__(self, scale):
        self.scale = scale

    def beta_scale(self, s):
        return torch.full_like(s, self.scale)


@pytest.mark.parametrize("scale, rr, expect", [
    # floor = 100 * 8 eps (||X|| ||beta_scale|| + ||y||), here ||X|| = ||y|| = 1 and ||beta_scale||
    # = 2 scale (4 entries); stalled for PLATEAU_STEPS with the state not moving
    (0.5, 1e-26, "stagnated"),   # floor 3.6e-13 >= ||r|| = 1e-13, and floor << ||y||: a fit
    (1e19, 0.9, "plateau"),      # floor ~3.6e8 > ||r|| = 0.95 = ||y||: the old rule called this
                                 # "stagnated" (success); it fitted nothing, so it is a plateau
    (0.5, 1e-10, "plateau"),     # above an honest floor: a stall, not a fit
])
def test_stagnation_needs_an_honest_small_floor(scale, rr, expect):
    from krtheory.dynamics._driver import FLOOR_MAX_REL, PLATEAU_STEPS, STAGNATION_STEPS, stall_tests

    eps = torch.finfo(torch.float64).eps
    s = torch.zeros(1, 4, dtype=torch.float64)
    rr_t = torch.tensor([rr], dtype=torch.float64)
    best = rr_t.clone()
    since = torch.tensor([PLATEAU_STEPS - 1])
    ai = torch.tensor([0])
    one = torch.ones(1, dtype=torch.float64)
    stag, plat = stall_tests(lambda: _FakeView(scale), s, rr_t, best, since, s.clone(), ai, one, one,
                             torch.tensor([True]), STAGNATION_STEPS, PLATEAU_STEPS)
    floor = 100 * 8 * eps * (2 * scale + 1)  # the documented bound, by hand
    assert bool(stag) == (expect == "stagnated") == (rr <= floor ** 2 and floor <= FLOOR_MAX_REL)
    assert bool(plat) == (expect == "plateau")
