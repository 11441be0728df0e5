"""The plots of ``docs/results.md`` (PNG, matplotlib, written beside the document).

* ``{stem}-speedup.png``: LayerPipe's speedup over the planner against ``P``,
  one panel per platform, one line per workload; hollow markers where the
  speedup rests on a period not proven optimal (a bound).
* ``{stem}-memory.png``: period against the largest footprint, per side, with
  the 80 GB capacity drawn.
* ``{stem}-bytes.png``: bytes per iteration against the period, per side.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from results_grid import sides
from results_tables import tagged, unlimited

#: The sides drawn in the scatter plots, with their markers.
SCATTER = {"planner": "s", "layerpipe": "o", "heuristic": "^", "stages": "D", "pd_opt": "v"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def speedup_plot(table: pd.DataFrame, platforms: Sequence[str], path: Path) -> Path:
    """Speedup against ``P`` per platform (unlimited memory); returns ``path``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(platforms), figsize=(5 * len(platforms), 4), squeeze=False)
    t = unlimited(table)
    for ax, name in zip(axes[0], platforms, strict=True):
        part = t[t["platform_name"] == name]
        for net, rows in part.groupby("network", sort=False):
            rows = rows.dropna(subset=["speedup"]).sort_values("procs")
            if rows.empty:
                continue
            (line,) = ax.plot(rows["procs"], rows["speedup"], "-", label=str(net))
            proven = ~rows["speedup_bound"].astype(bool)
            ax.plot(rows["procs"][proven], rows["speedup"][proven], "o", color=line.get_color())
            ax.plot(
                rows["procs"][~proven], rows["speedup"][~proven], "o", mfc="none",
                color=line.get_color(),
            )  # fmt: skip
        ax.axhline(1.25, color="grey", ls="--", lw=1)
        ax.axhline(1.0, color="black", lw=0.5)
        ax.set_title(name)
        ax.set_xlabel("processors P")
    axes[0][0].set_ylabel("planner period / LayerPipe period")
    axes[0][-1].legend(fontsize=7, title="hollow: bound; dashed: paper 1.25", title_fontsize=7)
    return _save(fig, path)


def memory_plot(rows: pd.DataFrame, memory_gb: float | None, path: Path) -> Path:
    """Period (ms) against the largest footprint (GB), per side; returns ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    t = tagged(rows).dropna(subset=["period_ms", "memory_gb_max"])
    labels = {s.key: s.label for s in sides()}
    for key, marker in SCATTER.items():
        part = t[t["side"] == key]
        if len(part):
            ax.scatter(part["memory_gb_max"], part["period_ms"], marker=marker, s=14,
                       label=labels[key], alpha=0.7)  # fmt: skip
    if memory_gb is not None:
        ax.axvline(memory_gb, color="red", lw=1, ls="--", label=f"{memory_gb:g} GB")
    _log_axes(ax, "largest footprint per processor (GB)", "period (ms)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def bytes_plot(rows: pd.DataFrame, path: Path) -> Path:
    """Bytes per iteration (MB) against the period (ms), per side; returns ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    t = tagged(rows).dropna(subset=["period_ms", "bytes_per_iteration"])
    t = t[t["bytes_per_iteration"] > 0]
    labels = {s.key: s.label for s in sides()}
    for key, marker in SCATTER.items():
        part = t[t["side"] == key]
        if len(part):
            ax.scatter(part["period_ms"], part["bytes_per_iteration"] / 1e6, marker=marker,
                       s=14, label=labels[key], alpha=0.7)  # fmt: skip
    _log_axes(ax, "period (ms)", "bytes per iteration (MB)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def _log_axes(ax: Any, xlabel: str, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", lw=0.3)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def write_plots(
    rows: pd.DataFrame,
    table: pd.DataFrame,
    platforms: Sequence[str],
    memory_gb: float | None,
    output: Path,
) -> dict[str, Path]:
    """All three plots beside ``output`` (``results.md`` -> ``results-speedup.png``, ...)."""
    stem = output.with_suffix("")
    return {
        "speedup": speedup_plot(table, platforms, Path(f"{stem}-speedup.png")),
        "memory": memory_plot(rows, memory_gb, Path(f"{stem}-memory.png")),
        "bytes": bytes_plot(rows, Path(f"{stem}-bytes.png")),
    }
