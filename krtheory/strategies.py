"""Public hypothesis strategies: underdetermined problems, scales on a log axis, depths, init shapes.

These are the generators behind ``krtheory verify`` and :func:`krtheory.check`, and they are meant
for users' own test suites too (see ``examples/own_property_test.py``)::

    from hypothesis import given, settings
    from krtheory import strategies as kst

    @settings(deadline=None, max_examples=20)
    @given(kst.problems(n=(2, 5), d=(6, 12), sparsity=2), kst.alphas(1e-2, 1e2))
    def test_something(problem, alpha):
        ...

Every problem is produced by :func:`make_problem` from a seed and a handful of integers, so what
hypothesis shrinks is small (sizes, seed towards 0) and every drawn problem is reproducible from
``problem.spec`` alone: ``make_problem(**problem.spec)`` rebuilds the same ``X`` and ``y`` bit for
bit. Nothing here touches global random state.

Problem families (``kind``):
- ``"gaussian"``: ``X`` i.i.d. N(0, 1); ``beta*`` with ``sparsity`` nonzeros of random sign and
  size in [0.5, ~3]; ``y = X beta* + noise``.
- ``"paper"``: the data model of the paper's Fig. 1 (THEORY.md section 8): rows x ~ N(0, I_d),
  ``beta*`` r-sparse with entries 1/sqrt(r), ``y = <beta*, x> + N(0, noise^2)`` (paper: noise 0.1).
- ``condition=kappa`` (any kind): the singular values of ``X`` are replaced by a geometric ladder
  from ``sqrt(d)`` down to ``sqrt(d)/kappa``, keeping the random singular vectors.
- ``duplicate=k``: the last ``k`` columns are copies of the first ``k`` ones, so the min-l1
  interpolator is not unique (THEORY.md section 8, duplicated columns).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from hypothesis import strategies as st

from krtheory._validation import InvalidInputError, as_problem, check_depth, resolve_log_alpha

__all__ = [
    "Problem",
    "Instance",
    "make_problem",
    "problems",
    "alphas",
    "log_alphas",
    "depths",
    "init_shapes",
    "instances",
]

_KINDS = ("gaussian", "paper")


@dataclass(frozen=True, eq=False)
class Problem:
    """An underdetermined regression problem ``X beta = y``.

    Attributes:
        X: ``(n, d)`` float64, read-only, ``n < d``.
        y: ``(n,)`` float64, read-only, in the range of ``X``.
        beta_star: ``(d,)`` float64, the generating coefficient vector (``None`` for user data).
        spec: the keyword arguments of :func:`make_problem` that rebuild it (empty for user data).
    """

    X: np.ndarray
    y: np.ndarray
    beta_star: np.ndarray | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def seed(self) -> int | None:
        return self.spec.get("seed")

    @property
    def key(self) -> str:
        """A content hash of ``(X, y)``: equal data, equal key (used to share cached flows)."""
        h = hashlib.sha1()
        h.update(np.asarray(self.X.shape, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.X).tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
        return h.hexdigest()[:16]

    @classmethod
    def from_arrays(cls, X, y, beta_star=None, spec=None) -> "Problem":
        """Wrap user data (validated: finite, matching shapes, ``n < d`` not required)."""
        X, y = as_problem(X, y)
        X.setflags(write=False)
        y.setflags(write=False)
        if beta_star is not None:
            beta_star = np.array(beta_star, dtype=np.float64)
            beta_star.setflags(write=False)
        return cls(X, y, beta_star, dict(spec or {}))

    def scaled(self, c: float) -> "Problem":
        """The same ``X`` with targets ``c * y`` (used by the scale-covariance claim)."""
        spec = dict(self.spec)
        spec["y_scale"] = spec.get("y_scale", 1.0) * float(c)
        bs = None if self.beta_star is None else c * self.beta_star
        return Problem.from_arrays(self.X, c * self.y, bs, spec)

    def describe(self) -> dict:
        """JSON-able summary: sizes, generator spec, content key."""
        return {"n": self.n, "d": self.d, "key": self.key, "spec": dict(self.spec)}

    def __repr__(self) -> str:
        spec = ", ".join(f"{k}={v!r}" for k, v in self.spec.items() if k not in ("n", "d"))
        return f"Problem(n={self.n}, d={self.d}{', ' + spec if spec else ''})"


def make_problem(
    seed: int,
    n: int,
    d: int,
    *,
    kind: str = "gaussian",
    sparsity: int | None = None,
    condition: float | None = None,
    noise: float = 0.0,
    duplicate: int = 0,
    y_scale: float = 1.0,
) -> Problem:
    """Generate a reproducible underdetermined problem (see the module docstring for the families).

    Args:
        seed: seed of a fresh ``numpy.random.default_rng`` (the only randomness used).
        n, d: sizes, ``1 <= n < d``.
        kind: ``"gaussian"`` or ``"paper"``.
        sparsity: nonzeros of ``beta*`` (default ``min(n, d)`` for gaussian, 5 capped at n for paper).
        condition: if given (>= 1), the condition number of ``X``.
        noise: standard deviation of the additive target noise (y stays in range(X) since n < d).
        duplicate: number of duplicated columns (``2 * duplicate <= d``).
        y_scale: multiply ``y`` (and ``beta*``) by this.

    Returns: a :class:`Problem` with ``spec`` equal to these arguments.
    """
    for name, v in (("seed", seed), ("n", n), ("d", d), ("duplicate", duplicate)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InvalidInputError(f"{name} must be an integer, got {v!r}")
    if n < 1 or d <= n:
        raise InvalidInputError(f"need 1 <= n < d for an underdetermined problem, got n = {n}, d = {d}")
    if kind not in _KINDS:
        raise InvalidInputError(f"kind must be one of {_KINDS}, got {kind!r}")
    if duplicate < 0 or 2 * duplicate > d:
        raise InvalidInputError(f"duplicate must be in [0, d/2], got {duplicate} for d = {d}")
    if condition is not None and not (math.isfinite(condition) and condition >= 1):
        raise InvalidInputError(f"condition must be a finite number >= 1, got {condition!r}")
    if not (math.isfinite(noise) and noise >= 0):
        raise InvalidInputError(f"noise must be finite and >= 0, got {noise!r}")
    if not (math.isfinite(y_scale) and y_scale != 0):
        raise InvalidInputError(f"y_scale must be finite and nonzero, got {y_scale!r}")
    if sparsity is None:
        sparsity = min(5, n) if kind == "paper" else n
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, np.integer)) or not 1 <= sparsity <= d - duplicate:
        raise InvalidInputError(f"sparsity must be an integer in [1, d - duplicate], got {sparsity!r}")

    rng = np.random.default_rng(int(seed))
    X = rng.standard_normal((n, d))
    if condition is not None:
        U, _, Vt = np.linalg.svd(X, full_matrices=False)
        s = math.sqrt(d) * np.geomspace(1.0, 1.0 / condition, n) if n > 1 else np.array([math.sqrt(d)])
        X = (U * s) @ Vt
    free = d - duplicate
    support = np.sort(rng.choice(free, size=int(sparsity), replace=False))
    beta = np.zeros(d)
    if kind == "paper":
        beta[support] = 1.0 / math.sqrt(sparsity)
    else:
        beta[support] = rng.choice([-1.0, 1.0], size=sparsity) * (0.5 + np.abs(rng.standard_normal(sparsity)))
    if duplicate:
        X[:, d - duplicate:] = X[:, :duplicate]
    y = X @ beta
    if noise:
        y = y + noise * rng.standard_normal(n)
    y = y * y_scale
    spec = {"seed": int(seed), "n": int(n), "d": int(d), "kind": kind, "sparsity": int(sparsity),
            "condition": condition, "noise": float(noise), "duplicate": int(duplicate), "y_scale": float(y_scale)}
    return Problem.from_arrays(X, y, beta * y_scale, spec)


@dataclass(frozen=True, eq=False)
class Instance:
    """One input of a claim or a conjecture: a problem, an initialization scale, a depth, extras.

    The scale is held as ``log_alpha`` (natural log) so that scales outside the float range (the
    rich bound of Theorem 2 asks for alpha ~ exp(-1000)) are representable; ``alpha`` is
    ``exp(log_alpha)`` when that is a normal float, else ``None``.

    Attributes:
        problem: the :class:`Problem` (``None`` for claims about the potential alone).
        depth: ``D >= 2``.
        log_alpha: natural log of the initialization scale (``None`` when irrelevant).
        params: claim-specific extras (epsilon, step sizes, init shapes, z grids ...).
        label: a short human-readable name.
    """

    problem: Problem | None = None
    depth: float = 2.0
    log_alpha: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    @classmethod
    def make(cls, problem=None, *, alpha=None, log_alpha=None, depth=2, label="", **params) -> "Instance":
        D = check_depth(depth)
        la = None if alpha is None and log_alpha is None else resolve_log_alpha(alpha, log_alpha)
        return cls(problem, D, la, dict(params), label)

    @property
    def alpha(self) -> float | None:
        if self.log_alpha is None:
            return None
        a = math.exp(self.log_alpha) if self.log_alpha < 709 else math.inf
        return a if 0 < a < math.inf and a >= np.finfo(float).tiny else None

    @property
    def log10_alpha(self) -> float | None:
        return None if self.log_alpha is None else self.log_alpha / math.log(10)

    def param(self, name: str, default=None):
        return self.params.get(name, default)

    def describe(self) -> dict:
        """JSON-able summary (what a counterexample report prints)."""
        out: dict[str, Any] = {"label": self.label, "depth": _num(self.depth)}
        if self.log_alpha is not None:
            out["alpha"] = self.alpha
            out["log10_alpha"] = self.log10_alpha
        if self.problem is not None:
            out.update(self.problem.describe())
        for k, v in self.params.items():
            out[k] = _jsonable(v)
        return out

    def __repr__(self) -> str:
        bits = [repr(self.problem)] if self.problem is not None else []
        if self.log_alpha is not None:
            a = self.alpha
            bits.append(f"alpha={a:.6g}" if a is not None else f"log10_alpha={self.log10_alpha:.6g}")
        bits.append(f"D={_num(self.depth)}")
        bits += [f"{k}={_short(v)}" for k, v in self.params.items()]
        return f"Instance({', '.join(bits)})"


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def _short(v):
    if isinstance(v, np.ndarray):
        return f"array(shape={v.shape})"
    return repr(v)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v


def _range(value, name, lo_default, hi_default, integer=True):
    """Accept an int, a (lo, hi) pair, or a strategy; return a strategy."""
    if isinstance(value, st.SearchStrategy):
        return value
    if value is None:
        value = (lo_default, hi_default)
    if isinstance(value, tuple):
        lo, hi = value
        if lo > hi:
            raise InvalidInputError(f"{name} range ({lo}, {hi}) is empty")
        return st.integers(lo, hi) if integer else st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.just(value)


def problems(
    n=(2, 6),
    d=(3, 14),
    *,
    kind="gaussian",
    sparsity=None,
    condition=None,
    noise=0.0,
    duplicate=0,
    min_extra_columns: int = 1,
) -> st.SearchStrategy[Problem]:
    """Strategy of underdetermined problems built by :func:`make_problem`.

    Args:
        n, d: an int, an inclusive ``(lo, hi)`` range, or a strategy; ``d`` is clipped to be at
            least ``n + min_extra_columns``.
        kind: ``"gaussian"`` / ``"paper"`` or a strategy of those.
        sparsity: int, ``(lo, hi)``, strategy, or ``None`` (the family's default); clipped to
            ``[1, d - duplicate]``.
        condition: ``None`` (plain Gaussian), a float >= 1, or ``(lo, hi)`` drawn on a log scale.
        noise: target noise standard deviation, float or ``(lo, hi)``.
        duplicate: duplicated columns, int or ``(lo, hi)``.

    Shrinks towards small ``n``, small ``d``, seed 0 and the smallest sparsity.
    """
    n_s = _range(n, "n", 2, 6)
    d_s = _range(d, "d", 3, 14)
    n_lo = n if isinstance(n, int) else (n[0] if isinstance(n, tuple) else None)
    d_hi = d if isinstance(d, int) else (d[1] if isinstance(d, tuple) else None)
    if n_lo is not None and d_hi is not None and d_hi < n_lo + min_extra_columns:
        # clipping d up to n + min_extra_columns would silently draw sizes outside the asked range
        raise InvalidInputError(f"no underdetermined problem fits n = {n!r}, d = {d!r}: every d must be at least "
                                f"n + {min_extra_columns}")
    kind_s = kind if isinstance(kind, st.SearchStrategy) else st.just(kind)
    dup_s = _range(duplicate, "duplicate", 0, 0)
    noise_s = _range(noise, "noise", 0.0, 0.0, integer=False)
    if condition is None or isinstance(condition, st.SearchStrategy):
        cond_s = st.just(None) if condition is None else condition
    elif isinstance(condition, tuple):
        lo, hi = condition
        cond_s = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0 ** e))
    else:
        cond_s = st.just(float(condition))

    @st.composite
    def _build(draw):
        nn = draw(n_s)
        dd = max(draw(d_s), nn + min_extra_columns)
        dup = min(draw(dup_s), dd // 2)
        if sparsity is None:
            sp = None
        else:
            sp = draw(_range(sparsity, "sparsity", 1, nn))
            sp = max(1, min(int(sp), dd - dup))
        seed = draw(st.integers(0, 2**31 - 1))
        return make_problem(seed, nn, dd, kind=draw(kind_s), sparsity=sp, condition=draw(cond_s),
                            noise=draw(noise_s), duplicate=dup)

    return _build()


def alphas(min_alpha: float = 1e-2, max_alpha: float = 1e2) -> st.SearchStrategy[float]:
    """Initialization scales, uniform in ``log10(alpha)`` on ``[log10 min, log10 max]``.

    Shrinks towards ``alpha = 1`` when 1 is in range (hypothesis shrinks the exponent to 0).
    """
    if not (0 < min_alpha <= max_alpha < math.inf):
        raise InvalidInputError(f"need 0 < min_alpha <= max_alpha < inf, got {min_alpha}, {max_alpha}")
    lo, hi = math.log10(min_alpha), math.log10(max_alpha)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda e: float(10.0 ** e))


def log_alphas(min_log: float = -50.0, max_log: float = 5.0) -> st.SearchStrategy[float]:
    """Natural-log scales ``log(alpha)`` in ``[min_log, max_log]``, for scales beyond float range."""
    if not (math.isfinite(min_log) and math.isfinite(max_log) and min_log <= max_log):
        raise InvalidInputError(f"need finite min_log <= max_log, got {min_log}, {max_log}")
    return st.floats(min_log, max_log, allow_nan=False, allow_infinity=False)


def depths(values=(2, 3, 4), *, real: tuple[float, float] | None = None) -> st.SearchStrategy[float]:
    """Depths ``D``: one of ``values`` or, with ``real=(lo, hi)``, a real number in that range.

    Shrinks towards the first value (2).
    """
    if real is not None:
        lo, hi = real
        check_depth(lo), check_depth(hi)
        return st.floats(float(lo), float(hi), allow_nan=False)
    for v in values:
        check_depth(v)
    return st.sampled_from(tuple(values))


def init_shapes(d: int, *, spread: float = 2.0) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Initialization shapes ``(u, v)``, each ``(d,)`` float64 with entries in ``[1/spread, spread]``
    (log-uniform), for ``w+(0) = alpha u``, ``w-(0) = alpha v`` (THEORY.md section 2).

    Shrinks towards ``u = v = 1`` (the unbiased initialization).
    """
    if not (math.isfinite(spread) and spread >= 1):
        raise InvalidInputError(f"spread must be a finite number >= 1, got {spread!r}")
    e = math.log(spread)
    coord = st.floats(-e, e, allow_nan=False)
    vec = st.lists(coord, min_size=d, max_size=d).map(lambda v: np.exp(np.asarray(v, dtype=np.float64)))
    return st.tuples(vec, vec)


def instances(
    problems_strategy: st.SearchStrategy[Problem] | None = None,
    alphas_strategy: st.SearchStrategy[float] | None = None,
    depths_strategy: st.SearchStrategy[float] | None = None,
    **params: st.SearchStrategy,
) -> st.SearchStrategy[Instance]:
    """Strategy of :class:`Instance` (problem, alpha, depth, extras drawn from ``params``).

    Defaults: ``problems()``, ``alphas(0.1, 10)``, ``depths((2,))``.
    """
    ps = problems() if problems_strategy is None else problems_strategy
    as_ = alphas(0.1, 10.0) if alphas_strategy is None else alphas_strategy
    ds = depths((2,)) if depths_strategy is None else depths_strategy

    @st.composite
    def _build(draw):
        problem = draw(ps)
        alpha = draw(as_)
        depth = draw(ds)
        extra = {k: draw(s) for k, s in params.items()}
        return Instance.make(problem, alpha=alpha, depth=depth, **extra)

    return _build()
