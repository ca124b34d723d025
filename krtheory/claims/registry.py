"""The claim registry: ids -> :class:`~krtheory.claims.base.Claim`, in registration order."""
from __future__ import annotations

from krtheory._validation import InvalidInputError
from krtheory.claims.base import Claim

__all__ = ["REGISTRY", "register", "unregister", "get", "all_claims", "UnknownClaimError"]

REGISTRY: dict[str, Claim] = {}


class UnknownClaimError(InvalidInputError, KeyError):
    """A claim id that is not registered (the message lists the known ids)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register(claim: Claim, *, replace: bool = False) -> Claim:
    """Add ``claim``; a second claim with the same id is an error unless ``replace``."""
    if not isinstance(claim, Claim):
        raise InvalidInputError(f"register expects a Claim, got {type(claim).__name__}")
    if claim.id in REGISTRY and not replace:
        raise InvalidInputError(f"claim id {claim.id!r} is already registered")
    REGISTRY[claim.id] = claim
    return claim


def unregister(claim_id: str) -> None:
    """Remove a claim (used by tests that register toy claims)."""
    REGISTRY.pop(claim_id, None)


def get(claim_id: str) -> Claim:
    """The claim with this id, or :class:`UnknownClaimError` naming the known ids."""
    try:
        return REGISTRY[claim_id]
    except KeyError:
        raise UnknownClaimError(
            f"unknown claim {claim_id!r}; known: {', '.join(REGISTRY)}"
        ) from None


def all_claims() -> tuple[Claim, ...]:
    return tuple(REGISTRY.values())
