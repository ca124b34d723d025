"""Writers for a reproduction's outputs: CSV (every plotted number), summary.json, PNG, text table.

Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg canvas), never through
``pyplot``, so nothing depends on a display or on global figure state.
"""
from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from krtheory.reproduce.context import to_jsonable
from krtheory.reproduce.registry import Check, Comparison

__all__ = ["new_figure", "write_csv", "write_json", "save_figure", "format_table", "summary_markdown", "fmt"]


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 5.2, height: float = 4.0):
    """A headless Figure with an ``nrows x ncols`` grid of axes; returns ``(fig, axes_array)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    """Write ``rows`` (dicts) as CSV; columns are the union of keys in first-seen order.

    Floats are written with ``repr`` precision (17 significant digits) so the file can be used
    as data, not only as a plot source; missing values are empty cells.
    """
    columns: list[str] = []
    for row in rows:
        for k in row:
            if k not in columns:
                columns.append(k)
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        out = []
        for c in columns:
            v = row.get(c, "")
            if isinstance(v, (float, np.floating)):
                v = repr(float(v))
            elif isinstance(v, (bool, np.bool_)):
                v = str(bool(v))
            elif v is None:
                v = ""
            out.append(v)
        writer.writerow(out)
    _atomic_write(path, buf.getvalue())


def write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, json.dumps(to_jsonable(obj), indent=2) + "\n")


def save_figure(fig, path: Path, *, dpi: int = 110) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")


def fmt(value: Any) -> str:
    """Compact human formatting for the printed table (3 significant digits for floats)."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if not math.isfinite(x):
            return str(x)
        if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.5g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def format_table(title: str, comparisons: Iterable[Comparison], checks: Iterable[Check],
                 notes: Iterable[str] = ()) -> str:
    """The printed summary: paper vs measured, then each key check as PASS/FAIL."""
    comparisons = list(comparisons)
    lines = [title, "=" * len(title)]
    if comparisons:
        head = ("quantity", "paper", "measured", "note")
        body = [(c.quantity + (f" [{c.unit}]" if c.unit else ""), fmt(c.paper), fmt(c.measured), c.note)
                for c in comparisons]
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(3)]
        lines.append("  ".join(h.ljust(w) for h, w in zip(head[:3], widths)) + "  " + head[3])
        lines.append("  ".join("-" * w for w in widths) + "  ----")
        for r in body:
            lines.append("  ".join(v.ljust(w) for v, w in zip(r[:3], widths)) + "  " + r[3])
    for ch in checks:
        mark = "PASS" if ch.passed else "FAIL"
        lines.append(f"[{mark}] {ch.name}: measured {fmt(ch.measured)} (expected {ch.expected})"
                     + (f" - {ch.detail}" if ch.detail else ""))
    for note in notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def summary_markdown(summary: dict) -> str:
    """A Markdown rendering of a ``summary.json`` dict: paper vs measured, then the key checks.

    Every number in it comes from the summary (computed by the run); the paper column holds only
    what the experiment quotes from the paper.
    """
    esc = lambda t: str(t).replace("|", "\\|")  # noqa: E731
    lines = [f"**{esc(summary['experiment'])}** ({esc(summary['paper_figure'])}): {esc(summary['title'])}"
             f"{' - quick size' if summary.get('quick') else ''}; seed {summary['seed']}, "
             f"wall time {summary['wall_time_s']:.1f} s (points computed in this run: "
             f"{summary['points']['computed']}; from cache: {summary['points']['cached']}, which took "
             f"{summary['points'].get('cached_compute_s', 0.0):.1f} s when computed)", "",
             "| quantity | paper | measured | note |", "|---|---|---|---|"]
    for c in summary["comparisons"]:
        q = c["quantity"] + (f" [{c['unit']}]" if c.get("unit") else "")
        lines.append(f"| {esc(q)} | {esc(fmt(c['paper']))} | {esc(fmt(c['measured']))} | {esc(c.get('note', ''))} |")
    lines += ["", "| key check | measured | expected | result |", "|---|---|---|---|"]
    for c in summary["checks"]:
        lines.append(f"| {esc(c['name'])} | {esc(fmt(c['measured']))} | {esc(c['expected'])} | "
                     f"{'PASS' if c['passed'] else 'FAIL'} |")
    for u in summary.get("unconfirmed_paper_settings", []):
        lines += ["", f"Unconfirmed paper setting (THEORY.md s8): {esc(u)}"]
    return "\n".join(lines) + "\n"
