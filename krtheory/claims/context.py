"""The run context: device, seed, and caches shared between claims.

Several claims look at the same flow (T1, scale covariance and the lazy-training rates all
integrate ``(X, y, alpha, D)`` for the same default problems), so every expensive computation goes
through :meth:`RunContext.memo`, keyed by the problem's content hash and the parameters.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

__all__ = ["RunContext", "default_device"]


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # pragma: no cover - torch is a dependency
        return "cpu"


@dataclass
class RunContext:
    """Mutable per-run state (not a result object): caches and counters.

    Attributes:
        device: torch device string for the dynamics.
        seed: the run's seed (default examples and hypothesis searches derive from it).
        thorough: wider ranges / more examples requested.
    """

    device: str = field(default_factory=default_device)
    seed: int = 0
    thorough: bool = False
    _cache: dict = field(default_factory=dict, repr=False)
    seconds: dict = field(default_factory=dict, repr=False)
    hits: int = 0
    misses: int = 0

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the cached value for ``key``, computing (and timing) it on first use."""
        try:
            value = self._cache[key]
        except KeyError:
            self.misses += 1
            t0 = time.perf_counter()
            value = compute()
            kind = key[0] if isinstance(key, tuple) and key else "other"
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - t0
            self._cache[key] = value
            return value
        self.hits += 1
        return value

    def clear(self) -> None:
        self._cache.clear()
