"""Array back ends: one namespace of elementwise operations for NumPy and one for torch.

The numerically stable formulas of :mod:`krtheory.numeric.expressions` are compiled once into
Python source that calls ``F.<name>(...)``; ``F`` is one of the two namespaces below, so the same
generated code runs on NumPy arrays and on torch tensors (CPU or CUDA, differentiable).

Conversions follow docs/ARCHITECTURE.md: NumPy (or Python numbers) in -> NumPy float64 out (a 0-d
input gives a ``numpy.float64`` scalar); torch in -> torch out with the input's dtype and device.
All arithmetic is done in float64 (a float32 tensor is promoted and the result cast back).
"""
from __future__ import annotations

import math
import sys
from fractions import Fraction

import numpy as np

from .._validation import InvalidInputError



class _LazyTorch:
    """``torch``, imported on first attribute access (importing torch costs seconds; NumPy-only
    users of krtheory.numeric never pay it: a tensor argument implies torch is already loaded)."""

    def __getattr__(self, item):
        import torch as _t

        return getattr(_t, item)


torch = _LazyTorch()

__all__ = ["is_tensor", "prepare", "finish", "NP", "TORCH", "backend_of", "split_double"]


def is_tensor(x) -> bool:
    t = sys.modules.get("torch")
    return t is not None and isinstance(x, t.Tensor)


def split_double(value: Fraction) -> tuple[float, float]:
    """Return ``(hi, lo)`` floats with ``hi + lo`` equal to the exact rational ``value`` to ~1e-32.

    Used for the exponents ``p = D/(D-2)`` etc.: ``x ** p`` with ``|log x|`` up to 745 amplifies the
    rounding of ``p`` by ``|p log x|`` ulps, so large powers are evaluated as
    ``x**hi * exp(lo * log x)`` (see ``powdd``).
    """
    hi = float(value)
    lo = float(value - Fraction(hi))
    return hi, lo


class _NumpyOps:
    """Elementwise operations on float64 NumPy arrays (names as printed by ``_codegen``)."""

    name = "numpy"
    sinh = staticmethod(np.sinh)
    cosh = staticmethod(np.cosh)
    tanh = staticmethod(np.tanh)
    asinh = staticmethod(np.arcsinh)
    atanh = staticmethod(np.arctanh)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    sqrt = staticmethod(np.sqrt)
    hypot = staticmethod(np.hypot)
    abs = staticmethod(np.abs)
    Abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    isfinite = staticmethod(np.isfinite)

    @staticmethod
    def powdd(x, hi, lo):
        # x**(hi + lo) with the exponent in double-double (see split_double).
        return np.power(x, hi) * np.exp(lo * np.log(x))

    @staticmethod
    def full_like(x, value):
        return np.full_like(x, value, dtype=np.float64)

    @staticmethod
    def any(mask) -> bool:
        return bool(np.any(mask))

    @staticmethod
    def all(mask) -> bool:
        return bool(np.all(mask))


class _TorchOps:
    """Elementwise operations on torch tensors (float64); all differentiable by autograd."""

    name = "torch"

    def __getattr__(self, item):  # sinh, cosh, asinh, atanh, exp, expm1, log, log1p, sqrt, ...
        fn = getattr(torch, item)
        scalar = getattr(math, item, None)
        if scalar is None:
            return fn

        def dispatch(x, *rest):
            # the generated code also applies functions to the Python-float parameters (log p)
            if not isinstance(x, torch.Tensor) and not rest:
                return scalar(x)
            return fn(x, *rest)

        return dispatch

    @staticmethod
    def Abs(x):
        return torch.abs(x)

    @staticmethod
    def hypot(a, b):
        # torch.hypot wants two tensors; the generated code writes constants such as hypot(2, z).
        if not isinstance(a, torch.Tensor):
            a = torch.as_tensor(float(a), dtype=b.dtype, device=b.device)
        if not isinstance(b, torch.Tensor):
            b = torch.as_tensor(float(b), dtype=a.dtype, device=a.device)
        return torch.hypot(a, b)

    @staticmethod
    def powdd(x, hi, lo):
        return torch.pow(x, hi) * torch.exp(lo * torch.log(x))

    @staticmethod
    def where(mask, a, b):
        if not isinstance(a, torch.Tensor):
            a = torch.as_tensor(a, dtype=b.dtype if isinstance(b, torch.Tensor) else torch.float64,
                                device=mask.device)
        if not isinstance(b, torch.Tensor):
            b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
        return torch.where(mask, a, b)

    @staticmethod
    def full_like(x, value):
        return torch.full_like(x, value)

    @staticmethod
    def any(mask) -> bool:
        return bool(mask.any())

    @staticmethod
    def all(mask) -> bool:
        return bool(mask.all())


NP = _NumpyOps()
TORCH = _TorchOps()


def backend_of(x):
    return TORCH if is_tensor(x) else NP


def prepare(x, name: str):
    """Validate ``x`` (finite, real) and return ``(x64, restore)``.

    ``x64`` is a float64 NumPy array or a float64 tensor on the input's device; ``restore(out)``
    converts a result back to the caller's type (NumPy float64 scalar for 0-d input, the input
    dtype for tensors). Non-finite entries raise :class:`InvalidInputError` naming ``name``:
    the functions are defined on finite floats only and must never return NaN silently.
    """
    if is_tensor(x):
        if x.is_complex():
            raise InvalidInputError(f"{name} must be real, got a complex tensor")
        dtype = x.dtype
        x64 = x if dtype == torch.float64 else x.to(torch.float64)
        if not bool(torch.isfinite(x64).all()):
            bad = int((~torch.isfinite(x64)).sum())
            raise InvalidInputError(f"{name} has {bad} non-finite entr{'y' if bad == 1 else 'ies'} (NaN or inf)")
        out_dtype = dtype if dtype.is_floating_point else torch.float64

        def restore(out):
            return out if out.dtype == out_dtype else out.to(out_dtype)

        return x64, restore
    try:
        arr = np.asarray(x)
        if np.iscomplexobj(arr):
            raise TypeError("complex input")
        arr = arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a real numeric array ({exc})") from None
    if not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise InvalidInputError(f"{name} has {bad} non-finite entr{'y' if bad == 1 else 'ies'} (NaN or inf)")

    def restore_np(out):
        out = np.asarray(out, dtype=np.float64)
        return out[()] if out.ndim == 0 else out

    return arr, restore_np


def finish(out, restore):
    return restore(out)


def fraction_of(x: float) -> Fraction:
    if not math.isfinite(x):
        raise InvalidInputError(f"expected a finite number, got {x!r}")
    return Fraction(x)
