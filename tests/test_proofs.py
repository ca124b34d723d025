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


def test_all_proofs_pass_and_table_streams():
    # every proof's steps are checked against independent forms inside the proofs (THEORY.md closed
    # forms, sympy.limit, mpmath at 40 digits); here: all pass, each with steps, and the table layout
    buf = io.StringIO()
    reports = run_proofs(stream=buf)
    assert [r.name for r in reports] == list(PROOFS)
    for rep in reports:
        assert rep.passed and len(rep.steps) >= 5, (rep.name, [st.name for st in rep.steps if not st.passed])
        assert all(st.passed for st in rep.steps)
    lines = buf.getvalue().strip().splitlines()
    assert lines[0].split()[:2] == ["proof", "steps"]
    assert [ln.split()[0] for ln in lines[1:-1]] == list(PROOFS)
    assert all(ln.split()[-1] == "PASS" for ln in lines[1:-1])
    assert lines[-1].startswith(f"{len(PROOFS)}/{len(PROOFS)} proofs passed")
    # the scale covariance at D = 5/2 uses c^(2/5) (a wrong exponent would fail these exact steps)
    sc = next(r for r in reports if r.name == "scale_covariance")
    assert sum(1 for st in sc.steps if st.name.startswith("D = 5/2")) >= 8


def test_unknown_proof_rejected():
    with pytest.raises(InvalidInputError):
        run_proofs(["nope"], stream=io.StringIO())


def test_executable_exit_status():
    res = subprocess.run([sys.executable, str(REPO / "proofs" / "tangent_kernel.py")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "[PASS]" in res.stdout
