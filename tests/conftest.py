"""Shared test configuration: hypothesis profiles and the location of ../shared/cases."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Profiles: `ci` is derandomized so CI is reproducible and bounded; `dev` explores more;
# `thorough` is for a long manual run. Chosen with HYPOTHESIS_PROFILE (default: ci).
settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path | None:
    for cand in (os.environ.get("KRTHEORY_SHARED"), REPO.parent / "shared", REPO / "shared"):
        if cand and (Path(cand) / "cases").is_dir():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _find_shared()
    if path is None:
        pytest.skip("../shared/cases not found (set KRTHEORY_SHARED)")
    return path


@pytest.fixture(scope="session")
def q_cases(shared_dir):
    return json.loads((shared_dir / "cases" / "q_values.json").read_text())


@pytest.fixture(scope="session")
def problem_cases(shared_dir):
    return json.loads((shared_dir / "cases" / "problems_public.json").read_text())
