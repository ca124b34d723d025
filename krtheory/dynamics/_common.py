"""Argument handling shared by the dynamics entry points (validation, device, loss constants).

Only :mod:`krtheory._validation` is imported from the package: the engine is the independent
witness of the theory and must not see the derived closed forms (docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch

from krtheory._validation import InvalidInputError, as_problem, check_depth

LOSSES = ("sum", "half", "mean")


def loss_constant(loss: str, n: int) -> float:
    """Return ``c`` with ``dL/dbeta = c * X^T r`` for the named normalization.

    ``"sum"``: ``L = sum r^2`` (paper, c = 2); ``"half"``: ``L = 0.5 sum r^2`` (c = 1);
    ``"mean"``: ``L = sum r^2 / n`` (c = 2/n). Time in results is in the units of this ``L``:
    the three flows are the same curve with time rescaled by ``c``.
    """
    if loss not in LOSSES:
        raise InvalidInputError(f"loss must be one of {LOSSES}, got {loss!r}")
    return {"sum": 2.0, "half": 1.0, "mean": 2.0 / n}[loss]


def loss_value(rr: torch.Tensor, loss: str, n: int) -> torch.Tensor:
    """``L`` from ``rr = sum_k r_k^2`` (any shape)."""
    return {"sum": rr, "half": 0.5 * rr, "mean": rr / n}[loss]


def resolve_device(device) -> torch.device:
    """``None`` -> CUDA when available, else CPU; a string or ``torch.device`` is used as given."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, (str, torch.device)):
        raise InvalidInputError(f"device must be a string like 'cpu' or 'cuda:0' (or None), got {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"device {device!r} is not a valid torch device ({exc})") from None
    # The engine needs float64 kernels, data-dependent indexing (nonzero) and the batched LAPACK
    # routines: only CPU and CUDA provide all three ("mps" has no float64, "meta" no values).
    if dev.type not in ("cpu", "cuda"):
        raise InvalidInputError(f"device {device!r} is not supported: use 'cpu', 'cuda' or 'cuda:N' (or None)")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidInputError(f"device {device!r} requested but CUDA is not available")
        # TF32 would silently reduce matmuls to ~10 bits of mantissa: never for a float64 witness,
        # and not for float32 runs either.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return dev


def check_dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float64, torch.float32):
        raise InvalidInputError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
    return dtype


@dataclass(frozen=True)
class Problem:
    """Validated, batched problem data (always with a leading batch axis)."""

    X: torch.Tensor          # (B, n, d)
    y: torch.Tensor          # (B, n)
    log_alpha: torch.Tensor  # (B,)
    depth: float
    batched: bool
    B: int
    n: int
    d: int
    X64: np.ndarray | None = None  # the validated float64 input (B, n, d), before any dtype cast
    y64: np.ndarray | None = None


def _is_tensor(a) -> bool:
    return isinstance(a, torch.Tensor)


def _real_array(value, name: str, what: str) -> np.ndarray:
    """``value`` as float64 without coercing strings, booleans or complex numbers (as the solvers)."""
    arr = np.asarray(value)
    if arr.dtype.kind == "O" and all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_))
                                     for v in arr.ravel()):
        arr = arr.astype(np.float64)  # an object array holding only real numbers
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise InvalidInputError(f"{name} must be {what}, got {value!r}")
    return arr.astype(np.float64)


def prepare_problem(X, y, alpha, depth, *, device, dtype, log_alpha=None) -> Problem:
    """Validate ``X``, ``y``, ``alpha`` (or ``log_alpha``) and ``depth``; move them to ``device``.

    ``X``: ``(n, d)`` or ``(B, n, d)``; ``y``: ``(n,)`` or ``(B, n)``; ``alpha``: a positive
    finite scalar or an array of shape ``(B,)`` (a batch is formed by broadcasting a single
    problem over several alphas when ``X`` is 2-D and ``alpha`` is 1-D). ``log_alpha`` replaces
    ``alpha`` for scales outside the float range (e.g. ``alpha = 1e-400``).
    """
    Xn, yn = as_problem(X, y, batched=True)
    D = check_depth(depth)
    if (alpha is None) == (log_alpha is None):
        raise InvalidInputError("give exactly one of alpha (> 0) or log_alpha")
    if alpha is not None:
        if _is_tensor(alpha):
            alpha = alpha.detach().cpu().numpy()
        a = _real_array(alpha, "alpha", "a positive real number or a 1-D array of them")
        if a.ndim > 1:
            raise InvalidInputError(f"alpha must be a scalar or a 1-D array of shape (B,), got shape {a.shape}")
        if not np.all(np.isfinite(a)) or not np.all(a > 0):
            bad = a[~(np.isfinite(a) & (a > 0))].ravel()[:3]
            raise InvalidInputError(f"alpha must be finite and > 0, got {bad.tolist()}")
        la = np.log(a)
    else:
        if _is_tensor(log_alpha):
            log_alpha = log_alpha.detach().cpu().numpy()
        la = _real_array(log_alpha, "log_alpha", "a real number or a 1-D array of them")
        if la.ndim > 1 or not np.all(np.isfinite(la)):
            raise InvalidInputError(f"log_alpha must be finite, scalar or shape (B,), got {log_alpha!r}")
    batched = Xn.ndim == 3 or la.ndim == 1
    if Xn.ndim == 2:
        Xn, yn = Xn[None], yn[None]
    B = Xn.shape[0]
    if la.ndim == 1:
        if B == 1 and la.shape[0] > 1:
            B = la.shape[0]
            Xn = np.broadcast_to(Xn, (B,) + Xn.shape[1:])
            yn = np.broadcast_to(yn, (B,) + yn.shape[1:])
        elif la.shape[0] != B:
            raise InvalidInputError(f"alpha has {la.shape[0]} values but there are {B} problems")
    la = np.broadcast_to(la, (B,))
    n, d = Xn.shape[1], Xn.shape[2]
    dev = device
    Xt = torch.as_tensor(np.array(Xn), dtype=dtype, device=dev)
    yt = torch.as_tensor(np.array(yn), dtype=dtype, device=dev)
    lt = torch.as_tensor(np.array(la), dtype=torch.float64, device=dev).to(dtype)
    return Problem(Xt, yt, lt, D, batched, B, n, d, np.asarray(Xn), np.asarray(yn))


def prepare_init(init, prob: Problem, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the log-scales ``(log u, log v)`` of the initialization, each ``(B, d)``.

    ``init=None`` is the unbiased ``w+(0) = w-(0) = alpha * 1``; ``init=(u, v)`` gives
    ``w+(0) = alpha * u``, ``w-(0) = alpha * v`` with ``u, v > 0`` of shape ``(d,)`` or ``(B, d)``.
    """
    B, d = prob.B, prob.d
    if init is None:
        z = torch.zeros(B, d, dtype=dtype, device=device)
        return z, z.clone()
    if not isinstance(init, (tuple, list)) or len(init) != 2:
        raise InvalidInputError("init must be None or a pair (u, v) of positive arrays")
    out = []
    for name, a in zip(("u", "v"), init):
        if _is_tensor(a):
            a = a.detach().cpu().numpy()
        try:
            arr = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(f"init {name} must be a real array") from None
        if arr.shape not in ((d,), (B, d)):
            raise InvalidInputError(f"init {name} must have shape ({d},) or ({B}, {d}), got {arr.shape}")
        if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
            raise InvalidInputError(f"init {name} must be finite and > 0 (w+- stay positive), got min {arr.min()!r}")
        out.append(torch.as_tensor(np.log(np.broadcast_to(arr, (B, d)).copy()), dtype=dtype, device=device))
    return out[0], out[1]


def check_positive(value, name: str, *, allow_inf: bool = False, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
    v = float(value)
    if math.isnan(v) or v <= 0 or (math.isinf(v) and not allow_inf):
        raise InvalidInputError(f"{name} must be {'> 0' if allow_inf else 'finite and > 0'}, got {value!r}")
    if integer:
        if math.isinf(v):
            return v
        if v != int(v):
            raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
        return int(v)
    return v


def check_choice(value, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInputError(f"{name} must be one of {allowed}, got {value!r}")
    return value


class torch_threads:
    """Context manager: run with ``n`` intra-op CPU threads, restoring the previous setting.

    The engine's tensors are small (a batch of n x d problems); its cost is per-operation latency,
    not arithmetic. Measured on the 2-core CI machine under load from other processes: one
    ``exp`` of 20,000 doubles took 50 us with 1 thread and 16 ms with 2 (the OpenMP workers wait
    for cores held by other processes), so the default is 1. ``None`` leaves torch's setting.
    """

    def __init__(self, n):
        self.n = n
        self.prev = None

    def __enter__(self):
        if self.n is not None:
            self.prev = torch.get_num_threads()
            if self.prev != self.n:
                torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.prev is not None and torch.get_num_threads() != self.prev:
            torch.set_num_threads(self.prev)
        return False


def check_threads(threads):
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInputError(f"threads must be a positive integer or None, got {threads!r}")
    return threads


# Data scales the float64 flow represents with room to spare: ||y||^2, ||X||^2 ||beta||, the loss
# at tol = 1e-30 and the Gram products X^T X beta all stay within [1e-250, 1e250] when ||X||_2 and
# ||y|| lie in this window (and beta* ~ ||y|| / ||X|| then too).
SCALE_MIN, SCALE_MAX = 1e-50, 1e50
_SCALE_HINT = ("rescale the data first (multiply by a power of 2 so nothing rounds): the flow is scale "
               "covariant, beta_alpha(c X, y) = beta_alpha(X, y / c) with time t / c^2, and "
               "beta_alpha(X, s y) = s beta_{alpha s^(-1/D)}(X, y) with time t s^(2/D - 2)")


def safe_norm(a: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis ``(B,)`` without overflow or underflow of the squares."""
    m = np.abs(a).max(axis=-1, keepdims=True)
    ms = np.where(m > 0, m, 1.0)
    return m[..., 0] * np.sqrt(((a / ms) ** 2).sum(-1))


def safe_spectral_norm(X: np.ndarray) -> np.ndarray:
    """``||X_b||_2`` for ``X (B, n, d)``, computed on ``X_b / max|X_b|`` (no SVD failure at 1e150)."""
    m = np.abs(X).reshape(X.shape[0], -1).max(-1)
    ms = np.where(m > 0, m, 1.0)
    return m * np.linalg.norm(X / ms[:, None, None], ord=2, axis=(-2, -1))


def check_data_scale(prob: Problem) -> None:
    """Refuse data whose scale the float64 dynamics cannot represent (InvalidInputError).

    ``||X||_2`` and ``||y||`` (each when nonzero) must lie in [SCALE_MIN, SCALE_MAX]; outside it
    the squared loss, the stopping threshold ``tol ||y||^2`` or the Gram products under/overflow
    and a run would report a fit it never made. The message names the remedy (exact rescaling).
    """
    yn = safe_norm(prob.y64)
    xn = safe_spectral_norm(prob.X64)
    for name, v in (("||y||", yn), ("||X||_2", xn)):
        bad = (v > 0) & ((v < SCALE_MIN) | (v > SCALE_MAX))
        if bool(bad.any()):
            b = int(np.nonzero(bad)[0][0])
            raise InvalidInputError(
                f"{name} = {v[b]:.3e}{f' (problem {b})' if prob.batched else ''} is outside "
                f"[{SCALE_MIN:.0e}, {SCALE_MAX:.0e}], where the float64 flow cannot represent its loss; {_SCALE_HINT}")


def check_alpha_scale(prob: Problem) -> None:
    """Refuse ``alpha^D`` (times ``||X||_2``) above the float range (InvalidInputError).

    Small alpha is fine in log coordinates (``alpha^D`` may underflow; the weights are stored by
    their logs), but the initial products ``w+-^D = alpha^D`` of a large alpha overflow in any
    coordinates: ``log_alpha`` cannot help there.
    """
    la = prob.log_alpha.detach().cpu().numpy().astype(np.float64)
    xn = safe_spectral_norm(prob.X64)
    logA = prob.depth * la + np.log(np.where(xn > 0, xn, 1.0))
    bad = logA > 600.0  # exp(709.8) is the float64 maximum; keep room for the flow's products
    if bool(bad.any()):
        b = int(np.nonzero(bad)[0][0])
        raise InvalidInputError(
            f"alpha^D ||X||_2 = exp({logA[b]:.1f}) (alpha = exp({la[b]:.1f}), D = {prob.depth:g}) overflows "
            "float64: the initial weights' products cannot be represented in any coordinates (log_alpha "
            "does not help for large alpha). Such an alpha is deep in the kernel regime: use "
            f"linearized_flow, or a smaller alpha on rescaled data ({_SCALE_HINT})")

