"""One step of the two integrators, vectorized over a batch with per-problem step sizes.

* Dormand-Prince 5(4) (explicit, FSAL, local extrapolation): the non-stiff workhorse. Its
  stiffness indicator is Hairer & Wanner's ``h * |k7 - k6| / |y7 - y6|`` (both stages at
  ``t + h``), which estimates ``h * rho(J)``; the method's stability boundary on the negative real
  axis is about 3.3, so values near it mean the step is pinned by stability, not accuracy.
* ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999), a 2-stage L-stable Rosenbrock method of order 2
  with ``gamma = 1 + 1/sqrt(2)`` and an embedded linearly implicit Euler (order 1) for the error
  estimate; it uses the analytic Jacobian and one LU factorization of ``I - gamma h J`` per step.
  L-stability lets its step grow with the slow time scale of the stiff tail (trap (a)).

Error norm: RMS of ``err / (atol + rtol * max(|y|, |y_new|))`` per problem.
"""
from __future__ import annotations

import math

import torch

# Dormand-Prince 5(4) tableau.
_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
# error weights: 5th-order minus embedded 4th-order solution
_E = [71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40]

ROS2_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


def error_norm(err, y, y_new, atol, rtol):
    """RMS scaled error per problem ``(b,)``; non-finite entries give ``inf``."""
    sc = atol.unsqueeze(-1) + rtol * torch.maximum(y.abs(), y_new.abs())
    e = torch.sqrt(((err / sc) ** 2).mean(-1))
    return torch.where(torch.isfinite(e), e, torch.full_like(e, math.inf))


def dopri5_step(rhs, y, f0, h, atol, rtol):
    """Attempt one DP5(4) step of size ``h (b,)`` from ``y (b, N)`` with ``f0 = F(y)``.

    Returns ``(y_new, f_new, rr_new, err, stiff)``; ``f_new = F(y_new)`` (FSAL, 6 evaluations),
    ``stiff`` is the estimate of ``h * rho(J)``.
    """
    hh = h.unsqueeze(-1)
    k = [f0]
    ys = None
    for i in range(1, 7):
        acc = y
        for j, a in enumerate(_A[i]):
            if a != 0.0:
                acc = acc + (hh * a) * k[j]
        if i == 5:
            ys = acc  # stage-6 point (c6 = 1)
        fi, rr = rhs(acc)
        k.append(fi)
        if i == 6:
            y_new = acc
    err = hh * sum(e * kk for e, kk in zip(_E, k) if e != 0.0)
    en = error_norm(err, y, y_new, atol, rtol)
    dy = (y_new - ys).norm(dim=-1)
    dk = (k[6] - k[5]).norm(dim=-1)
    stiff = torch.where(dy > 0, h * dk / dy.clamp_min(torch.finfo(y.dtype).tiny), torch.zeros_like(h))
    return y_new, k[6], rr, en, stiff


def ros2_step(rhs, jac, y, f0, h, atol, rtol):
    """Attempt one ROS2 step; returns ``(y_new, f_new, rr_new, err)`` (3 evaluations + 1 Jacobian).

    ``(I - g h J) k1 = F(y)``; ``(I - g h J) k2 = F(y + h k1) - 2 k1``;
    ``y_new = y + h (3/2 k1 + 1/2 k2)``; error ``y_new - (y + h k1) = h (k1 + k2) / 2``.
    """
    b, N = y.shape
    J = jac(y)
    hh = h.unsqueeze(-1)
    W = torch.eye(N, dtype=y.dtype, device=y.device).expand(b, N, N) - (ROS2_GAMMA * hh).unsqueeze(-1) * J
    LU, piv, info = torch.linalg.lu_factor_ex(W)
    k1 = torch.linalg.lu_solve(LU, piv, f0.unsqueeze(-1)).squeeze(-1)
    f1, _ = rhs(y + hh * k1)
    k2 = torch.linalg.lu_solve(LU, piv, (f1 - 2.0 * k1).unsqueeze(-1)).squeeze(-1)
    y_new = y + hh * (1.5 * k1 + 0.5 * k2)
    err = hh * 0.5 * (k1 + k2)
    en = error_norm(err, y, y_new, atol, rtol)
    en = torch.where(info == 0, en, torch.full_like(en, math.inf))
    f_new, rr = rhs(y_new)
    return y_new, f_new, rr, en


EXTRAP_SEQUENCE = (1, 2, 3, 4, 5)


def lie_extrap_step(rhs, jac, y, f0, H, atol, rtol, seq=EXTRAP_SEQUENCE, shifted=None):
    """One step of extrapolated linearly implicit Euler (a Rosenbrock-type W-method).

    For each ``n_j`` of the harmonic sequence 1..5, ``n_j`` linearly implicit Euler substeps
    ``(I - h_j J) dz = h_j F(z)``, ``h_j = H / n_j`` with the Jacobian ``J`` frozen at ``y``; the
    results are extrapolated to ``h -> 0`` by the Aitken-Neville scheme (the method's global error
    has an expansion in all powers of ``h``), giving order 5. Error estimate: the difference of the
    two last diagonal entries (order 4 vs 5). Returns ``(y_new, f_new, rr_new, err, nfev, nlu)``.
    The extrapolated scheme is stable on the whole negative real axis with strong damping at
    infinity (Hairer & Wanner, Solving ODEs II, IV.9), which is where this flow's stiff
    eigenvalues lie (its Jacobian is similar to minus a PSD matrix plus a small correction).
    """
    b, N = y.shape
    factor = shifted(y) if shifted is not None else None
    J = None
    T = []
    nfev = 0
    ok = torch.ones(b, dtype=torch.bool, device=y.device)
    for nj in seq:
        hj = (H / nj).unsqueeze(-1)
        fac = factor(H / nj) if factor is not None else None
        if fac is not None:
            solve, info = fac
        else:
            if J is None:
                J = jac(y)
            eye = torch.eye(N, dtype=y.dtype, device=y.device).expand(b, N, N)
            LU, piv, info = torch.linalg.lu_factor_ex(eye - hj.unsqueeze(-1) * J)
            solve = (lambda LU, piv: lambda r: torch.linalg.lu_solve(LU, piv, r.unsqueeze(-1)).squeeze(-1))(LU, piv)
        ok &= info == 0
        z, fz = y, f0
        for i in range(nj):
            z = z + solve(hj * fz)
            if i < nj - 1:
                fz, _ = rhs(z)
                nfev += 1
        T.append(z)
    # Aitken-Neville: T[j] <- T[j] + (T[j] - T[j-1]) / (n_j / n_{j-k} - 1), j descending
    prev_diag = None
    for k in range(1, len(seq)):
        for j in range(len(seq) - 1, k - 1, -1):
            T[j] = T[j] + (T[j] - T[j - 1]) / (seq[j] / seq[j - k] - 1.0)
        if k == len(seq) - 2:
            prev_diag = T[-1].clone()
    y_new = T[-1]
    en = error_norm(y_new - prev_diag, y, y_new, atol, rtol)
    en = torch.where(ok, en, torch.full_like(en, math.inf))
    f_new, rr = rhs(y_new)
    return y_new, f_new, rr, en, nfev + 1, len(seq)
