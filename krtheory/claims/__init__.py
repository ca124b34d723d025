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


# importing the claim modules registers them (in this order: the table's order)
from krtheory.claims import implicit_bias, regimes, depth, kernel, regularizer, width, descent, asymptotics  # noqa: E402,F401
