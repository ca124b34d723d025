"""Interpolation solvers: the implicit-bias minimizer (dual Newton), min-l1 (HiGHS LP), min-l2.

All solvers return an :class:`InterpolationResult` (scipy.optimize-like, frozen).

The implicit-bias solver minimizes ``Q_alpha^D(beta) = alpha^D sum_i q_D(beta_i / alpha^D)``
subject to ``X beta = y`` (THEORY.md s2, s4) through its n-dimensional dual

    F(nu) = alpha^D sum_i H_D((X^T nu)_i) - <nu, y>,      beta(nu) = alpha^D h_D(X^T nu),

(``H_D = q_D^*``, ``h_D = H_D'``; for D > 2 the domain is ``|X^T nu| < 1``).  ``grad F(nu) =
X beta(nu) - y`` and ``hess F(nu) = X diag(alpha^D h_D'(X^T nu)) X^T``, so a damped Newton
iteration on ``nu`` drives the primal residual to zero while stationarity of the primal
(``q_D'(beta_i / alpha^D) = (X^T nu)_i``) holds by construction.  For D = 2 every quantity is
formed in log space, ``beta_i = sign(u_i) exp(|u_i| + 2 log alpha) (1 - exp(-2|u_i|))``, so
``log_alpha = -1000`` (alpha = e^-1000, far below the float range) is an ordinary input.

Globalization (:mod:`krtheory.solvers.newton`): the start point is the exact minimizer of F along
the ray through the min-l2 dual (a 1-D monotone root, found in log space), then damped Newton
steps with a domain/size limit (``|X^T delta| <= 30`` for D = 2; 1% inside ``|u| < 1`` for D > 2)
and Armijo backtracking on F, or on ``||grad F||`` where F itself is only known to
``eps |<nu, y>|``.  The Hessian weights are normalized by their maximum before the solve, which
is a Jacobi-scaled, 1e-13-ridged linear solve (eigen pseudo-inverse as fallback), so that
singular Hessians (support smaller than n at tiny alpha, dependent rows) give damped steps.
The iteration stops at ``||X beta - y|| <= tol ||y||`` (plus at most two polishing steps) or
when it stalls at the rounding floor that rounding ``u = X^T nu`` alone causes; the best
iterate is returned and ``success`` says which (never a NaN in ``x``).

Near the edge (D > 2, ``1 - max|u| < 1e-3`` after the direct iteration) the point is polished in
the edge variable (``_EdgeModel``): ``nu = nu_1 + delta`` with ``r_i = 1 - s_i x_i^T nu_1`` formed once
in twice the working precision (Dot2) on the near-edge set, ``e_i = r_i - s_i x_i^T delta`` exact
in relative terms, and Newton steps from a QR factorization of ``W^(1/2) X^T`` (the weights span
~e^-(p+1), so the explicitly formed Hessian would lose the step).  ``info["edge_refined"]``.
This removes the ``eps / (1 - |u|)`` loss of the plain iteration (D = 3, alpha = 1e-4 on the shared
cases: 4e-11 -> 2e-13 relative).

Normalization (every solver): the problem is first scaled exactly by powers of two,
``X = 2^a Xn``, ``y = 2^b yn`` with ``max|Xn|, max|yn|`` in [1/2, 1) (``info["log2_scale_X"]``,
``info["log2_scale_y"]``), and solved there: ``X beta = y`` iff ``Xn (2^(a-b) beta) = yn``, and
for the implicit bias ``beta_alpha(Xn, s yn) = s beta_{alpha s^(-1/D)}(Xn, yn)`` (THEORY.md s3
scale covariance), so the normalized solve runs at ``log_alpha - (b - a) log 2 / D``
(``info["solved_log_alpha"]``); D = 2 shaped potential: ``c -> c 2^(a-b)``; min-l1/l2 need no
alpha.  Back: ``beta = 2^(b-a) beta_n``; the dual keeps ``X^T nu`` (``nu = 2^-a nu_n``; min-l2:
``2^(b-2a) nu_n``).  Residuals are scale-free and computed on the normalized problem, where no norm
overflows (``y * 1e170``, ``X * 1e-200``, ``X * 1e150`` for the LP are ordinary inputs).  A
minimizer that itself overflows float64 raises InvalidInputError; a dual that overflows (x
fine) is returned as ``dual = None`` with ``info["dual_normalized"]`` and ``info["dual_log2_scale"]``.

Final check (:class:`InterpolationResult` constructor): a result with a non-finite ``x``
(entries replaced by 0), residual or dual cannot claim success; ``success`` becomes False and
the message names the quantity (NaN residuals are stored as inf).

D -> 2: every D > 2 works down to the smallest float above 2 (p = D / (D - 2) up to 4.5e15):
the power-link pieces are formed in logs (no sinh/cosh/2^p overflow), the kernel-side switch
uses the nonlinearity scale ``(p + 1) max|u|``, and the result tends to the D = 2 one at rate
O(D - 2).  At extreme small alpha next to D = 2 (e.g. D - 2 = 1e-10, log_alpha = -1e9) the
power link loses resolution in u (rounding floor ~ eps p |u|, reported as such).

Modules: ``result`` (InterpolationResult), ``minnorm`` (min-l1, min-l2), ``models`` (the dual
potentials in log space), ``newton`` (the iteration), ``implicit`` (regimes and the public
implicit-bias / shaped-potential entry points).

Regimes (``info["regime"]``):

* ``"newton"``: the dual Newton iteration above.
* ``"asymptotic-l2"`` (any D): when the kernel-side dual ``|X^T nu| ~ |beta_l2| / (alpha^D
  h_D'(0))``, times ``p + 1`` for D > 2, is below e^-30 (e.g. log_alpha = 1000), the minimizer
  equals the min-l2 interpolator to relative O(((p + 1) u)^2) < 1e-26 and is returned as such
  (``info["model_error"]``);
  ``dual`` is scaled in log space (it underflows to 0 far out; ``info["log_dual_scale"]``).
* ``"asymptotic-l1"``, D = 2: for ``log_alpha < -100`` the solver writes ``nu = L nu_1 + mu``
  (``L = -2 log alpha``, ``nu_1`` the max-margin certificate, tight on S) and solves the exact
  limit ``beta_i = s_i exp(s_i x_i^T mu)`` on S (the entropy-like tie-break on the l1 face); it
  is used when its error bound ``max(e^-2L, e^(-L margin + max|x_i^T mu|) / ||beta||_inf)`` is
  below eps (``info["model_error"]``), so ``log_alpha = -1e6`` works; otherwise the log-space
  Newton above (which handles ``log_alpha = -1000`` itself, to ~eps * 2000 relative).
* ``"asymptotic-l1"``, D > 2: where the support's edge variable ``e_i = 1 - |u_i|`` is
  so small that rounding ``u`` next to 1 costs more than the limit model (``e < edge_switch(D) =
  0.1 (eps 2^p)^(1/(p+1))``: 2e-5 for D = 3, 1e-6 for D = 4; and always once e would leave the
  float range), the solver writes ``nu = nu_1 + alpha^(D-2) mu`` with ``nu_1`` the max-margin
  dual certificate of the min-l1 LP, tight (``s_i x_i^T nu_1 = 1``) on a set S, and solves the
  limit problem for ``mu`` exactly: ``beta_i = s_i eta_i^(-p)``, ``eta_i = -s_i x_i^T mu > 0`` on
  S, ``sum_S s_i eta_i^(-p) x_i = y`` (the alpha -> 0 limit of ``alpha^D h_D(1 - alpha^(D-2) eta)``;
  a convex dual, the maximizer of ``sum_S |beta_i|^(2/D)`` on the l1-optimal face).  Coordinates
  off S are set to 0.  Relative error of this model: ``(e / min(2, margin))^p`` with e the
  realized edge (``info["model_error"]``); there ``Q_alpha^D(beta) = ||beta||_1`` to float
  precision.  It also breaks ties on a non-unique LP face the way every ``Q_alpha`` does
  (duplicated columns: the equal split).  ``info["log_edge"]`` keeps edges below 1e-308.
  Where the realized edge is just above ``edge_switch(D)`` (the limit model is rejected) and the
  direct Newton from the ray start does not converge in ``max_iter`` steps (small certificate
  margin: the support is sorted out slowly), the direct Newton is re-run from the limit point's
  dual; the result is then regime ``"newton"`` as usual (message says so).

KKT residual (all solvers): ``kkt_residual = max(primal_residual, stationarity_residual)``,
where ``primal_residual = ||X x - y||_2 / ||y||_2`` (``= ||grad F(nu)|| / ||y||``, the dual
gradient norm relative to y) and ``stationarity_residual`` measures the other KKT condition
a posteriori from the *returned* ``x`` and ``dual``:

* implicit bias: ``max_i |q_D'(x_i / alpha^D) - (X^T nu)_i| / max(1, ||X^T nu||_inf)``, evaluated in
  log space for D = 2 and in the edge variable for D > 2, over coordinates whose ``x_i`` is a
  normal float (an underflowed ``x_i`` is within 1e-308 of its exact value);
* min-l1: the relative duality gap ``|(||x||_1 - <lambda, y>)| / ||x||_1`` and the dual
  infeasibility ``max(0, ||X^T lambda||_inf - 1)``;
* min-l2: ``||x - X^T nu|| / ||x||``.
"""
from __future__ import annotations

from .implicit import edge_switch, implicit_bias_solution, shaped_potential_solution
from .minnorm import min_l1_interpolator, min_l2_interpolator
from .result import InterpolationResult

__all__ = [
    "InterpolationResult",
    "implicit_bias_solution",
    "shaped_potential_solution",
    "min_l1_interpolator",
    "min_l2_interpolator",
    "edge_switch",
]
