"""Link use in the output: port loads, bytes per iteration, summary, JSON, -v table, Gantt lanes.

The schedules are built by hand and counted by hand; each passes the validator.
"""

from __future__ import annotations

import csv
import json

import matplotlib
import pytest

matplotlib.use("Agg")

from lpsched.cli.commands import processor_table  # noqa: E402
from lpsched.graph import Edge, Task, TaskGraph  # noqa: E402
from lpsched.platform import Link, Platform, Processor  # noqa: E402
from lpsched.plot import gantt_figure, gantt_lanes, plot_gantt  # noqa: E402
from lpsched.schedule import Result, Schedule, Status, Transfer  # noqa: E402
from lpsched.sweep import COLUMNS, COLUMNS_V2, read_results, sweep  # noqa: E402
from lpsched.validate import check_schedule  # noqa: E402
from tests.cli_helpers import run  # noqa: E402

# 1 byte per microsecond within a node (1 unit of 1 us per byte), half that between nodes.
INTRA = Link(1e6, 0.0)
INTER = Link(0.5e6, 2e-6)


def platform(capacity: str, nodes: tuple[int, ...] = (0, 0, 0)) -> Platform:
    return Platform(tuple(Processor(1.0, None, n) for n in nodes), INTRA, INTER, capacity)


def fan_out() -> TaskGraph:
    """``a`` sends x (3 bytes) to b and c, y (2 bytes) to d; ``a -> e`` is a fixed delay."""
    tasks = tuple(Task(n, 2) for n in "abcde")
    edges = (
        Edge("a", "b", 0, None, 3, tensor="x"),
        Edge("a", "c", 0, None, 3, tensor="x"),
        Edge("a", "d", 0, None, 2, tensor="y"),
        # A fixed comm is a pure delay in both models: never a message, its bytes not counted.
        Edge("a", "e", 0, 1, 7, tensor="z"),
    )
    return TaskGraph(tasks, edges, time_unit="1us")


PROC = {"a": 0, "b": 1, "c": 1, "d": 2, "e": 2}


def ports_schedule() -> Schedule:
    # x to processor 1 once for b and c: [2, 5); y to processor 2: [5, 7). Period 20.
    s = Schedule(
        fan_out(),
        platform("ports"),
        20,
        PROC,
        {"a": 0, "b": 6, "c": 8, "d": 8, "e": 10},
        (Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 5, 2)),
    )
    check_schedule(s)
    return s


def delay_schedule() -> Schedule:
    # Period 4: b [1, 3) and c [3, 5) share processor 1 modulo 4; d and e on processor 2.
    s = Schedule(fan_out(), platform("delay"), 4, PROC, {"a": 0, "b": 5, "c": 7, "d": 5, "e": 7})
    check_schedule(s)
    return s


def loads(s: Schedule) -> dict[tuple[int, str, str], object]:
    return {(x.processor, x.direction, x.link): x for x in s.port_loads()}


def test_ports_busy_fractions_and_bytes_are_the_hand_count():
    s = ports_schedule()
    ports = loads(s)
    assert len(ports) == 3 * 2 * 2  # every processor, direction and class
    # Out of 0: x (3) and y (2) units in a period of 20; into 1: x; into 2: y.
    expected_busy = {(0, "out", "intra"): 5, (1, "in", "intra"): 3, (2, "in", "intra"): 2}
    expected_bytes = {(0, "out", "intra"): 5, (1, "in", "intra"): 3, (2, "in", "intra"): 2}
    for key, port in ports.items():
        assert port.busy == expected_busy.get(key, 0), key
        assert port.load == expected_busy.get(key, 0) / 20
        assert port.bytes == expected_bytes.get(key, 0), key
    # x crosses once for its two readers; the fixed-comm edge sends nothing.
    assert s.bytes_per_iteration() == 5
    assert s.comm_bytes() == 3 + 3 + 2 + 7  # every edge between processors, as before
    top = s.busiest_port()
    assert (top.processor, top.direction, top.link, top.load) == (0, "out", "intra", 0.25)
    rows = s.link_utilisation()
    assert rows[0] == {
        "processor": 0,
        "out": {"intra": 0.25, "inter": 0.0},
        "in": {"intra": 0.0, "inter": 0.0},
        "bytes_out": 5,
        "bytes_in": 0,
    }
    assert rows[1]["in"]["intra"] == 0.15 and rows[1]["bytes_in"] == 3


def test_delay_needed_bandwidth_is_the_hand_count():
    s = delay_schedule()
    top = s.busiest_port()
    assert top.busy is None  # no transfers under delay
    # 5 bytes out of processor 0 every 4 us: 1.25 MB/s on a 1 MB/s link, 125% of it.
    assert top.needed_bandwidth == pytest.approx(5 / 4e-6)
    assert top.load == pytest.approx(1.25)
    assert (top.processor, top.direction) == (0, "out")
    assert loads(s)[(1, "in", "intra")].load == pytest.approx(3 / 4)
    assert s.bytes_per_iteration() == 5


def test_two_link_classes_are_told_apart():
    # Processor 2 in another node: y crosses inter, 2 bytes at 0.5 B/us = 4 units, latency 2.
    s = Schedule(
        fan_out(),
        platform("ports", (0, 0, 1)),
        20,
        PROC,
        {"a": 0, "b": 6, "c": 8, "d": 11, "e": 13},
        (Transfer("x", "a", 0, 1, 2, 3), Transfer("y", "a", 0, 2, 5, 4)),
    )
    check_schedule(s)
    ports = loads(s)
    assert ports[(0, "out", "intra")].busy == 3 and ports[(0, "out", "inter")].busy == 4
    assert ports[(2, "in", "inter")].bytes == 2 and ports[(2, "in", "intra")].bytes == 0
    assert (
        "busiest port 20% (inter out of processor 0)"
        in Result(s, Status.FEASIBLE, 0, "x", 0).summary()
    )
    labels = [lane.label for lane in gantt_lanes(s)]
    assert "P0 out intra" in labels and "P2 in inter" in labels


def result(s: Schedule) -> Result:
    return Result(s, Status.FEASIBLE, 4, "hand", 0.5)


def test_summary_reports_the_busiest_port_and_the_bytes():
    line = result(ports_schedule()).summary()
    assert "links: busiest port 25% (out of processor 0), 5 B per iteration" in line
    assert line.endswith("; 0.50 s")
    line = result(delay_schedule()).summary()
    assert (
        "links: need 0.00125 GB/s out of processor 0 (link 0.001 GB/s), 5 B per iteration" in line
    )


def test_summary_says_nothing_of_links_when_nothing_crosses():
    s = Schedule(
        fan_out(),
        platform("delay"),
        10,
        dict.fromkeys("abcde", 0),
        {n: 2 * i for i, n in enumerate("abcde")},
    )
    check_schedule(s)
    assert "links" not in result(s).summary()


def test_json_holds_links_and_round_trips():
    for s in (ports_schedule(), delay_schedule()):
        r = result(s)
        data = json.loads(r.to_json())
        assert data["bytes_per_iteration"] == 5
        assert data["links"] == s.link_utilisation()
        back = Result.from_dict(data)
        assert back.schedule == s
        assert back.to_dict() == r.to_dict()
        # Files without the derived fields still read.
        del data["links"], data["bytes_per_iteration"]
        assert Result.from_dict(data).schedule == s
    assert json.loads(result(ports_schedule()).to_json())["links"][0]["out"]["intra"] == 0.25


def test_gantt_draws_port_lanes_only_with_transfers():
    ax = plot_gantt(ports_schedule())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["P0", "P0 out", "P0 in", "P1", "P1 out", "P1 in", "P2", "P2 out", "P2 in"]
    texts = {t.get_text() for t in ax.texts}
    assert "x\u2192P1" in texts and "x\u2190P0" in texts  # wide enough to label (3 of 20 units)
    assert any("transfer" in t.get_text() for t in ax.get_legend().get_texts())
    ax = plot_gantt(delay_schedule())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["P0", "P1", "P2"]
    fig = gantt_figure(result(ports_schedule()))
    assert "links: busiest port" in fig.get_suptitle()


def test_a_wrapped_transfer_is_drawn_in_two_pieces():
    # x from 19 to 22 wraps: [19, 20) and [0, 2) on both its lanes.
    s = Schedule(
        fan_out(),
        platform("ports"),
        20,
        PROC,
        {"a": 17, "b": 22, "c": 24, "d": 24, "e": 26},
        (Transfer("x", "a", 0, 1, 19, 3), Transfer("y", "a", 0, 2, 22, 2)),
    )
    check_schedule(s)
    ax = plot_gantt(s, labels=False)
    out0 = next(lane for lane in gantt_lanes(s) if lane.label == "P0 out")
    bottom = out0.y - 0.4 * out0.height
    boxes = [path.get_extents() for coll in ax.collections for path in coll.get_paths()]
    bars = sorted((round(b.x0, 9), round(b.width, 9)) for b in boxes if abs(b.y0 - bottom) < 1e-9)
    ms = 1e-3  # one unit is 1 us: 0.001 on the ms axis
    # On P0's out-lane: x in two pieces, y [2, 4).
    assert bars == [(0.0, 2 * ms), (2 * ms, 2 * ms), (19 * ms, 1 * ms)]


def test_verbose_table_has_port_columns():
    lines = processor_table(result(ports_schedule())).splitlines()
    assert lines[0].split()[:8] == ["proc", "tasks", "busy", "util", "memory", "out", "in", "sent"]
    # Processor 0 sends 25% of the period, receives nothing; processor 1 receives 15%.
    assert " 25.0%    0.0%       5 B" in lines[1]
    assert "  0.0%   15.0%       0 B" in lines[2]
    assert "transfers" in lines[-1]
    lines = processor_table(result(delay_schedule())).splitlines()
    assert " 125.0%    0.0%       5 B" in lines[1]
    assert "would need" in lines[-1]


def test_solve_verbose_prints_the_table(capsys):
    code, out, err = run(capsys, "solve", "mlp", "--procs", "2", "-v", "--solver", "heuristic")
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("proc"))
    assert header.split()[5:8] == ["out", "in", "sent"]


def test_sweep_rows_carry_link_columns_and_old_tables_read(tmp_path):
    path = tmp_path / "s.csv"
    df = sweep("mlp", procs=[2], solvers=["heuristic"], output=path, jobs=1)
    (row,) = df.itertuples(index=False)
    assert row.bytes_per_iteration >= 0 and row.link_busy_max >= 0
    with path.open() as f:
        assert next(csv.reader(f)) == list(COLUMNS)
    old = tmp_path / "old.csv"
    df[list(COLUMNS_V2)].to_csv(old, index=False)
    back = read_results(old)
    assert list(back.columns) == list(COLUMNS)
    assert back["bytes_per_iteration"].isna().all() and back["link_busy_max"].isna().all()
