"""Write the example notebooks of this folder (without outputs) from the cells below.

Run ``python notebooks/make_notebooks.py`` after editing a cell here; edit the
notebooks themselves only through this script, so that they stay small,
reviewable and free of stale outputs. ``tests/test_notebooks.py`` executes them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SOLVE_AND_GANTT = [
    (
        "md",
        """# 1. Solve one schedule and read its Gantt chart

lpsched turns one training iteration of a network into a *task graph* and looks
for a **periodic schedule** on a *platform* of `P` processors: every task runs on
one fixed processor, iteration `i` of a task starts at `s_v + i*T`, and the
period `T` (time per mini-batch) is as small as possible.

This notebook schedules a small multi-layer perceptron (`mlp`) on 3 processors
and shows how to read the result.""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt

from lpsched.bounds import lower_bounds
from lpsched.networks import get_network
from lpsched.plot import plot_gantt, plot_unrolled, plot_utilisation
from lpsched.solve import solve
from lpsched.taskgraph import build_task_graph

P = 3
network = get_network("mlp")
graph = build_task_graph(network, decomposition="layerpipe", processors=P)
print(f"{graph.n} tasks, {len(graph.edges)} edges")
print(f"total work {graph.total_work} units of {graph.time_unit}")
print(f"= {graph.total_work * graph.time_unit_seconds * 1e3:.4g} ms on one processor")""",
    ),
    (
        "md",
        """## The task graph

With the `layerpipe` decomposition every weighted layer `l` has five tasks:
`F:l` (forward), `D:l` (`f'(z) * g`), `G:l` (`W^T delta`, the gradient sent to
the previous layer), `W:l` (the weight gradient) and `U:l` (the update). The
durations come from the cost model (MACs / throughput, in whole time units of
`graph.time_unit`); every edge carries the bytes it sends, which cost time only
between two processors.""",
    ),
    (
        "code",
        """for task in graph.tasks:
    print(f"{task.name:12} {task.duration:6}")""",
    ),
    (
        "md",
        """## Lower bounds

Before solving, the bounds say how fast any schedule can possibly be: the
**resource bound** (total work / P), the **longest task**, and the **iteration
bound** -- the worst ratio of work to distance around a loop of the graph (the
weight updates feed later forward passes). The loop that attains it is the
*critical loop*.""",
    ),
    (
        "code",
        """bounds = lower_bounds(graph, P)
print(bounds.summary())""",
    ),
    (
        "md",
        """## Solve

`solve(graph, platform, solver)` is the one entry point; a processor count `P`
in place of the platform means the *default platform* of `P` identical
processors. `heuristic` is modulo list scheduling (fast); `cpsat` is the exact
CP-SAT model, warm-started by the heuristic, which proves the optimal period
(here within a two-second limit). Every schedule that comes back has passed the
validator. The summary gives the period in milliseconds and in time units.""",
    ),
    (
        "code",
        """heuristic = solve(graph, P, "heuristic")
exact = solve(graph, P, "cpsat", time_limit=2, workers=1)
print(heuristic.summary())
print(exact.summary())""",
    ),
    (
        "md",
        """## Reading the Gantt chart

The upper chart is **one period** on each processor (in milliseconds): every
task appears once, at its start time modulo `T`; a bar that runs past `T` wraps
around to the left edge. Colours are task kinds (F, D, G, W, U). Idle gaps are time the
processor waits -- for data from another processor or for a loop to close.

The lower chart **unrolls** a few iterations in absolute time, coloured by
iteration: the pipeline fills up, and after that a new iteration starts every
`T`. Several colours on one processor at the same time means several
iterations are in flight at once -- the pipelining that a staleness `s_l > 1`
(delayed weight updates) makes possible.""",
    ),
    (
        "code",
        """fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), layout="constrained")
plot_gantt(exact, ax=top)
plot_unrolled(exact, ax=bottom);""",
    ),
    (
        "md",
        """## Utilisation and the schedule's properties

The bars are each processor's busy time over one period; the dashed line is
the mean. `speedup` is `total work / T`; `comm_bytes` counts the bytes sent
between processors per iteration; `staleness` is each layer's delay (in
iterations) between a weight update and the forward pass that reads it.""",
    ),
    (
        "code",
        """sched = exact.schedule
fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
plot_utilisation(sched, ax=ax)
print(f"speedup {sched.speedup:.2f} on {P} processors")
print(f"communication {sched.comm_bytes():,} bytes per iteration")
print("staleness per layer:", sched.staleness())""",
    ),
    (
        "md",
        """## The platform

A schedule carries the platform it runs on (`schedule.platform`): processors
with a speed, memory and node, and the links between them. The default one
joins its processors by the cost model's link (50 GB/s, 10 us per message).
Presets describe real machines: `pcie` is 8 GPUs on PCIe 4.0 links (25 GB/s),
and `preset("pcie", P)` takes `P` of them. Messages cost more there, so the
optimal period can only grow.""",
    ),
    (
        "code",
        """from lpsched.platform import preset

pcie = preset("pcie", P)
on_pcie = solve(graph, pcie, "cpsat", time_limit=2, workers=1)
print(sched.platform.describe())
print(on_pcie.schedule.platform.describe())
print(f"period {sched.describe_period()} on the default platform")
print(f"period {on_pcie.schedule.describe_period()} on pcie ({on_pcie.status.value})")""",
    ),
    (
        "md",
        """A schedule can be written to JSON (`exact.to_json("schedule.json")`), with
its platform, and checked later with `lpsched validate schedule.json`; the
command line `lpsched solve mlp --procs 3 --solver cpsat --gantt gantt.png`
does all of the above in one go, and `--platform pcie` runs it on the preset.""",
    ),
]

SWEEP = [
    (
        "md",
        """# 2. Sweep the number of processors

How does the period fall as processors are added? `sweep` solves a grid of
processor counts, solvers and decompositions and returns a pandas DataFrame,
one validated row per grid point.""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt

from lpsched.plot import plot_speedup
from lpsched.sweep import sweep

df = sweep(
    "mlp",
    procs="1-6",
    solvers=("heuristic", "cpsat"),
    decompositions=("layerpipe",),
    time_limit=2,
    jobs=1,
)
df[
    [
        "solver",
        "procs",
        "period",
        "period_ms",
        "lower_bound",
        "status",
        "iterations_per_s",
        "speedup",
        "gap",
        "comm_bytes",
    ]
]""",
    ),
    (
        "md",
        """Every schedule in the table has passed the validator (`valid`); a row whose
solver failed would say so in `status` (`invalid` or `error`) and `error`.""",
    ),
    ("code", """assert df["valid"].all() and (df["error"] == "").all()"""),
    (
        "md",
        """Each row holds the period found (in time units and in `period_ms`), the
best lower bound known, the solver's status (`optimal` only when proven), the
iterations per second, the speedup `total work / T`, the gap `(T - LB) / T`
(a fraction: 0.05 is 5%) and the communication volume. `jobs=1` runs the grid in this
process; by default a sweep uses every core (`jobs=None`), and
`executor="dask"` sends it to a Dask cluster.

## The speedup plot

The dotted line is the ideal, speedup `P`. The thick grey line is the limit
that the lower bound allows (`total work / LB`): no schedule can be above it.
Where the exact solver proves optimality, its line touches the limit; the
distance between the heuristic's line and the exact one is what the exact
model buys. The right axis reads the same points as periods in milliseconds.""",
    ),
    (
        "code",
        """fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
plot_speedup(df, ax=ax);""",
    ),
    (
        "md",
        """## Another platform

`platform=` runs every row on a platform: a preset name, a platform file or a
specification; each `P` gets its own copy of it with `P` processors. On
`pcie` (25 GB/s instead of 50 GB/s) messages cost more; the `platform` column
tells the rows apart, and the plot draws one line per platform.""",
    ),
    (
        "code",
        """import pandas as pd

pcie = sweep("mlp", procs="1-6", solvers=("cpsat",), time_limit=2, platform="pcie", jobs=1)
assert pcie["valid"].all() and set(pcie["platform"]) == {"pcie"}
both = pd.concat([df[df["solver"] == "cpsat"], pcie])
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
plot_speedup(both, ax=ax)
both[["platform", "procs", "period", "period_ms", "status"]]""",
    ),
    (
        "md",
        """## Long sweeps: a CSV that survives interruptions

With `output=`, every row is appended to a CSV as soon as it is done. If the
sweep is interrupted, `resume=True` keeps the rows already in the file and
runs only the missing ones. Here the first call covers half the grid and the
second one completes it; the progress callback shows which rows actually run.""",
    ),
    (
        "code",
        """import tempfile
from pathlib import Path

ran = []  # (solver, procs) of every row the resumed sweep runs

with tempfile.TemporaryDirectory() as tmp:
    csv = Path(tmp) / "mlp.csv"
    sweep("mlp", procs="1-3", output=csv, jobs=1)
    full = sweep(
        "mlp",
        procs="1-6",
        output=csv,
        resume=True,
        jobs=1,
        progress=lambda done, total, row: ran.append((row["solver"], row["procs"])),
    )

print("rows run by the resumed sweep:", ran)
full[["procs", "period", "status"]]""",
    ),
    (
        "md",
        """The same from the command line:

```
lpsched sweep mlp --procs 1-16 --solvers heuristic,cpsat --time-limit 60 -o mlp.csv --plot s.png
lpsched sweep mlp --procs 1-16 --solvers heuristic,cpsat --time-limit 60 -o mlp.csv --resume
lpsched sweep mlp --procs 1-8 --solvers cpsat --time-limit 60 --platform pcie -o mlp-pcie.csv
```""",
    ),
]

OPTIMAL_VS = [
    (
        "md",
        """# 3. Optimal against heuristic, and LayerPipe against PipeDream

Two questions, on small settings that run in seconds:

1. How far from optimal is the fast heuristic?
2. How much faster is the optimal LayerPipe schedule than PipeDream's plan on
   the same network and cost model?""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt

from lpsched.compare import compare, format_summary
from lpsched.plot import plot_gap
from lpsched.sweep import sweep

df = sweep(
    "mlp",
    procs="1-4",
    solvers=("heuristic", "cpsat"),
    decompositions=("layerpipe", "intra"),
    time_limit=2,
    jobs=1,
)
df[["decomposition", "solver", "procs", "period", "lower_bound", "status"]]""",
    ),
    (
        "md",
        """## The optimality gap of the heuristic

For each `P` the reference `T*` is the best bound known: the optimal period
where CP-SAT proved it, otherwise the largest lower bound. The plot shows
`(T - T*) / T` of the heuristic; zero means the heuristic found an optimal
schedule.""",
    ),
    (
        "code",
        """fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
plot_gap(df, ax=ax);""",
    ),
    (
        "md",
        """## LayerPipe against PipeDream

`compare` builds both decompositions of the same network with the same cost
model. PipeDream's planner cuts the layers into contiguous stages, and the
whole backward pass of a layer is one task. LayerPipe splits every backward
pass into its matrix products and lets CP-SAT place them freely.
`layerpipe_over_pipedream` is `pipedream_period / layerpipe_period` (LayerPipe's
iterations per second over PipeDream's); `layerpipe_status` shows whether the
LayerPipe period is proven optimal within the time limit. `compare` takes
`platform=` too.""",
    ),
    (
        "code",
        """table = compare("mlp", procs="2-4", time_limit=2, workers=1, jobs=1)
assert (table["error"] == "").all(), table["error"]  # both solvers ran on every P
print(format_summary(table.attrs["summary"]))
table[
    [
        "procs",
        "pipedream_period",
        "pipedream_period_ms",
        "layerpipe_period",
        "layerpipe_period_ms",
        "layerpipe_status",
        "layerpipe_over_pipedream",
        "pipedream_comm_bytes",
        "layerpipe_comm_bytes",
    ]
]""",
    ),
    (
        "md",
        """The comm columns are bytes sent between processors per iteration: a finer
decomposition can buy its shorter period with more traffic, and the exact
model's secondary objective keeps that traffic as low as the optimal period
allows. On the command line: `lpsched compare vgg16 --procs 7-9 --time-limit 600`.""",
    ),
]

NOTEBOOKS = {
    "01-solve-and-gantt.ipynb": SOLVE_AND_GANTT,
    "02-sweep-processors.ipynb": SWEEP,
    "03-optimal-vs-heuristic-and-layerpipe-vs-pipedream.ipynb": OPTIMAL_VS,
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook (nbformat 4) of markdown and code cells, with a python3 kernel."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        nb.cells.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    # Stable cell ids keep regenerated notebooks free of spurious diffs.
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    return nb


def main() -> None:
    """Write every notebook next to this script."""
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
