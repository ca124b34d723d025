"""Tests of krtheory.symbolic.proofs and the proofs/ executables (fast proofs only, CPU budget)."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from krtheory._validation import InvalidInputError
from krtheory.symbolic.proofs import PROOFS, run_proofs

REPO = Path(__file__).resolve().parents[1]


def test_registry_matches_files():
    files = {p.stem for p in (REPO / "proofs").glob("*.py")}
    assert files == set(PROOFS)


def test_tangent_kernel_proof_table():
    buf = io.StringIO()
    reports = run_proofs(["tangent_kernel"], verbose=True, stream=buf)
    assert reports[0].passed and len(reports[0].steps) >= 8
    out = buf.getvalue()
    assert "PASS" in out and "tangent_kernel" in out and "FAIL" not in out


def test_unknown_proof_rejected():
    with pytest.raises(InvalidInputError):
        run_proofs(["nope"], stream=io.StringIO())


def test_executable_exit_status():
    res = subprocess.run([sys.executable, str(REPO / "proofs" / "tangent_kernel.py")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "[PASS]" in res.stdout
