"""Result objects of the dynamics engine (frozen dataclasses holding NumPy arrays)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FlowResult:
    """Outcome of :func:`gradient_flow`, :func:`width_flow` or :func:`gradient_descent`.

    Shapes carry a leading batch axis ``B`` iff the input was batched (``X`` 3-D or ``alpha`` 1-D);
    otherwise vectors are ``(d,)`` and scalars are Python/NumPy scalars. All float64 NumPy.

    beta : (B, d)             predictor at the end of the run
    w_plus, w_minus : (B, d)  final weights (for the width model: ``U``, ``V`` of shape (B, d, k))
    log_w_plus, log_w_minus : (B, d) natural logs of the weights (exact even where ``w``
                              under/overflows, e.g. ``alpha = 1e-200`` at D = 4); None for width
    loss : (B,)               final loss in the chosen normalization (``loss_normalization``)
    time : (B,)               time reached, in the units of that loss (GD: steps * step_size)
    steps, rejected, nfev, njev : (B,) accepted / rejected steps, function and Jacobian evaluations
    status : (B,) str         "converged" | "stagnated" | "time-limit" | "step-limit" | "diverged"
                              | "step-underflow" | "plateau" (loss and state stalled above the
                              floor, e.g. y slightly outside range(X); not a success)
    success : (B,) bool       converged, or stagnated at the float rounding floor of the loss
                              (a floor estimate below 1e-3 ||y||)
    message : (B,) str        human-readable reason with the numbers
    invariant_drift : (B,)    max over coordinates of the relative change of the flow invariant
                              (D = 2: ``w+ w-``; D > 2: ``w+^(2-D) + w-^(2-D)``; width:
                              ``U^2 - V^2`` relative to ``max(U0^2 + V0^2)``). For the flow it is
                              an accuracy witness (0 in exact arithmetic); GD does not conserve it.
    rate : (B,)               measured ``-d log L/dt`` over the last third of the history (0.0
                              when undefined); a slowly converging run reports its rate here
    history : (times, losses) per problem (lists of 1-D arrays when batched), <= ``history`` points
    method : (B,) str         "dopri5", "ros2" or "dopri5+ros2" (switched at ``stiff_time``), "gd"
    stiff_time : (B,)         time of the switch to the stiff method (-1.0 if never)
    coordinates : str, loss_normalization : str, device : str, depth : float
    alpha : (B,)              initialization scale (``exp(log_alpha)``), log_alpha : (B,)
    step_size : (B,) or None  GD only: the step used
    gd_product : (B, d) or None  GD only: end-of-run ``w+ * w-`` (THEORY.md s9)
    tol : float               the relative loss tolerance (stop at ``||r||^2 <= tol ||y||^2``)
    """

    beta: np.ndarray
    w_plus: np.ndarray
    w_minus: np.ndarray
    log_w_plus: np.ndarray | None
    log_w_minus: np.ndarray | None
    loss: Any
    time: Any
    steps: Any
    rejected: Any
    nfev: Any
    njev: Any
    status: Any
    success: Any
    message: Any
    invariant_drift: Any
    rate: Any
    history: Any
    method: Any
    stiff_time: Any
    coordinates: str
    loss_normalization: str
    device: str
    depth: float
    alpha: Any
    log_alpha: Any
    tol: float
    step_size: Any = None
    gd_product: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def converged(self):
        """Alias of ``success``."""
        return self.success


@dataclass(frozen=True)
class LinearizedResult:
    """The kernel (lazy) model's flow, solved exactly (see :func:`linearized_flow`).

    times : (T,)              the requested times (units of the chosen loss)
    beta : (B, T, d)          linearized predictor ``beta(w0) + dbeta/dw(w0) (w_lin(t) - w0)``
    delta_plus, delta_minus : (B, T, d)  ``w_lin/w0 - 1`` (relative weight movement)
    loss : (B, T)             loss of the linearized model along its flow
    beta_limit : (B, d)       its t -> infinity limit (``X^+ y`` for unbiased init)
    delta_limit_plus, delta_limit_minus : (B, d)
    kernel : (B, n, n)        ``K = J J^T`` at initialization, ``J = grad_w f(w0, x_k)``
    eigenvalues : (B, n)      of ``c K`` (the decay rates of the residual)
    """

    times: np.ndarray
    beta: np.ndarray
    delta_plus: np.ndarray
    delta_minus: np.ndarray
    loss: np.ndarray
    beta_limit: np.ndarray
    delta_limit_plus: np.ndarray
    delta_limit_minus: np.ndarray
    kernel: np.ndarray
    eigenvalues: np.ndarray
    loss_normalization: str
    depth: float


@dataclass(frozen=True)
class LazyDistance:
    """Laziness of the true flow relative to its linearization (THEORY.md s5); ``(B,)`` each.

    movement       ``||w(T) - w(0)|| / ||w(0)||`` at the end of the run (T = stop time)
    kernel_change  ``max_t ||K(t) - K(0)||_F / ||K(0)||_F``
    kernel_change_end  the same at the end of the run
    trajectory_gap ``max_t ||w(t) - w_lin(t)|| / ||w(0)||``, over the accepted steps of the flow
    flow           the :class:`FlowResult` of the true run
    gap_history    ``(times, gaps)`` of that distance at every accepted step (t = 0 first); a list
                   of such pairs when batched
    """

    movement: Any
    kernel_change: Any
    kernel_change_end: Any
    trajectory_gap: Any
    flow: FlowResult
    gap_history: Any = None
