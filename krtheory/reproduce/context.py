"""Run context handed to an experiment: parameters, seed, device, progress and the point cache.

The cache makes long reproductions resumable: every finished point is written to
``DIR/<name>/cache/<key>.json`` atomically (temporary file + rename), keyed by a hash of the
experiment name and version and of everything that determines the point, so an interrupted run
recomputes only the unfinished points, and a run with other sizes or another seed never reuses a
stale one.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

__all__ = ["RunContext", "to_jsonable"]


def to_jsonable(obj):
    """Convert NumPy scalars/arrays, tuples and non-finite floats into plain JSON values.

    Non-finite floats become the strings "inf", "-inf", "nan" (JSON has no such numbers);
    :func:`from_jsonable` undoes that.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return obj


def from_jsonable(obj):
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    if obj in ("inf", "-inf", "nan"):
        return float(obj)
    return obj


@dataclass
class RunContext:
    """Everything an experiment's ``run`` needs.

    ``params`` are the validated size/setting parameters; ``seed`` an int (each experiment
    derives its generators from it with ``rng(tag)``, never from global state); ``device`` a
    torch device string or None (engine default); ``show_progress`` turns tqdm bars (stderr) on.
    ``stats`` counts cache hits and computed points, with the seconds spent computing points in
    this run (``compute_s``) and what the cached ones cost when computed (``cached_compute_s``).
    """

    name: str
    version: str
    out_dir: Path
    params: dict
    seed: int
    quick: bool
    device: str | None = None
    show_progress: bool = True
    stats: dict = field(default_factory=lambda: {"cached": 0, "computed": 0, "compute_s": 0.0,
                                                 "cached_compute_s": 0.0})

    @property
    def cache_dir(self) -> Path:
        return self.out_dir / "cache"

    def rng(self, *tag: int | str) -> np.random.Generator:
        """A generator seeded by ``(seed, *tag)``; strings are hashed stably (not ``hash()``)."""
        words = [int(self.seed) & 0xFFFFFFFF]
        for t in tag:
            if isinstance(t, str):
                words.append(int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little"))
            else:
                words.append(int(t) & 0xFFFFFFFF)
        return np.random.default_rng(words)

    def _key(self, kind: str, key: dict) -> str:
        payload = json.dumps(
            to_jsonable({"experiment": self.name, "version": self.version, "kind": kind, "key": key}),
            sort_keys=True,
        )
        return f"{kind}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}"

    def is_cached(self, kind: str, key: dict) -> bool:
        """Whether ``(kind, key)`` has a stored result (no statistics are counted)."""
        return (self.cache_dir / (self._key(kind, key) + ".json")).exists()

    def cached(self, kind: str, key: dict, compute: Callable[[], dict]) -> dict:
        """Return the cached result for ``(kind, key)`` or compute, store and return it.

        ``key`` must contain everything the result depends on (sizes, seed, alpha, depth, ...);
        ``compute()`` returns a JSON-serializable dict (NumPy arrays allowed). The stored copy
        records the compute time in ``"_seconds"``.
        """
        path = self.cache_dir / (self._key(kind, key) + ".json")
        if path.exists():
            try:
                value = from_jsonable(json.loads(path.read_text()))
                self.stats["cached"] += 1
                # what the cached point cost when it was computed (so reruns report honest totals)
                self.stats["cached_compute_s"] += float(value.get("_seconds", 0.0))
                return value
            except (OSError, json.JSONDecodeError):
                pass  # a corrupt file (e.g. disk full at write time) is recomputed
        t0 = time.perf_counter()
        value = compute()
        seconds = time.perf_counter() - t0
        value = dict(value)
        value["_seconds"] = seconds
        self.stats["computed"] += 1
        self.stats["compute_s"] += seconds
        self._store(path, value)
        return from_jsonable(to_jsonable(value))

    def _store(self, path: Path, value: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(to_jsonable(value), fh)
        os.replace(tmp, path)

    def progress(self, iterable: Iterable, *, desc: str, total: int | None = None):
        """Wrap ``iterable`` in a tqdm bar on stderr (or return it unchanged without progress)."""
        if not self.show_progress:
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=f"{self.name}: {desc}", total=total, file=sys.stderr,
                    leave=False, dynamic_ncols=True)
