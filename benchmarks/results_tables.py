"""Tables of ``benchmarks/results.py``, computed from the rows: speedups, splits, verdicts, gaps.

Everything here is a function of the sweep rows (``lpsched.sweep.COLUMNS``)
and of the sides of :mod:`results_grid`; nothing solves, except
:func:`optimizer_check`, which runs the PipeDream planner's dynamic programme
on the measured profiles (well under a second).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from results_grid import row_platform, side_of_row, sides

from lpsched.costs import CostModel
from lpsched.profiles import bundled_profiles, load_pipedream, parse_pipedream
from lpsched.taskgraph import build_task_graph

#: Unnikrishnan & Parhi (2021), abstract: "an average speedup of 25% and upwards of 80%
#: with 7 to 9 processors with less communication overhead when compared to PipeDream".
PAPER_MEAN = 0.25
PAPER_MAX = 0.80
WINDOW: tuple[int, ...] = (7, 8, 9)
#: The per-side columns of :func:`wide`.
SIDE_COLUMNS: tuple[str, ...] = (
    "period",
    "period_ms",
    "lower_bound_ms",
    "status",
    "gap",
    "bytes_per_iteration",
    "link_busy_max",
    "memory_gb_max",
    "max_staleness",
    "error",
)
INDEX = ["network", "platform_name", "memory_gb", "procs"]
#: PipeDream's optimizer (optimizer_graph_hierarchical.py, straight pipeline, no replication)
#: on its VGG-16 profile at 50 GB/s: the slowest stage in ms, by machines (issue 19).
PIPEDREAM_OPTIMIZER: dict[tuple[str, int], float] = {("vgg16", 4): 216.45, ("vgg16", 8): 159.53}


def tagged(rows: pd.DataFrame, solver: str = "cpsat") -> pd.DataFrame:
    """``rows`` with ``side`` (the side's key) and ``platform_name`` (nvlink, pcie, ib)."""
    out = rows.copy()
    out["side"] = [side_of_row(r, solver) for r in out.itertuples(index=False)]
    out["platform_name"] = out["platform"].map(row_platform)
    return out[out["side"].notna()]


def wide(rows: pd.DataFrame, solver: str = "cpsat") -> pd.DataFrame:
    """One row per (network, platform, memory, P); ``{side}_{column}`` for every side.

    Adds ``speedup`` (planner ms / LayerPipe ms), ``speedup_bound`` (``True``:
    LayerPipe's period is not proven optimal, so the speedup is a lower bound on
    an optimal schedule's) and ``speedup_max`` (planner ms / LayerPipe's lower bound
    where LayerPipe's period is not proven, else the speedup).
    """
    t = tagged(rows, solver)
    t = t.assign(memory_gb=t["memory_gb"].fillna(0.0))  # 0: unlimited (NaN cannot index)
    frames = []
    for s in sides(solver):
        part = t[t["side"] == s.key].set_index(INDEX)[list(SIDE_COLUMNS)]
        frames.append(part.add_prefix(f"{s.key}_"))
    table = pd.concat(frames, axis=1).sort_index()
    for s in sides(solver):  # a side with no row at all still has its columns
        for c in SIDE_COLUMNS:
            if f"{s.key}_{c}" not in table:
                table[f"{s.key}_{c}"] = math.nan
    table["speedup"] = ratio(table["planner_period_ms"], table["layerpipe_period_ms"])
    table["speedup_bound"] = table["layerpipe_status"].ne("optimal") & table["speedup"].notna()
    # A proven period is the optimum: its speedup is exact, whatever the static bound says.
    cap = ratio(table["planner_period_ms"], table["layerpipe_lower_bound_ms"])
    table["speedup_max"] = cap.where(table["speedup_bound"], table["speedup"])
    return table.reset_index()


def ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    """``a / b`` as floats, NaN where either is missing or ``b`` is 0."""
    num = pd.to_numeric(a, errors="coerce").astype("float64")
    den = pd.to_numeric(b, errors="coerce").astype("float64")
    return (num / den.where(den > 0)).astype("float64")


def geomean(values: pd.Series) -> float:
    """The geometric mean of the positive finite values (NaN when none)."""
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    v = v[(v > 0) & v.notna() & (v != math.inf)]
    return float(math.exp(sum(math.log(x) for x in v) / len(v))) if len(v) else math.nan


def unlimited(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`wide` without a memory capacity."""
    return table[table["memory_gb"] == 0.0]


def split(table: pd.DataFrame) -> dict[str, float]:
    """Geometric-mean factors of the speedup on one platform's unlimited core rows.

    ``scheduling`` planner / PipeDream tasks best; ``decomposition`` PipeDream
    tasks best / LayerPipe; ``placement`` LayerPipe stages / LayerPipe free;
    ``staleness`` LayerPipe staleness at most P / LayerPipe (cap 2P - 1);
    ``total`` planner / LayerPipe; ``stages_over_planner`` planner / LayerPipe in
    stages (what a stage runtime can gain); ``n`` the rows with all of them.
    """
    cols = [
        f"{k}_period_ms" for k in ("planner", "pd_opt", "layerpipe", "stages", "stale", "intra")
    ]
    full = table.dropna(subset=cols[:5])
    g = {
        "scheduling": geomean(ratio(full["planner_period_ms"], full["pd_opt_period_ms"])),
        "decomposition": geomean(ratio(full["pd_opt_period_ms"], full["layerpipe_period_ms"])),
        "intra": geomean(ratio(full["pd_opt_period_ms"], full["intra_period_ms"])),
        "placement": geomean(ratio(full["stages_period_ms"], full["layerpipe_period_ms"])),
        "staleness": geomean(ratio(full["stale_period_ms"], full["layerpipe_period_ms"])),
        "total": geomean(ratio(full["planner_period_ms"], full["layerpipe_period_ms"])),
        "stages_over_planner": geomean(ratio(full["planner_period_ms"], full["stages_period_ms"])),
        "n": float(len(full)),
    }
    return g


def communication(table: pd.DataFrame, fast: str = "nvlink", slow: str = "pcie") -> pd.DataFrame:
    """Per (network, P): the speedup on ``fast`` links and on ``slow`` ones (unlimited memory).

    The two platforms differ only in their links (450 against 25 GB/s), so the
    difference of the speedups is what communication costs the two sides.
    """
    t = unlimited(table).set_index(["network", "procs"])
    a = t[t["platform_name"] == fast]["speedup"].rename(fast)
    b = t[t["platform_name"] == slow]["speedup"].rename(slow)
    return pd.concat([a, b], axis=1).dropna()


def verdicts(table: pd.DataFrame, platforms: Sequence[str]) -> pd.DataFrame:
    """The paper's three claims per platform (unlimited memory), with a verdict in words.

    Columns: ``mean`` (mean speedup − 1 over every P), ``window_max`` (the
    largest speedup − 1 at P 7-9) and where, ``bounds`` (rows whose speedup rests
    on a feasible period), ``comm_less`` (rows where LayerPipe moves fewer bytes)
    of ``rows``, and ``verdict``.
    """
    out = []
    for name in platforms:
        t = unlimited(table)
        t = t[(t["platform_name"] == name) & t["speedup"].notna()]
        win = t[t["procs"].isin(list(WINDOW))]
        rec: dict[str, Any] = {
            "platform": name,
            "rows": len(t),
            "bounds": int(t["speedup_bound"].sum()),
        }
        # The speedup rests on LayerPipe's best period (a lower bound on the optimal
        # speedup); the planner's period over LayerPipe's lower bound caps it.
        cap = t["speedup_max"].fillna(t["speedup"])
        rec["mean"] = float(t["speedup"].mean() - 1) if len(t) else math.nan
        rec["mean_cap"] = float(cap.mean() - 1) if len(t) else math.nan
        if len(win):
            best = win.loc[win["speedup"].idxmax()]
            rec["window_max"] = float(best["speedup"] - 1)
            rec["window_at"] = f"{best['network']}, P={int(best['procs'])}"
            rec["window_cap"] = float(cap[win.index].max() - 1)
        else:
            rec["window_max"], rec["window_at"], rec["window_cap"] = math.nan, "", math.nan
        both = t.dropna(subset=["layerpipe_bytes_per_iteration", "planner_bytes_per_iteration"])
        less = both["layerpipe_bytes_per_iteration"] < both["planner_bytes_per_iteration"]
        rec["comm_less"], rec["comm_rows"] = int(less.sum()), len(both)
        rec["comm_ratio"] = geomean(
            ratio(both["layerpipe_bytes_per_iteration"], both["planner_bytes_per_iteration"])
        )
        rec["verdict"] = verdict_text(rec)
        out.append(rec)
    return pd.DataFrame(out)


def verdict_text(rec: dict[str, Any]) -> str:
    """The verdict on the three claims, in plain words.

    A claim *holds* when the speedups found reach it, *does not hold* when even
    the speedups LayerPipe's lower bounds allow stay below it, and is *not
    settled* in between (the periods not proven optimal decide it).
    """
    if not rec["rows"]:
        return "no instance has both periods: no verdict"
    parts = [
        _claim(rec["mean"], rec["mean_cap"], PAPER_MEAN, "the 25% average"),
        "no P in 7-9 on this platform"
        if math.isnan(rec["window_max"])
        else _claim(rec["window_max"], rec["window_cap"], PAPER_MAX, "over 80% at 7-9 processors"),
    ]
    if rec["comm_rows"] and rec["comm_less"] * 2 > rec["comm_rows"]:
        parts.append("less communication holds")
    elif rec["comm_rows"]:
        parts.append("LayerPipe moves more bytes, not fewer")
    text = "; ".join(parts)
    if rec["bounds"]:
        text += f" ({rec['bounds']} of {rec['rows']} speedups are bounds)"
    return text[0].upper() + text[1:] + "."


def _claim(found: float, cap: float, paper: float, what: str) -> str:
    if found >= paper:
        return f"{what} holds"
    if cap < paper:
        return f"{what} does not hold"
    return f"{what} is not settled (reached only at LayerPipe's bounds)"


def median_gaps(rows: pd.DataFrame, solver: str = "cpsat") -> pd.DataFrame:
    """Per side: rows with a period, proven optimal, and the median and largest gap to the bound.

    The gap is ``(T − LB) / T`` of the row (the solver's own bound or the
    problem's, whichever is larger).
    """
    t = tagged(rows, solver)
    t = t[t["period"].notna()]
    out = []
    labels = {s.key: s for s in sides(solver)}
    for key, part in t.groupby("side", sort=False):
        s = labels[str(key)]
        gap = ratio(part["period_ms"] - part["lower_bound_ms"], part["period_ms"])
        out.append(
            {
                "side": s.label,
                "solver": s.solver,
                "rows": len(part),
                "optimal": int((part["status"] == "optimal").sum()),
                "median_gap": float(gap.median()),
                "max_gap": float(gap.max()),
            }
        )
    order = {s.label: i for i, s in enumerate(sides(solver))}
    return pd.DataFrame(out).sort_values("side", key=lambda c: c.map(order)).reset_index(drop=True)


def optimizer_check() -> list[dict[str, Any]]:
    """The planner's stage time on PipeDream's VGG-16 profile beside PipeDream's optimizer.

    At 50 GB/s (lpsched's default platform) and a 1 us time unit (the profile's
    precision). ``explained`` is the F+B time of the element-wise node that
    lpsched joins to the bottleneck layer (PipeDream's ``node3``, the ReLU after
    conv1_1, which PipeDream may keep with conv1_1), when the bottleneck
    stage holds that layer alone; ``rest`` is what is left of the difference.
    """
    if "vgg16" not in bundled_profiles():
        return []
    path = bundled_profiles()["vgg16"]
    nodes = {n.id: n for n in parse_pipedream(path.read_text(), str(path)).nodes}
    network, profile = load_pipedream("vgg16")
    costs = CostModel(time_unit="1us")
    out = []
    for (name, p), theirs in PIPEDREAM_OPTIMIZER.items():
        from lpsched.solvers.pipedream import plan_stages

        graph = build_task_graph(network, "pipedream", processors=p, measured=profile, costs=costs)
        plan = plan_stages(graph, p)
        ours = plan.stage_time * 1e-3
        worst = max(zip(plan.stage_times, plan.stages, strict=True))[1]
        relu = nodes["node3"].forward_ms + nodes["node3"].backward_ms
        merged = list(worst) == ["node4"]
        out.append(
            {
                "profile": f"pipedream:{name}",
                "procs": p,
                "theirs_ms": theirs,
                "ours_ms": ours,
                "stages": len(plan.stages),
                "bottleneck": ", ".join(worst),
                "explained_ms": relu if merged else 0.0,
                "rest_ms": ours - theirs - (relu if merged else 0.0),
            }
        )
    return out
