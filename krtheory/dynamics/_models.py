"""The gradient-flow vector fields integrated by the engine, in their own parameters.

Two models, both written as an autonomous ODE ``ds/dt = F(s)`` on a flat state ``s`` of shape
``(b, N)`` (``b`` problems of a batch):

* :class:`DiagonalModel`: the depth-D diagonal network ``beta = w+^D - w-^D`` (THEORY.md s1),
  ``dw/dt = -grad_w L(w)``, in one of three coordinate systems that describe the *same* ODE:

  - ``"log"``: ``w = a * exp(s)`` with ``a = w(0)`` (so ``s(0) = 0``): the log-weights, shifted by
    ``log a``. Positive weights stay positive, ``alpha`` down to 1e-300 (or ``log_alpha``) is
    representable, and ``beta = A+ expm1(D s+) - A- expm1(D s-) + beta(0)`` (``A = a^D``) keeps full
    relative precision in the kernel regime where ``beta << alpha^D`` (trap (b)).
  - ``"delta"``: ``w = a (1 + s)``: the same precision via ``expm1(D log1p(s))``.
  - ``"raw"``: ``s = w`` itself, ``beta = w+^D - w-^D`` formed directly. It is here to exhibit the
    float64 loss floor of trap (b) (its attainable loss is about ``(eps D alpha^D ||X||)^2``).

  In every system ``ds/dt = -c * m(s) * (X^T r)`` (per half) with ``r = X beta - y`` formed first:
  the gradient is never ``(X^T X) beta - X^T y`` (trap (c)). ``c`` is the loss constant
  (2 for the paper's sum, 1 for half, 2/n for mean).

* :class:`WidthModel`: the width-k D = 2 model ``beta_i = sum_j U_ij V_ij`` (THEORY.md s7) on the raw
  ``(U, V)``.

Each model exposes ``subset(idx)`` returning a view over some problems of the batch with
``rhs(s) -> (F, rr)`` (``rr = sum_k r_k^2``), ``jac(s) -> dF/ds`` (analytic, ``(b, N, N)``),
``beta(s)``, ``beta_scale(s)`` (the size of the terms whose difference is ``beta``, for the rounding
floor) and ``invariant_drift(s)``.
"""
from __future__ import annotations


import torch

COORDINATES = ("log", "delta", "raw")


def _gram_apply(X: torch.Tensor, beta: torch.Tensor, y: torch.Tensor):
    """``r = X beta - y`` and ``g = X^T r`` for batched ``X (b,n,d)``, ``beta (b,d)``, ``y (b,n)``."""
    r = torch.bmm(X, beta.unsqueeze(-1)).squeeze(-1) - y
    g = torch.bmm(r.unsqueeze(1), X).squeeze(1)
    return r, g


class DiagonalModel:
    """Depth-D diagonal network in ``coordinates`` (see the module docstring).

    ``X (B, n, d)``, ``y (B, n)``, ``logw0p``, ``logw0m``: ``(B, d)`` natural logs of ``w+-(0)``
    (``log alpha + log u``), ``depth`` D >= 2 (real), ``c`` the loss constant.
    """

    def __init__(self, X, y, logw0p, logw0m, depth: float, c: float, coordinates: str):
        self.X, self.y = X, y
        self.Lp, self.Lm = logw0p, logw0m
        self.D = float(depth)
        self.c = float(c)
        self.coordinates = coordinates
        self.B, self.n, self.d = X.shape
        self.N = 2 * self.d
        D = self.D
        # A = a^D, and beta(0) = A+ - A- (exactly 0 for unbiased init since Lp == Lm bitwise).
        self.Ap = torch.exp(D * self.Lp)
        self.Am = torch.exp(D * self.Lm)
        self.beta0 = self.Ap - self.Am
        # a^(D-2) enters the speed of the flow; exp(0) = 1 exactly for D = 2.
        self.Sp = torch.exp((D - 2.0) * self.Lp)
        self.Sm = torch.exp((D - 2.0) * self.Lm)
        self._concat()

    def _concat(self):
        # both halves side by side (b, 2d), and the sign of dbeta/dw per half
        self.L2 = torch.cat([self.Lp, self.Lm], -1)
        self.A2 = torch.cat([self.Ap, self.Am], -1)
        self.sign2 = torch.cat([torch.ones_like(self.Lp[:1]), -torch.ones_like(self.Lm[:1])], -1)

    # -- views -------------------------------------------------------------------------------
    def subset(self, idx):
        if idx is None:
            return self
        v = object.__new__(DiagonalModel)
        v.D, v.c, v.coordinates, v.n, v.d, v.N = self.D, self.c, self.coordinates, self.n, self.d, self.N
        for name in ("X", "y", "Lp", "Lm", "Ap", "Am", "beta0", "Sp", "Sm"):
            setattr(v, name, getattr(self, name).index_select(0, idx))
        v.B = v.X.shape[0]
        v._concat()
        return v

    def initial_state(self) -> torch.Tensor:
        if self.coordinates == "raw":
            return torch.cat([torch.exp(self.Lp), torch.exp(self.Lm)], dim=-1)
        return torch.zeros(self.B, self.N, dtype=self.X.dtype, device=self.X.device)

    def state_scale(self, beta_ref_inf: torch.Tensor) -> torch.Tensor:
        """A per-problem size of the state change ``(B,)`` used to set ``atol = rtol * scale``.

        ``beta_ref_inf = max_i |beta*_l2,i|``. In the kernel regime the state moves by only about
        ``|beta| / (D a^D)`` (``a`` = init scale), so an absolute tolerance of ``rtol`` would keep no
        digit of it; in the rich regime log-weights move by O(log 1/alpha), capped at 1.
        """
        amax = torch.maximum(self.Ap.amax(-1), self.Am.amax(-1))
        s = beta_ref_inf / (self.D * amax)
        s = torch.clamp(torch.nan_to_num(s, nan=1.0, posinf=1.0), max=1.0)
        s = torch.clamp(s, min=torch.finfo(s.dtype).tiny ** 0.5)
        if self.coordinates == "raw":
            s = s * torch.exp(torch.maximum(self.Lp.amax(-1), self.Lm.amax(-1)))
        return s

    # -- pieces of the model -----------------------------------------------------------------
    def _split(self, s):
        return s[:, : self.d], s[:, self.d:]

    def rel_log(self, s):
        """``log(w/w(0))`` per half, ``(b, d)`` each."""
        sp, sm = self._split(s)
        if self.coordinates == "log":
            return sp, sm
        if self.coordinates == "delta":
            return torch.log1p(sp), torch.log1p(sm)
        return torch.log(sp) - self.Lp, torch.log(sm) - self.Lm

    def log_weights(self, s):
        rp, rm = self.rel_log(s)
        return self.Lp + rp, self.Lm + rm

    def _powD_minus_A(self, s_half, L, A):
        """``w^D - a^D`` for one half, with full relative precision (log / delta coordinates)."""
        D = self.D
        if self.coordinates == "log":
            x = D * s_half
            # expm1 where the difference is small (cancellation otherwise); the direct form where
            # it is large, because A * expm1(x) would be 0 * inf when a^D underflows (tiny alpha).
            small = x.abs() < 1.0
            direct = torch.exp(D * L + torch.where(small, torch.zeros_like(x), x)) - A
            return torch.where(small, A * torch.expm1(torch.where(small, x, torch.zeros_like(x))), direct)
        # delta
        return A * torch.expm1(D * torch.log1p(s_half))

    def beta_parts(self, s):
        """``(beta, scale)``: ``beta (b, d)`` and the magnitude of its rounding error's source."""
        if self.coordinates == "log":
            P = self._log_parts(s)
            return P[:, : self.d] - P[:, self.d:] + self.beta0, P.abs()[:, : self.d] + P.abs()[:, self.d:] + self.beta0.abs()
        sp, sm = self._split(s)
        if self.coordinates == "raw":
            Pp, Pm = sp.pow(self.D), sm.pow(self.D)
            return Pp - Pm, Pp.abs() + Pm.abs()
        Pp = self._powD_minus_A(sp, self.Lp, self.Ap)
        Pm = self._powD_minus_A(sm, self.Lm, self.Am)
        return Pp - Pm + self.beta0, Pp.abs() + Pm.abs() + self.beta0.abs()

    def _log_parts(self, s):
        """``w^D - a^D`` for both halves at once (log coordinates), ``(b, 2d)``."""
        x = self.D * s
        # expm1 where the difference is small (cancellation otherwise); the direct form where it
        # is large, because A * expm1(x) would be 0 * inf when a^D underflows (tiny alpha).
        # torch.where does not propagate a NaN/inf from the branch it does not select.
        return torch.where(x.abs() < 1.0, self.A2 * torch.expm1(x), torch.exp(self.D * self.L2 + x) - self.A2)

    def beta(self, s):
        if self.coordinates == "log":
            P = self._log_parts(s)
            return P[:, : self.d] - P[:, self.d:] + self.beta0
        return self.beta_parts(s)[0]

    def beta_scale(self, s):
        return self.beta_parts(s)[1]

    def _coeffs(self, s, need_derivative: bool = False):
        """``m`` (ds/dt = -c m g), ``b = dbeta/ds`` and optionally ``dm/ds``, each ``(b, 2d)``."""
        D = self.D
        sp, sm = self._split(s)
        if self.coordinates == "log":
            # m = +-D w^(D-2), b = +-D w^D, dm/ds = (D-2) m   (w = a e^s).
            lw = self.L2 + s
            sD = self.sign2 * D
            m = sD.expand_as(s) if D == 2.0 else sD * torch.exp((D - 2.0) * lw)
            b = sD * torch.exp(D * lw) if need_derivative is not None else None
            dm = (D - 2.0) * m if need_derivative else None
        elif self.coordinates == "delta":
            up, um = 1.0 + sp, 1.0 + sm
            mp = D * self.Sp * up.pow(D - 1.0)
            mm = -D * self.Sm * um.pow(D - 1.0)
            m = torch.cat([mp, mm], -1)
            b = torch.cat([D * self.Ap * up.pow(D - 1.0), -D * self.Am * um.pow(D - 1.0)], -1)
            dm = (torch.cat([(D - 1.0) * D * self.Sp * up.pow(D - 2.0),
                             -(D - 1.0) * D * self.Sm * um.pow(D - 2.0)], -1) if need_derivative else None)
        else:
            mp, mm = D * sp.pow(D - 1.0), -D * sm.pow(D - 1.0)
            m = torch.cat([mp, mm], -1)
            b = m
            dm = (torch.cat([D * (D - 1.0) * sp.pow(D - 2.0), -D * (D - 1.0) * sm.pow(D - 2.0)], -1)
                  if need_derivative else None)
        return m, b, dm

    # -- the vector field ----------------------------------------------------------------------
    def rhs(self, s):
        """``(F(s), rr)``: ``F (b, 2d)`` and ``rr = ||X beta - y||^2 (b,)``."""
        beta = self.beta(s)
        r, g = _gram_apply(self.X, beta, self.y)
        if self.coordinates == "log":
            m = self.sign2 * self.D if self.D == 2.0 else (self.sign2 * self.D) * torch.exp((self.D - 2.0) * (self.L2 + s))
        else:
            m, _, _ = self._coeffs(s)
        F = (-self.c) * m * g.repeat(1, 2)
        return F, (r * r).sum(-1)

    def jac(self, s):
        """Analytic ``dF/ds`` ``(b, 2d, 2d)``: ``-c [diag(dm * g) + diag(m) E X^T X E^T diag(b)]``.

        (``E`` stacks the two halves.) X^T X appears only here, in the Jacobian used by the
        linearly implicit stiff step, never in the gradient itself.
        """
        beta = self.beta(s)
        _, g = _gram_apply(self.X, beta, self.y)
        m, b, dm = self._coeffs(s, need_derivative=True)
        G = torch.bmm(self.X.transpose(1, 2), self.X)
        G2 = G.repeat(1, 2, 2)
        J = -self.c * (m.unsqueeze(-1) * G2 * b.unsqueeze(-2))
        J.diagonal(dim1=-2, dim2=-1).add_(-self.c * dm * torch.cat([g, g], -1))
        return J

    def shifted_solver(self, s):
        """Factor-and-solve for ``(I - h J(s)) x = r`` through the n x n Woodbury identity.

        ``J = P_0 + U V^T`` with the diagonal ``P_0 = -c diag(dm * g)`` and the rank-n term
        ``-c diag(m) E X^T X E^T diag(b)``; with ``P = I - h P_0`` the capacitance matrix is
        ``M = I_n + h c X diag(sum_halves m b / P) X^T`` (SPD when ``P > 0``, since ``m b >= 0``).
        Returns ``factor(h) -> solve(r)`` or None for ``factor(h)`` when some ``P <= 1/2`` (the
        caller then uses the dense Jacobian): cost O(n^2 d + n^3) instead of O(d^3).
        """
        beta = self.beta(s)
        _, g = _gram_apply(self.X, beta, self.y)
        m, b, dm = self._coeffs(s, need_derivative=True)
        c, d = self.c, self.d
        P0 = -c * dm * g.repeat(1, 2)
        mb = m * b
        X = self.X
        n = X.shape[1]
        eye = torch.eye(n, dtype=X.dtype, device=X.device)

        def factor(h):
            hh = h.unsqueeze(-1)
            p = 1.0 - hh * P0
            if not bool((p > 0.5).all()):
                return None
            w = mb / p
            k = w[:, :d] + w[:, d:]
            M = eye + (c * hh).unsqueeze(-1) * torch.bmm(X * k.unsqueeze(1), X.transpose(1, 2))
            LU, piv, info = torch.linalg.lu_factor_ex(M)
            coef = (c * hh) * m / p

            def solve(r):
                pr = r / p
                bp = b * pr
                v = torch.bmm(X, (bp[:, :d] + bp[:, d:]).unsqueeze(-1))
                z = torch.linalg.lu_solve(LU, piv, v)
                xz = torch.bmm(X.transpose(1, 2), z).squeeze(-1)
                return pr - coef * xz.repeat(1, 2)

            return solve, info

        return factor

    def curvature(self, s):
        """``lambda_max`` of the tangent kernel ``c X diag(m*b summed over halves) X^T`` ``(b,)``.

        It is the stiffness of the fitting directions: the flow's fastest rate.
        """
        m, b, _ = self._coeffs(s)
        k = m[:, : self.d] * b[:, : self.d] + m[:, self.d:] * b[:, self.d:]
        K = torch.bmm(self.X * k.unsqueeze(1), self.X.transpose(1, 2))
        return self.c * torch.linalg.eigvalsh(K)[:, -1]

    def invariant_drift(self, s):
        """Relative drift of the flow's conserved quantity, max over coordinates ``(b,)``.

        D = 2: ``w+ w-`` (relative change ``expm1(log w+/w+(0) + log w-/w-(0))``);
        D > 2: ``w+^(2-D) + w-^(2-D)`` (THEORY.md s1).
        """
        rp, rm = self.rel_log(s)
        D = self.D
        if D == 2.0:
            return torch.expm1(rp + rm).abs().amax(-1)
        wgt = torch.sigmoid((2.0 - D) * (self.Lp - self.Lm))
        rel = wgt * torch.expm1((2.0 - D) * rp) + (1.0 - wgt) * torch.expm1((2.0 - D) * rm)
        return rel.abs().amax(-1)

    def weights(self, s):
        lp, lm = self.log_weights(s)
        if self.coordinates == "raw":
            sp, sm = self._split(s)
            return sp, sm
        return torch.exp(lp), torch.exp(lm)


class WidthModel:
    """Width-k D = 2 model ``beta_i = sum_j U_ij V_ij`` on raw ``(U, V)`` (THEORY.md s7).

    Construct with the initial ``U0, V0`` of shape ``(d, k)`` or ``(B, d, k)`` (any sign, e.g.
    i.i.d. N(0, sigma^2) drawn by the caller with its own seed). The flow is
    ``dU/dt = -c V * g``, ``dV/dt = -c U * g`` with ``g = X^T r`` broadcast over ``j``; it conserves
    ``U_ij^2 - V_ij^2``.
    """

    coordinates = "raw"

    def __init__(self, U0, V0):
        self.U0, self.V0 = U0, V0

    def bind(self, X, y, c, U0, V0):
        """Attach the problem: ``U0, V0`` tensors ``(B, d, k)``."""
        v = object.__new__(WidthModel)
        v.X, v.y, v.c = X, y, float(c)
        v.U0, v.V0 = U0, V0
        v.B, v.n, v.d = X.shape
        v.k = U0.shape[-1]
        v.N = 2 * v.d * v.k
        v.D = 2.0
        v.inv0 = U0 * U0 - V0 * V0
        v.inv_scale = (U0 * U0 + V0 * V0).flatten(1).amax(-1).clamp_min(torch.finfo(X.dtype).tiny)
        return v

    def subset(self, idx):
        if idx is None:
            return self
        v = object.__new__(WidthModel)
        v.c, v.n, v.d, v.k, v.N, v.D = self.c, self.n, self.d, self.k, self.N, self.D
        for name in ("X", "y", "U0", "V0", "inv0", "inv_scale"):
            setattr(v, name, getattr(self, name).index_select(0, idx))
        v.B = v.X.shape[0]
        return v

    def initial_state(self):
        return torch.cat([self.U0.flatten(1), self.V0.flatten(1)], -1)

    def state_scale(self, beta_ref_inf):
        rms = torch.sqrt((self.U0 ** 2 + self.V0 ** 2).flatten(1).mean(-1) / 2)
        return rms.clamp_min(torch.finfo(rms.dtype).tiny ** 0.5)

    def _split(self, s):
        half = self.d * self.k
        return s[:, :half].reshape(-1, self.d, self.k), s[:, half:].reshape(-1, self.d, self.k)

    def beta_parts(self, s):
        U, V = self._split(s)
        P = U * V
        return P.sum(-1), P.abs().sum(-1)

    def beta(self, s):
        return self.beta_parts(s)[0]

    def beta_scale(self, s):
        return self.beta_parts(s)[1]

    def rhs(self, s):
        U, V = self._split(s)
        r, g = _gram_apply(self.X, (U * V).sum(-1), self.y)
        gg = g.unsqueeze(-1)
        F = torch.cat([(-self.c * V * gg).flatten(1), (-self.c * U * gg).flatten(1)], -1)
        return F, (r * r).sum(-1)

    def jac(self, s):
        U, V = self._split(s)
        _, g = _gram_apply(self.X, (U * V).sum(-1), self.y)
        G = torch.bmm(self.X.transpose(1, 2), self.X)  # (b, d, d)
        # dbeta_i/dU_ij = V_ij, dbeta_i/dV_ij = U_ij; F_U = -c V g, F_V = -c U g.
        grad_beta = torch.cat([V.flatten(1), U.flatten(1)], -1)        # (b, N): dbeta_{i(p)}/ds_p
        Gfull = G.repeat_interleave(self.k, 1).repeat_interleave(self.k, 2).repeat(1, 2, 2)
        mvec = grad_beta  # F_p = -c * mvec_p * g_{i(p)}
        J = -self.c * (mvec.unsqueeze(-1) * Gfull * grad_beta.unsqueeze(-2))
        half = self.d * self.k
        gk = g.repeat_interleave(self.k, 1)  # (b, d*k)
        eye = torch.arange(half, device=s.device)
        J[:, eye, eye + half] += -self.c * gk
        J[:, eye + half, eye] += -self.c * gk
        return J

    def curvature(self, s):
        U, V = self._split(s)
        k = (U * U + V * V).sum(-1)
        K = torch.bmm(self.X * k.unsqueeze(1), self.X.transpose(1, 2))
        return self.c * torch.linalg.eigvalsh(K)[:, -1]

    def invariant_drift(self, s):
        U, V = self._split(s)
        return ((U * U - V * V) - self.inv0).flatten(1).abs().amax(-1) / self.inv_scale

    def weights(self, s):
        return self._split(s)
