"""Dual models for the Newton iteration: u = X^T nu -> (log|beta|, sign, log weight, value).

D = 2 and the shaped potential (exponential link), D > 2 (power link, edge variable) and the
D > 2 small-alpha limit model on the l1 support.  Everything is in log space so that the
prefactor alpha^D may lie far outside the float range.
"""
from __future__ import annotations

import math

import numpy as np

from .result import _TINY


# --------------------------------------------------------------------------------------------
# log-space potential pieces used by the dual Newton
# --------------------------------------------------------------------------------------------
# Each model maps u = X^T nu (d,) to (log|beta|, sign(beta), log w, value) where
# beta = prefactor * h(u), w = prefactor * h'(u) (the Hessian weights) and value =
# prefactor * sum H(u) (the dual objective without -<nu, y>, up to a constant).  Log space
# keeps alpha^D far outside the float range usable (THEORY.md s3 asks for alpha ~ e^-1000).

def _log_neg_expm1(x):
    """log(1 - exp(-x)) for x >= 0 (-inf at 0), accurate for small and large x."""
    with np.errstate(divide="ignore"):
        return np.log(-np.expm1(-x))


class _ExpSteps:
    """Step rules shared by the exponential (D = 2) models, whose beta grows like e^|u|."""

    max_du = 30.0  # cap |delta u| per Newton step: exp changes by at most e^30 per iteration

    def sensitivity(self, u, e_abs):
        # d log|beta| / du <= coth|v| ~ 1: beta_i is resolved to eps * (abs error of u_i)
        return 1.0 + 0.0 * u

    def step_limit(self, u, du):
        """Largest multiplier tau of the direction du allowed in one step (|tau du| <= 30)."""
        m = float(np.max(np.abs(du))) if du.size else 0.0
        return math.inf if m == 0 else self.max_du / m


class _ExpModel(_ExpSteps):
    """D = 2 and the shaped potential: beta_i = 2 c_i sinh(u_i + phi_i), log c_i given."""

    domain_bounded = False

    def __init__(self, logc, phi):
        self.logc = logc  # (d,) or scalar
        self.phi = phi    # (d,) or 0.0

    def evaluate(self, u):
        v = u + self.phi
        a = np.abs(v)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            lb = self.logc + a + _log_neg_expm1(2 * a)          # log|2 c sinh v|
            lw = self.logc + a + np.log1p(np.exp(-2 * a))       # log(2 c cosh v)
            val = np.sum(np.exp(self.logc + a + 2 * _log_neg_expm1(a)))  # c (2 cosh v - 2)
        return lb, np.sign(v), lw, val

    def log_abs_beta(self, u):
        a = np.abs(u + self.phi)
        with np.errstate(divide="ignore"):
            return self.logc + a + _log_neg_expm1(2 * a)

    def ray(self, bmax):
        """kappa(t) for the start-point search along nu = kappa nu_2, t in [0, 1]."""
        hi = 4.0 * (abs(float(np.max(np.abs(self.logc)))) + 50.0) / bmax
        return lambda t: hi * t

    def stationarity(self, x, u):
        """|asinh(x_i / (2 c_i)) - phi_i - u_i| on coordinates with normal x_i (log space)."""
        ok = np.abs(x) >= _TINY
        if not np.any(ok):
            return 0.0
        logc = np.broadcast_to(self.logc, u.shape)[ok]
        phi = np.broadcast_to(self.phi, u.shape)[ok]
        ell = np.log(np.abs(x[ok])) - math.log(2.0) - logc     # log(|x| / (2c))
        with np.errstate(over="ignore"):
            small = np.arcsinh(np.exp(np.minimum(ell, 20.0)))
        big = ell + np.log1p(np.sqrt(1.0 + np.exp(-2.0 * np.maximum(ell, 20.0))))
        asinh = np.where(ell < 20.0, small, big) * np.sign(x[ok])
        return float(np.max(np.abs(asinh - phi - u[ok])))


class _PowerModel:
    """D > 2: beta_i = alpha^D h_D(u_i), |u_i| < 1, in log space and the edge variable.

    h_D(u) = (1-u)^-p - (1+u)^-p, h_D' = p[(1-u)^-(p+1) + (1+u)^-(p+1)],
    H_D(u) = (D-2)/2 [(1-u)^-k + (1+u)^-k - 2], p = D/(D-2), k = 2/(D-2) (THEORY.md s4).
    Near 0 the sinh/cosh forms avoid cancellation; for |u| >= 1/2 the edge e = 1 - |u| is exact
    (Sterbenz) and the powers of e are formed as logs so that e^-p never overflows.
    # TODO(numeric): these are private log-space forms of the krtheory.numeric potential; the
    # float-valued pieces are cross-checked against krtheory.numeric.potential in the tests.
    """

    domain_bounded = True

    def __init__(self, depth, log_alpha):
        self.D = depth
        self.p = depth / (depth - 2.0)
        self.k = 2.0 / (depth - 2.0)
        self.logc = depth * log_alpha

    def log_h(self, a, e=None):
        """log h_D(a) for 0 <= a < 1 (-inf at 0); ``e`` = 1 - a if known more accurately."""
        p = self.p
        e_all = 1.0 - a if e is None else e
        out = np.empty_like(a)
        c = a < 0.5
        ac = a[c]
        # log sinh(x) = x - log 2 + log(1 - e^-2x): sinh(p artanh a) overflows (p artanh a > 710)
        # long before a = 1/2 once D is close to 2 (p = D / (D - 2) large)
        x = p * np.arctanh(ac)
        with np.errstate(divide="ignore"):
            out[c] = -0.5 * p * np.log1p(-ac * ac) + x + _log_neg_expm1(2.0 * x)
        e = e_all[~c]
        out[~c] = -p * np.log(e) + np.log1p(-np.exp(p * (np.log(e) - np.log(2.0 - e))))
        return out

    def log_dh(self, a, e=None):
        """log h_D'(a), 0 <= a < 1; ``e`` = 1 - a if known more accurately."""
        p = self.p
        # log(1 - a) as log1p(-a): near a = 0 log of the rounded 1 - a would carry an absolute
        # error eps, i.e. (p + 1) eps in log h', which is O(1) as D -> 2 (p = D / (D - 2) -> inf)
        le = np.log1p(-a) if e is None else np.log(e)
        l2 = np.log1p(a)
        return math.log(p) - (p + 1) * le + np.log1p(np.exp((p + 1) * (le - l2)))

    def log_H(self, a, e=None):
        """log H_D(a), 0 <= a < 1 (-inf at 0); ``e`` = 1 - a if known more accurately."""
        k = self.k
        e_all = 1.0 - a if e is None else e
        out = np.empty_like(a)
        c = a < 0.5
        ac = a[c]
        m = -0.5 * k * np.log1p(-ac * ac)
        dl = k * np.arctanh(ac)
        # (1 -+ a)^-k = e^(m +- dl): the cancellation-free form for moderate dl; for dl > 20 (only
        # reached as D -> 2, k = 2 / (D - 2) large) cosh overflows and e^(m+dl) dominates the -2
        mod = np.minimum(dl, 20.0)
        with np.errstate(divide="ignore"):
            small = np.log(2.0 * (np.expm1(m) * np.cosh(mod) + 2.0 * np.sinh(0.5 * mod) ** 2))
        L1, L2 = m + dl, m - dl
        with np.errstate(over="ignore"):
            big = L1 + np.log1p(np.exp(L2 - L1) - 2.0 * np.exp(-np.maximum(L1, 20.0)))
        out[c] = np.where(dl < 20.0, small, big)
        e = e_all[~c]
        le = np.log(e)
        with np.errstate(over="ignore"):
            direct = np.expm1(-k * le) + np.expm1(-k * np.log(2.0 - e))
        # where e^-k overflows, factor it out: e^-k [1 + (e/(2-e))^k - 2 e^k]
        big = -k * le + np.log1p(np.exp(k * (le - np.log(2.0 - e))) - 2.0 * np.exp(k * le))
        with np.errstate(divide="ignore"):
            out[~c] = np.where(-k * le < 600.0, np.log(np.maximum(direct, 0.0)), big)
        return out + math.log(0.5 * (self.D - 2.0))

    def evaluate(self, u):
        a = np.abs(u)
        if not np.all(a < 1.0):
            return None
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            lb = self.logc + self.log_h(a)
            lw = self.logc + self.log_dh(a)
            val = float(np.sum(np.exp(self.logc + self.log_H(a))))
        return lb, np.sign(u), lw, val

    def log_abs_beta(self, u):
        a = np.abs(u)
        if not np.all(a < 1.0):
            return None
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return self.logc + self.log_h(a)

    def ray(self, bmax):
        """kappa(t) = (1 - 10^(-300 t)) / bmax: the ray stays inside |u| < 1, edge down to 1e-300."""
        return lambda t: -math.expm1(-690.0 * t) / bmax

    def sensitivity(self, u, e_abs):
        # d log h / du = h'/h ~ p / e near the edge (e = 1 - |u|)
        return 1.0 + self.p / np.maximum(1.0 - np.abs(u), _TINY)

    def step_limit(self, u, du):
        # fraction to the boundary |u| = 1: stay 1% inside (e shrinks at most 100x per step)
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(du > 0, (1.0 - u) / du, np.where(du < 0, (1.0 + u) / (-du), np.inf))
        tmax = float(np.min(room)) if room.size else np.inf
        return 0.99 * tmax

    def stationarity(self, x, u):
        """|h_D^-1(x_i / alpha^D) - u_i| by a few Newton steps in log space from u itself."""
        ok = np.abs(x) >= _TINY
        if not np.any(ok):
            return 0.0
        target = np.log(np.abs(x[ok])) - self.logc     # log h(|u*|)
        a = np.abs(u[ok]).copy()
        # solve log h(a) = target for a (monotone); Newton on log h with the edge kept positive
        for _ in range(8):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                f = self.log_h(np.maximum(a, 1e-300)) - target
                slope = np.exp(self.log_dh(a) - self.log_h(np.maximum(a, 1e-300)))
                step = np.where(np.isfinite(f / slope), f / slope, 0.0)
            a = np.clip(a - step, 0.0, np.nextafter(1.0, 0.0))
        return float(np.max(np.abs(a * np.sign(x[ok]) - u[ok])))


class _LimitModel:
    """The alpha -> 0 limit problem of D > 2 on the tight set S (see the module docstring).

    Variable mu (n,), u = X_S^T mu, eta = -s * u > 0; beta = s eta^-p, w = p eta^-(p+1),
    value = ((D-2)/2) sum eta^-k (k = 2/(D-2)): its gradient in mu is X_S beta - y.
    """

    qr_solve = True  # weights eta^-(p+1) span many orders: do not form the Hessian

    def __init__(self, depth, signs):
        self.p = depth / (depth - 2.0)
        self.k = 2.0 / (depth - 2.0)
        self.c = 0.5 * (depth - 2.0)
        self.s = signs

    def evaluate(self, u):
        eta = -self.s * u
        if not np.all(eta > 0):
            return None
        le = np.log(eta)
        with np.errstate(over="ignore"):
            val = float(self.c * np.sum(np.exp(-self.k * le)))
        return -self.p * le, self.s, math.log(self.p) - (self.p + 1.0) * le, val

    def sensitivity(self, u, e_abs):
        return 1.0 + self.p / np.abs(u)

    def step_limit(self, u, du):
        deta = -self.s * du
        eta = -self.s * u
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(deta < 0, eta / (-deta), np.inf)
        return 0.99 * float(np.min(room)) if room.size else math.inf

    def stationarity(self, x, u):
        return 0.0  # exact by construction for the limit model; the real residual is computed outside


class _LimitExpModel(_ExpSteps):
    """The D = 2 alpha -> 0 limit on the tight set S: nu = L nu_1 + mu, L = -2 log alpha.

    On S, ``|u_i| - L = s_i x_i^T mu =: v_i`` and ``2 alpha^2 sinh(u_i) = s_i e^(v_i) (1 - e^(-2|u_i|))``,
    so ``beta_i = s_i e^(v_i)`` up to relative e^(-2L); value = sum e^(v_i) (gradient X_S beta - y).
    The limit problem maximizes the entropy-like -sum |beta_i|(log|beta_i| - 1) on the l1-optimal face.
    """

    qr_solve = True  # weights e^v span many orders: do not form the Hessian

    def __init__(self, signs):
        self.s = signs

    def evaluate(self, u):
        v = self.s * u
        with np.errstate(over="ignore"):
            val = float(np.sum(np.exp(v)))
        return v, self.s, v, val

    def stationarity(self, x, u):
        return 0.0  # exact by construction for the limit model; the real residual is computed outside


def _dot2_cols(X, v):
    """X^T v in twice the working precision (Ogita-Rump-Oishi Dot2 with Dekker splitting).

    Returns (hi, lo), hi + lo = X^T v with relative error ~ eps^2 cond: used once per refinement
    to place the reference dual next to the edge without the eps rounding of a plain product.
    """
    f = 134217729.0  # 2^27 + 1

    def split(a):
        c = f * a
        h = c - (c - a)
        return h, a - h

    Xh, Xl = split(X)
    vh, vl = split(v)
    P = X * v[:, None]
    E = (((Xh * vh[:, None] - P) + Xh * vl[:, None]) + Xl * vh[:, None]) + Xl * vl[:, None]
    s, c = P[0].copy(), E[0].copy()
    for k in range(1, X.shape[0]):
        t = s + P[k]
        z = t - s
        c += ((s - (t - z)) + (P[k] - z)) + E[k]
        s = t
    return s, c


class _EdgeModel:
    """D > 2 near the edge: nu = nu_1 + delta, Newton variable delta, edge kept exactly on S.

    For i in S (reference edge 1 - |x_i^T nu_1| < 1/2), ``e_i = r_i - s_i x_i^T delta`` with
    ``r_i = 1 - s_i x_i^T nu_1`` formed once in twice the working precision, so e_i keeps its
    relative digits down to any size (the plain form 1 - |u_i| is only good to eps absolute, which
    costs eps/e relative in beta).  Off S, u_i = x_i^T nu_1 + x_i^T delta as usual.
    """

    domain_bounded = True
    qr_solve = True  # the weights span ~e^-(p+1): do not form the Hessian explicitly

    def __init__(self, power, X, nu1):
        self.P = power
        hi, lo = _dot2_cols(X, nu1)
        self.z1 = hi + lo
        self.S = np.flatnonzero(1.0 - np.abs(self.z1) < 0.5)
        self.s = np.sign(self.z1[self.S])
        self.r = (1.0 - self.s * hi[self.S]) - self.s * lo[self.S]

    def parts(self, w):
        """(a, e, sign) for the Newton variable's image w = X^T delta."""
        u = self.z1 + w
        a = np.abs(u)
        e = 1.0 - a
        sg = np.sign(u)
        eS = self.r - self.s * w[self.S]
        e[self.S] = eS
        a[self.S] = 1.0 - eS
        sg[self.S] = self.s
        return a, e, sg

    def evaluate(self, w):
        a, e, sg = self.parts(w)
        if not (np.all(e > 0) and np.all(a < 1.0)):
            return None
        P, lc = self.P, self.P.logc
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            lb = lc + P.log_h(a, e)
            lw = lc + P.log_dh(a, e)
            val = float(np.sum(np.exp(lc + P.log_H(a, e))))
        return lb, sg, lw, val

    def sensitivity(self, w, e_abs):
        _, e, _ = self.parts(w)
        return 1.0 + self.P.p / np.maximum(e, _TINY)

    def step_limit(self, w, dw):
        a, e, sg = self.parts(w)
        de = -sg * dw  # d e / d t along the step (e = 1 - sg u)
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(de < 0, e / (-de), np.inf)
        return 0.99 * float(np.min(room)) if room.size else math.inf

    def stationarity(self, x, w):
        """max |e(x_i) - e_i|: the edge recovered from x through the exact h_D (Newton in log e)."""
        a, e, _ = self.parts(w)
        ok = np.abs(x) >= _TINY
        if not np.any(ok):
            return 0.0
        P = self.P
        target = np.log(np.abs(x[ok])) - P.logc
        le = np.log(e[ok])
        for _ in range(8):
            ee = np.exp(le)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                lh = P.log_h(1.0 - ee, ee)
                slope = -ee * np.exp(P.log_dh(1.0 - ee, ee) - lh)   # d log h / d log e
                step = np.where(np.isfinite((lh - target) / slope), (lh - target) / slope, 0.0)
            le = np.minimum(le - step, 0.0)
        return float(np.max(np.abs(np.exp(le) - e[ok])))
