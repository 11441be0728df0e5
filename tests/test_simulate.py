"""The discrete-event simulator of schedules (``lpsched.simulate``) and ``lpsched simulate``.

Cross-checks against what the simulator does not compute itself: the
schedule's own start times and transfers (at jitter 0 in timed mode every
action must run exactly when the schedule says), the validator's footprint
(an upper bound on the simulated peak), the schedule's port loads, and a
memory count done by hand.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched import build_task_graph, get_network, solve
from lpsched.errors import InputError
from lpsched.graph import Edge, Task, TaskGraph
from lpsched.platform import Link, Platform, Processor, override, preset, preset_spec
from lpsched.programs import Programs, build_programs
from lpsched.schedule import Result, Schedule, Status
from lpsched.simulate import SimulationReport, Span, simulate
from lpsched.validate import validate
from tests.brute import tiny_byte_graphs, tiny_graphs, tiny_platforms, tiny_weight_graphs
from tests.cli_helpers import one_line_error, run
from tests.platforms import delay

FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def mlp(decomposition: str, processors: int) -> TaskGraph:
    """A small MLP whose layers are big enough to be split across processors."""
    net = get_network("mlp", widths=[4096, 4096, 4096, 4096, 10])
    return build_task_graph(net, decomposition=decomposition, processors=processors)


def two_nodes(processors: int = 4) -> Platform:
    """The ``ib`` preset on two nodes: NVLink inside a node, InfiniBand between."""
    return Platform.from_dict(override(preset_spec("ib"), procs=processors, nodes=2))


def speeds(values: list[float]) -> Platform:
    return Platform(tuple(Processor(speed=v) for v in values), Link(), Link())


def iterations_for(schedule: Schedule, extra: int = 4) -> int:
    """Enough iterations for a steady state: the prologue, the epilogue and ``extra`` more."""
    return 2 * build_programs(schedule).depth + extra


# ------------------------------------------------------------------ zero jitter is exact
def check_exact(schedule: Schedule, extra: int = 4) -> SimulationReport:
    """Timed, jitter 0: every action at its scheduled time, the period exactly ``T``.

    Then self-timed (``asap``) with the ports in the scheduled order: nothing later than
    scheduled, by induction (under ``delay`` no port is busy, so both arbitrations).
    """
    assert validate(schedule) == []
    s = schedule.normalised()
    N = iterations_for(s, extra)
    for arbitration in ("fcfs", "order"):
        rep = check_timed(s, N, arbitration)
    check_memory_and_ports(s, rep)
    early = simulate(s, iterations=N, mode="asap", arbitration="order", trace=True)
    assert early.deadlock is None and early.violation_count == 0
    for x in early.spans:
        if x.track == "compute":
            assert x.start <= s.start[x.name] + x.iteration * s.period
    assert all(a <= b for a, b in zip(early.completions, rep.completions, strict=True))
    return rep


def check_timed(s: Schedule, N: int, arbitration: str) -> SimulationReport:
    T = s.period
    rep = simulate(s, iterations=N, trace=True, arbitration=arbitration)
    assert rep.deadlock is None and rep.violation_count == 0
    assert rep.periods and all(type(p) is int and p == T for p in rep.periods)
    assert rep.mean == T and rep.p50 == rep.p99 == rep.max == T
    computes = [x for x in rep.spans if x.track == "compute"]
    assert len(computes) == N * s.graph.n
    for x in computes:  # the schedule's times, computed here from its starts
        assert s.processor[x.name] == x.processor
        assert x.start == s.start[x.name] + x.iteration * T
        assert x.end - x.start == s.duration(x.name)
    planned = {(t.producer, t.tensor, t.dst): t for t in s.transfers}
    moved = [x for x in rep.spans if x.track.startswith("in ")]
    assert len(moved) == N * len([t for t in s.transfers if t.duration > 0])
    for x in moved:
        t = planned[(x.producer, x.name, x.processor)]
        begin = t.start + x.iteration * T
        assert (x.start, x.end) == (begin, begin + t.duration)
    return rep


def check_memory_and_ports(s: Schedule, rep: SimulationReport) -> None:
    """The footprint bounds the simulated peak; port shares are the schedule's busy / T."""
    assert rep.peak_memory is not None
    for mine, bound in zip(rep.peak_memory, s.footprints(), strict=True):
        assert mine <= bound * (1 + 1e-12)
    assert max(rep.peak_memory) > 0 or sum(s.footprints()) == 0
    busy = {(x.processor, x.direction, x.link): x for x in s.port_loads() if x.busy}
    seen = {(x.processor, x.direction, x.link): x for x in rep.ports if x.busy}
    assert seen.keys() == busy.keys()
    for port, x in seen.items():
        assert x.share == busy[port].busy / s.period


SOLVES = {
    "heuristic-mlp-layerpipe-delay": lambda: solve(
        mlp("layerpipe", 3), delay(3), "heuristic", deterministic=True
    ),
    "heuristic-mlp-layerpipe-pcie": lambda: solve(
        mlp("layerpipe", 4), preset("pcie", 4), "heuristic", deterministic=True
    ),
    "heuristic-mlp-intra-ib-two-nodes": lambda: solve(
        mlp("intra", 4), two_nodes(4), "heuristic", deterministic=True
    ),
    "heuristic-mlp-intra-speeds": lambda: solve(
        mlp("intra", 4), speeds([1, 1, 0.5, 0.5]), "heuristic", deterministic=True
    ),
    "heuristic-mlp-layerpipe-stages-adam": lambda: solve(
        mlp("layerpipe", 3),
        dataclasses.replace(Platform.default(3), optimizer_state=2.0),
        "heuristic",
        deterministic=True,
        placement="stages",
    ),
    "pipedream-alexnet-pipedream-ports": lambda: solve(
        build_task_graph(get_network("alexnet"), "pipedream", processors=4), 4, "pipedream"
    ),
    "pipedream-mlp-pipedream-pcie": lambda: solve(
        mlp("pipedream", 3), preset("pcie", 3), "pipedream"
    ),
    "cpsat-mlp-intra-ports": lambda: solve(
        mlp("intra", 3), 3, "cpsat", deterministic=True, time_limit=2
    ),
    "cpsat-mlp-layerpipe-delay": lambda: solve(
        mlp("layerpipe", 3), delay(3), "cpsat", deterministic=True, time_limit=2
    ),
    "cpsat-mlp-layerpipe-pcie": lambda: solve(
        mlp("layerpipe", 2), preset("pcie", 2), "cpsat", deterministic=True, time_limit=2
    ),
    "milp-mlp-intra-ports": lambda: solve(mlp("intra", 2), 2, "milp", time_limit=20),
    "milp-mlp-intra-delay": lambda: solve(mlp("intra", 2), delay(2), "milp", time_limit=20),
}


@pytest.mark.parametrize("case", list(SOLVES))
def test_zero_jitter_gives_exactly_the_period(case: str) -> None:
    result = SOLVES[case]()
    assert result.schedule is not None
    check_exact(result.schedule)


@FAST
@given(graph=tiny_graphs(), platform=tiny_platforms())
def test_random_graphs_fixed_comm_delay(graph: TaskGraph, platform: Platform) -> None:
    """Random graphs with fixed comms (pure delays) under ``delay``: exact at jitter 0."""
    check_exact(solve(graph, platform, "heuristic", deterministic=True).schedule)


@FAST
@given(graph=tiny_byte_graphs(shared=True), platform=tiny_platforms(capacity="ports"))
def test_random_graphs_ports(graph: TaskGraph, platform: Platform) -> None:
    """Random graphs with bytes on port platforms (shared tensors, unlimited links): exact."""
    check_exact(solve(graph, platform, "heuristic", deterministic=True).schedule)


@FAST
@given(
    graph=tiny_weight_graphs(),
    platform=tiny_platforms(capacity="ports", memory=True),
    capacity=st.sampled_from(["ports", "delay"]),
)
def test_random_weight_graphs(graph: TaskGraph, platform: Platform, capacity: str) -> None:
    """Weights with staleness (stashed versions) and optimizer state: exact, memory bounded."""
    platform = dataclasses.replace(platform, capacity=capacity)
    result = solve(graph, platform, "heuristic", deterministic=True)
    if result.schedule is not None:  # a memory capacity may leave the heuristic without one
        check_exact(result.schedule)


# ------------------------------------------------------------------ memory by hand
def test_memory_counted_by_hand() -> None:
    """F and U on one processor, staleness 2: two weight versions, the gradient, Adam's state.

    ``F`` at 0 (1 unit), ``U`` at 1 (1 unit), ``T = 2``. Version ``i`` of the
    weights (10 B) lives from ``U_i``'s start ``2i + 1`` to the end of
    ``F_{i+2}``, ``2i + 5``: two versions at any time. The gradient (4 B) lives
    from ``F_i``'s start to ``U_i``'s end, one period. Adam keeps 2 x 10 B.
    """
    tasks = (Task("F", 1, "L", "F"), Task("U", 1, "L", "U"))
    edges = (
        Edge("U", "F", 2, None, 10, weights="L", tensor="w:L"),
        Edge("F", "U", 0, None, 4, tensor="g:L"),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    platform = dataclasses.replace(Platform.default(1), optimizer_state=2.0)
    s = Schedule(graph, platform, 2, {"F": 0, "U": 0}, {"F": 0, "U": 1})
    rep = check_exact(s)
    assert rep.peak_memory == (2 * 10 + 4 + 2 * 10,)
    assert s.footprints() == [44.0]


# ------------------------------------------------------------------ deadlocks
def chain() -> Schedule:
    """``a`` (P0) -> ``b`` (P1) -> ``c`` (P0), 1 B each way (1 us), links never busy."""
    tasks = (Task("a", 2), Task("b", 2), Task("c", 2))
    edges = (
        Edge("a", "b", 0, None, 1, tensor="x:a"),
        Edge("b", "c", 0, None, 1, tensor="x:b"),
    )
    graph = TaskGraph(tasks, edges, time_unit="1us")
    platform = Platform(
        (Processor(), Processor()), Link(1e6, 0.0), Link(1e6, 0.0), capacity="delay"
    )
    s = Schedule(graph, platform, 8, {"a": 0, "b": 1, "c": 0}, {"a": 0, "b": 3, "c": 6})
    assert validate(s) == []
    return s


def broken(programs: Programs) -> Programs:
    """Processor 0 receives ``b``'s tensor before it computes ``a``, which ``b`` needs."""
    loop = [
        dataclasses.replace(a, time=0) if a.kind == "recv" and a.name == "x:b" else a
        for a in programs.loops[0]
    ]
    return dataclasses.replace(programs, loops=(tuple(loop), *programs.loops[1:]))


@pytest.mark.parametrize("mode", ["timed", "asap"])
def test_a_recv_before_its_own_dependency_deadlocks(mode: str) -> None:
    s = chain()
    assert simulate(s, iterations=5, mode=mode).deadlock is None
    rep = simulate(broken(build_programs(s)), iterations=5, mode=mode, schedule=s)
    d = rep.deadlock
    assert d is not None and rep.mean is None and rep.periods == ()
    waits = {w.processor: w for w in d.waits}
    assert set(waits) == {0, 1}
    assert (waits[0].tensor, waits[0].producer, waits[0].iteration, waits[0].peer) == (
        "x:b",
        "b",
        0,
        1,
    )
    assert (waits[1].tensor, waits[1].producer, waits[1].iteration, waits[1].peer) == (
        "x:a",
        "a",
        0,
        0,
    )
    assert "producer b (iteration 0) never ran" in waits[0].reason
    assert "processor 1 is blocked waiting for x:a" in waits[0].reason
    assert "producer a (iteration 0) never ran" in waits[1].reason
    assert "deadlock" in rep.summary() and "processor 0 waits for x:b" in rep.summary()
    assert rep.to_dict()["deadlock"]["waits"][0]["tensor"] == "x:b"


def test_a_missing_send_is_named() -> None:
    s = chain()
    programs = build_programs(s)
    loop = tuple(a for a in programs.loops[1] if a.kind != "send")
    rep = simulate(dataclasses.replace(programs, loops=(programs.loops[0], loop)), iterations=3)
    assert rep.deadlock is not None
    w, v = rep.deadlock.waits
    assert (w.processor, w.tensor, w.iteration, w.peer) == (0, "x:b", 0, 1)
    assert "has no such send" in w.reason
    # Processor 1 ran iteration 0 and now waits for a's tensor of iteration 1, after c.
    assert (v.processor, v.tensor, v.iteration, v.peer) == (1, "x:a", 1, 0)
    assert "producer a (iteration 1) never ran (processor 0 is blocked" in v.reason


def test_causality_check_catches_a_missing_recv() -> None:
    """Programs without a recv run, but the reader starts before its data: reported."""
    s = chain()
    programs = build_programs(s)
    loop = tuple(a for a in programs.loops[0] if a.kind != "recv")
    rep = simulate(
        dataclasses.replace(programs, loops=(loop, programs.loops[1])),
        iterations=3,
        mode="asap",
        schedule=s,
    )
    assert rep.deadlock is None and rep.violation_count == 3
    assert rep.violations[0].startswith("c (iteration 0) on processor 0 started at 2 before x:b")


# ------------------------------------------------------------------ jitter
@pytest.fixture(scope="module")
def alexnet() -> Result:
    graph = build_task_graph(get_network("alexnet"), "layerpipe", processors=4)
    return solve(graph, 4, "heuristic", deterministic=True)


@pytest.fixture(scope="module")
def alexnet_delay() -> Result:
    graph = build_task_graph(get_network("alexnet"), "layerpipe", processors=4)
    return solve(graph, delay(4), "heuristic", deterministic=True)


def test_zero_jitter_alexnet_on_ports(alexnet: Result) -> None:
    """A real network, LayerPipe, heuristic, default platform: exact, with busy ports."""
    rep = check_exact(alexnet.schedule)
    assert alexnet.schedule.transfers and any(x.busy for x in rep.ports)


def planned_starts(schedule: Schedule) -> dict[str, int]:
    return schedule.normalised().start


@pytest.mark.parametrize("jitter", [0.05, 0.3])
def test_timed_jitter_never_starts_early(alexnet: Result, jitter: float) -> None:
    """Timed: nothing starts before its time, so iterations never finish early but by jitter."""
    s = alexnet.schedule
    T = s.period
    rep = simulate(alexnet, iterations=60, jitter=jitter, seed=7, trace=True)
    planned = planned_starts(s)
    computes = [x for x in rep.spans if x.track == "compute"]
    assert all(x.start >= planned[x.name] + x.iteration * T for x in computes)
    assert any(x.start > planned[x.name] + x.iteration * T for x in computes)
    exact = simulate(alexnet, iterations=60).completions
    longest = max([s.duration(t.name) for t in s.graph.tasks] + [x.duration for x in s.transfers])
    assert all(c >= e - jitter * longest for c, e in zip(rep.completions, exact, strict=True))
    # Not an invariant (a late iteration followed by one on time is a short period), but
    # over the steady state the runtime never beats the period clock on these seeds.
    assert rep.mean >= T


def test_same_seed_same_report(alexnet: Result) -> None:
    a = simulate(alexnet, iterations=40, jitter=0.1, seed=3)
    b = simulate(alexnet, iterations=40, jitter=0.1, seed=3)
    c = simulate(alexnet, iterations=40, jitter=0.1, seed=4)
    assert a.to_dict() == b.to_dict()
    assert a.completions != c.completions


def test_asap_under_delay_is_never_later_than_scheduled(alexnet_delay: Result) -> None:
    """Self-timed without ports, jitter 0: by induction every action is no later than planned."""
    s = alexnet_delay.schedule
    T = s.period
    rep = simulate(alexnet_delay, iterations=60, mode="asap", trace=True)
    planned = planned_starts(s)
    computes = [x for x in rep.spans if x.track == "compute"]
    assert all(x.start <= planned[x.name] + x.iteration * T for x in computes)
    exact = simulate(alexnet_delay, iterations=60).completions
    assert all(c <= e for c, e in zip(rep.completions, exact, strict=True))
    assert rep.mean <= T and rep.violation_count == 0


def test_asap_under_ports(alexnet: Result) -> None:
    """Ports in the schedule's order (the default) never run late self-timed at jitter 0; first
    come first served may reorder transfers, so its period is only shown."""
    T = alexnet.schedule.period
    rep = simulate(alexnet, iterations=60, mode="asap")
    assert rep.deadlock is None and rep.violation_count == 0 and rep.mean is not None
    assert rep.mean <= T
    rep = simulate(alexnet, iterations=60, mode="asap", arbitration="fcfs")
    assert rep.deadlock is None and rep.violation_count == 0 and rep.mean is not None
    print(f"asap, ports fcfs, jitter 0: {rep.mean / T:.4f} x T")


def test_order_keeps_the_port_order_under_jitter(alexnet: Result) -> None:
    """``order``: on every port the transfers run in the schedule's order, whatever the jitter."""
    s = alexnet.schedule.normalised()
    rep = simulate(s, iterations=30, jitter=0.3, seed=5, arbitration="order", trace=True)
    planned = {(t.producer, t.tensor, t.dst): t.start for t in s.transfers}
    lanes: dict[tuple[int, str], list] = {}
    for x in rep.spans:
        if x.track != "compute" and x.end > x.start:
            lanes.setdefault((x.processor, x.track), []).append(x)
    assert lanes
    for spans in lanes.values():
        ran = sorted(spans, key=lambda x: x.start)
        assert all(a.end <= b.start for a, b in zip(ran, ran[1:], strict=False))  # one at a time
        order = [planned_start(x, planned, s.period) for x in ran]
        assert order == sorted(order)
    fcfs = simulate(s, iterations=30, jitter=0.3, seed=5, arbitration="fcfs", trace=True)
    assert fcfs.completions != rep.completions  # the arbitration is not a no-op here


def planned_start(x: Span, planned: dict[tuple[str, str, int], int], T: int) -> int:
    """The scheduled start of the transfer instance of the port span ``x``."""
    dst = x.peer if x.track.startswith("out") else x.processor
    return planned[(x.producer, x.name, dst)] + x.iteration * T


def test_arguments_are_checked(alexnet: Result) -> None:
    for kwargs in (
        {"iterations": 0},
        {"iterations": 2.0},
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"jitter": math.nan},
        {"jitter": True},
        {"seed": -1},
        {"mode": "fast"},
        {"arbitration": "random"},
    ):
        with pytest.raises(InputError):
            simulate(alexnet, **kwargs)
    with pytest.raises(InputError, match="no schedule"):
        simulate(Result(None, Status.UNKNOWN, 0, "heuristic", 0.0))


def test_few_iterations_have_no_steady_state(alexnet: Result) -> None:
    rep = simulate(alexnet, iterations=1)
    assert rep.deadlock is None and rep.mean is None and rep.periods == ()
    assert "too few iterations" in rep.summary()


# ------------------------------------------------------------------ the command
@pytest.fixture(scope="module")
def schedule_file(alexnet: Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("simulate") / "s.json"
    alexnet.to_json(path)
    return path


def test_cli_summary_line(schedule_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "simulate", str(schedule_file), "--iterations", "40")
    assert code == 0 and err == ""
    (line,) = out.splitlines()
    assert "period mean 1.755 ms (1.0000 x T)" in line and "p99 1.755 ms" in line
    assert "memory up to" in line and "busiest port" in line


def test_cli_json_and_trace(
    schedule_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.json"
    argv = ["simulate", str(schedule_file), "--iterations", "30", "--jitter", "0.1"]
    code, out, _ = run(capsys, *argv, "--seed", "2", "--json", "--trace", str(trace))
    assert code == 0
    data = json.loads(out)
    assert data["jitter"] == 0.1 and data["seed"] == 2 and data["deadlock"] is None
    mean = data["achieved_period"]["mean"]
    assert mean["ratio"] == mean["units"] / data["period"]["units"]
    lo, hi = data["depth"], 30 - 1 - data["depth"]
    done = data["completions"]
    assert mean["units"] == (done[hi] - done[lo]) / (hi - lo)
    assert len(data["periods"]) == hi - lo
    events = json.loads(trace.read_text())["traceEvents"]
    tasks = [e for e in events if e["ph"] == "X" and e["cat"] == "compute"]
    assert len(tasks) == 30 * len(json.loads(schedule_file.read_text())["assignments"])


def test_cli_deadlock_exits_1(
    schedule_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock (programs broken on purpose: a valid schedule has none) exits 1."""
    s = chain()
    path = schedule_file.parent / "chain.json"
    Result(s, Status.FEASIBLE, 0, "hand", 0.0).to_json(path)
    monkeypatch.setattr("lpsched.simulate.build_programs", lambda x: broken(build_programs(x)))
    code, out, err = run(capsys, "simulate", str(path), "--iterations", "4")
    assert code == 1
    assert "deadlock" in out and "processor 0 waits for x:b (iteration 0)" in err


@pytest.mark.parametrize(
    "flags",
    [
        ["--iterations", "0"],
        ["--iterations", "1.5"],
        ["--iterations", "1000000"],
        ["--jitter", "1"],
        ["--jitter", "-0.01"],
        ["--jitter", "nan"],
        ["--mode", "fast"],
        ["--trace", "t.txt"],
    ],
)
def test_cli_bad_flags_exit_2(
    schedule_file: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    code, out, err = run(capsys, "simulate", str(schedule_file), *flags)
    assert code == 2 and out == ""
    one_line_error(err)


def test_cli_bad_schedules_exit_2(
    schedule_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(schedule_file.read_text())
    data["period"] = data["period"] // 2  # tasks now overlap
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    code, out, err = run(capsys, "simulate", str(bad))
    assert code == 2 and out == ""
    assert "invalid schedule" in one_line_error(err)
    code, out, err = run(capsys, "simulate", str(tmp_path / "missing.json"))
    assert code == 2 and out == ""
    one_line_error(err)


def test_cli_export_and_simulate_refuse_alike(
    schedule_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One reader for both commands: the same line for an invalid schedule, for a bad count."""
    data = json.loads(schedule_file.read_text())
    data["period"] = data["period"] // 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    trace = tmp_path / "t.json"
    lines = []
    for argv in (["simulate", str(bad)], ["export", str(bad), "--trace", str(trace)]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and not trace.exists()
        lines.append(one_line_error(err))
    assert lines[0] == lines[1] and f"lpsched validate {bad} lists them" in lines[0]
    for command, top in (("simulate", "100,000"), ("export", "1,000,000")):
        argv = [command, str(schedule_file), "--trace", str(trace), "-n", "0"]
        code, out, err = run(capsys, *argv)
        assert code == 2 and not trace.exists()
        assert f"must be an integer from 1 to {top}, got 0" in one_line_error(err)
    code, out, _ = run(capsys, "simulate", str(schedule_file), "-n", "12")
    assert code == 0 and out.startswith("simulated 12 iterations")


# ------------------------------------------------------------------ the benchmark script
def test_jitter_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/jitter.py on a tiny grid: one row, jitter 0 exact, ratios printed."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(
        "benchmarks_jitter", root / "benchmarks/jitter.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--nets", "alexnet", "--procs", "4", "--solvers", "pipedream", "--seeds", "2"]
    assert module.main([*argv, "--iterations", "40", "--jitters", "0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["net", "P", "solver"] and len(lines) == 3
    cells = lines[2].split()
    assert cells[:3] == ["alexnet", "4", "pipedream"] and cells[9] == "1"
    assert all(float(x) >= 0.9 for x in cells[10:]) and len(cells) == 14
