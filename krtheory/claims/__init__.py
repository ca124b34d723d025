"""The theorems of THEORY.md sections 2-9 as registered, testable claims.

``REGISTRY`` maps claim ids to :class:`Claim` objects; ``get(id)`` / ``all_claims()`` read it.
Importing this package registers the built-in claims (their checks import the numeric layers
lazily, so registration is cheap). ``krtheory verify`` is :func:`krtheory.claims.runner.main`.
"""
from __future__ import annotations

from krtheory.claims.base import FAIL, INCONCLUSIVE, PASS, Claim, Evidence, FlowNote, SubCheck, evidence
from krtheory.claims.context import RunContext
from krtheory.claims.registry import REGISTRY, UnknownClaimError, all_claims, get, register, unregister

__all__ = [
    "Claim", "Evidence", "SubCheck", "FlowNote", "evidence", "PASS", "FAIL", "INCONCLUSIVE",
    "RunContext", "REGISTRY", "UnknownClaimError", "all_claims", "get", "register", "unregister",
]


def _register_builtin() -> None:
    import importlib

    for name in ("implicit_bias", "regimes", "depth", "kernel", "regularizer", "width", "descent", "asymptotics"):
        try:
            importlib.import_module(f"krtheory.claims.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"krtheory.claims.{name}":
                raise


_register_builtin()
