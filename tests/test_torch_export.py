"""``lpsched export --torch-pipelining``: the CSV is read back by torch's own loader.

torch's ``_PipelineScheduleRuntime._load_csv`` parses every cell (``_Action.from_str``),
validates the order (``_validate_schedule``: F before I before W per stage and
microbatch, every microbatch once) and lowers a compute-only schedule with its own
``_add_send_recv``; ``_simulate_comms_compute`` then dry-runs the sends and receives
of every rank for deadlocks. None of it needs a process group: the schedule object is
made without ``__init__`` (which wants pipeline stages on a process group) and given
the few attributes those methods read.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys

import pytest

from lpsched import build_task_graph, get_network, solve
from lpsched.cli import main
from lpsched.errors import InputError
from lpsched.graph import Task, TaskGraph
from lpsched.programs import COMPUTE_OPS, build_programs
from lpsched.schedule import Result, Schedule, Status
from lpsched.torch_export import stages_of, torch_actions, torch_csv
from lpsched.validate import validate
from tests.cli_helpers import one_line_error, run

pytest.importorskip("torch")
schedules = pytest.importorskip("torch.distributed.pipelining.schedules")

CASES = [
    ("lenet5", "pipedream", 2, "pipedream"),
    ("lenet5", "layerpipe", 4, "pipedream"),
    ("mlp", "layerpipe", 4, "pipedream"),
    ("mlp", "pipedream", 3, "pipedream"),
    ("mlp", "layerpipe", 4, "stages"),  # the heuristic leaves a processor without a layer
    ("alexnet", "intra", 4, "stages"),
    ("resnet18", "layerpipe", 4, "stages"),
]


@functools.cache
def _schedule(net: str, decomposition: str, P: int, how: str) -> Schedule:
    graph = build_task_graph(get_network(net), decomposition=decomposition, processors=P)
    if how == "pipedream":
        result = solve(graph, P, "pipedream", deterministic=True)
    else:
        result = solve(graph, P, "heuristic", deterministic=True, placement=how)
    assert result.schedule is not None and validate(result.schedule) == []
    return result.schedule


def _torch_load(path: str, fmt: str, stages: int, microbatches: int):
    """torch's runtime schedule, loaded from ``path`` by torch's ``_load_csv``."""
    sched = schedules._PipelineScheduleRuntime.__new__(schedules._PipelineScheduleRuntime)
    sched.pipeline_order = {}
    sched.pp_group_size = stages
    sched._num_stages = stages
    sched._n_microbatches = microbatches
    sched._stages = []
    sched._defer_pp_recv = False
    sched._load_csv(path, format=fmt)
    return sched


def _simulate(sched, stages: int) -> dict:
    """torch's dry run of the sends and receives (``_simulate_comms_compute``).

    torch's simulator knows only compute and send/recv actions, not the UNSHARD,
    RESHARD and REDUCE_GRAD that its own compute-only lowering adds (and that a
    compute_comms export holds): those are left out.
    """
    C = schedules._ComputationType
    keep = {C.FORWARD, C.BACKWARD_INPUT, C.BACKWARD_WEIGHT, C.FULL_BACKWARD}
    keep |= {C.SEND_F, C.RECV_F, C.SEND_B, C.RECV_B}
    order = {
        rank: [a for a in actions if a.computation_type in keep]
        for rank, actions in sched.pipeline_order_with_comms.items()
    }
    return schedules._simulate_comms_compute(
        order, lambda s: sched.stage_index_to_group_rank[s], stages
    )


def _expected_rows(s: Schedule, N: int) -> list[list[str]]:
    """The rows recomputed from the start times: each action at its first task's start."""
    lo = min(s.start.values())
    stages = stages_of(s)
    rows = []
    for st in stages:
        first: dict[tuple[str, int], int] = {}
        for t in s.graph.tasks:
            op = COMPUTE_OPS[t.kind]
            if s.processor[t.name] != st.processor or op == "U":
                continue
            op = "B" if st.backward == ("B",) and op != "F" else op
            for i in range(N):
                at = s.start[t.name] - lo + i * s.period
                first[(op, i)] = min(first.get((op, i), at), at)
        rows.append([f"{st.index}{op}{i}" for (op, i) in sorted(first, key=first.get)])
    return rows


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_torch_reads_the_export(case, tmp_path) -> None:
    s = _schedule(*case)
    programs = build_programs(s)
    N = max(programs.depth + 2, 4)
    stages = stages_of(s)
    S = len(stages)
    # Ranks are stages, in layer order; each runs whole layers of one processor.
    assert [st.index for st in stages] == list(range(S))
    assert len({st.processor for st in stages}) == S
    rows = torch_actions(s, programs, N)
    assert rows == _expected_rows(s, N)
    path = tmp_path / "only.csv"
    path.write_text(torch_csv(rows))
    sched = _torch_load(str(path), "compute_only", S, N)
    assert sched.stage_index_to_group_rank == {i: i for i in range(S)}
    simulated = _simulate(sched, S)
    done = [a for row in simulated.values() for a in row if a is not None]
    assert len([a for a in done if a.is_compute_op]) == sum(len(r) for r in rows)
    comms = torch_actions(s, programs, N, comms=True)
    path = tmp_path / "comms.csv"
    path.write_text(torch_csv(comms))
    sched = _torch_load(str(path), "compute_comms", S, N)
    simulated = _simulate(sched, S)  # torch's own dry run of our sends and receives
    reduce = [a for row in sched.pipeline_order_with_comms.values() for a in row]
    assert [str(a) for a in reduce if "REDUCE" in str(a)] == [f"{i}REDUCE_GRAD" for i in range(S)]
    sent = [a for row in simulated.values() for a in row if a is not None and not a.is_compute_op]
    assert len(sent) == 4 * N * (S - 1)  # SEND_F, RECV_F, SEND_B, RECV_B per boundary


def test_torch_rejects_a_wrong_order(tmp_path) -> None:
    """The check can fail: torch's validator refuses W before I."""
    s = _schedule("mlp", "layerpipe", 4, "pipedream")
    rows = torch_actions(s, build_programs(s), 4)
    row = rows[0]
    i, w = row.index("0I0"), row.index("0W0")
    row[i], row[w] = row[w], row[i]
    path = tmp_path / "bad.csv"
    path.write_text(torch_csv(rows))
    with pytest.raises(AssertionError, match="Backward Weight"):
        _torch_load(str(path), "compute_only", len(rows), 4)


def test_not_stage_shaped() -> None:
    free = _schedule("mlp", "layerpipe", 4, "free")
    split = [
        layer
        for layer in free.graph.layers
        if len({free.processor[t.name] for t in free.graph.tasks if t.layer == layer}) > 1
    ]
    assert split, "the free schedule keeps every layer whole"
    with pytest.raises(InputError, match=f"layer {split[0]} is split across processors"):
        stages_of(free)
    tasks = tuple(Task(f"{k}:{x}", 1, x, k) for x in "abc" for k in "FB")
    graph = TaskGraph(tasks, (), time_unit="us")
    where = {t.name: 1 if t.layer == "b" else 0 for t in tasks}
    s = Schedule(graph, 2, 6, where, {t.name: i for i, t in enumerate(tasks)})
    with pytest.raises(InputError, match="processor 0 runs layer c"):
        stages_of(s)
    alone = dataclasses.replace(s, processor=dict.fromkeys(where, 0))
    assert [st.layers for st in stages_of(alone)] == [("a", "b", "c")]


def test_export_cli(tmp_path, capsys) -> None:
    s = _schedule("mlp", "layerpipe", 4, "stages")
    path = tmp_path / "s.json"
    Result(s, Status.FEASIBLE, 0, "heuristic", 0.0).to_json(path)
    out = tmp_path / "t.csv"
    code, _, err = run(
        capsys,
        "export",
        str(path),
        "--torch-pipelining",
        str(out),
        "--torch-format",
        "compute_comms",
        "-n",
        "5",
    )
    assert code == 0, err
    stages = stages_of(s)
    assert f"{len(stages)} stages (rank 0 = processor {stages[0].processor}" in err
    assert "5 microbatches, compute_comms" in err
    sched = _torch_load(str(out), "compute_comms", len(stages), 5)
    assert _simulate(sched, len(stages))
    code, _, err = run(capsys, "export", str(path), "--torch-pipelining", str(out), "-n", "1")
    assert code == 0 and "1 microbatch, compute_only" in err  # (one, not "1 microbatches")
    one = _torch_load(str(out), "compute_only", len(stages), 1)
    assert one.stage_index_to_group_rank == {i: i for i in range(len(stages))}
    done = [a for row in _simulate(one, len(stages)).values() for a in row if a is not None]
    assert len([a for a in done if a.is_compute_op]) == 3 * len(stages)  # F, I, W per stage
    free = _schedule("mlp", "layerpipe", 4, "free")
    Result(free, Status.FEASIBLE, 0, "heuristic", 0.0).to_json(path)
    out.unlink()
    code, _, err = run(capsys, "export", str(path), "--torch-pipelining", str(out))
    assert code == 2 and "not stage-shaped" in one_line_error(err)
    assert not out.exists()


# ------------------------------------------------------ a real run: torch on 2 CPU processes
def _tiny_model():
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers = [("fc1", nn.Linear(256, 512)), ("relu1", nn.ReLU()), ("fc2", nn.Linear(512, 512))]
    layers += [("relu2", nn.ReLU()), ("fc3", nn.Linear(512, 512)), ("relu3", nn.ReLU())]
    layers += [("fc4", nn.Linear(512, 10))]
    from collections import OrderedDict

    return nn.Sequential(OrderedDict(layers)), torch.randn(32, 256)


def _worker(schedule_path: str, microbatches: int, out: str, *csvs: str) -> None:
    """One torch rank: run one step of each exported CSV, compare gradients with the whole model.

    This is the script of docs/torch_pipelining.md, with the check added.
    """
    import torch
    import torch.distributed as dist
    from torch.distributed.pipelining import PipelineStage

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    stages = stages_of(Result.read(schedule_path).schedule)
    assert world == len(stages)
    model, _ = _tiny_model()
    children = list(model.named_children())
    names = [name for name, _ in children]
    begin = [names.index(st.layers[0]) for st in stages] + [len(children)]
    part = torch.nn.Sequential(*[m for _, m in children[begin[rank] : begin[rank + 1]]])
    torch.manual_seed(1)
    x, y = torch.randn(32, 256), torch.randint(0, 10, (32,))
    whole, _ = _tiny_model()
    torch.nn.functional.cross_entropy(whole(x), y).backward()
    want = dict(whole.named_parameters())
    for path in csvs:
        fmt = "compute_comms" if "comms" in path else "compute_only"
        stage = PipelineStage(part, rank, len(stages), torch.device("cpu"))
        pipe = schedules._PipelineScheduleRuntime(
            [stage], n_microbatches=microbatches, loss_fn=torch.nn.functional.cross_entropy
        )
        pipe._load_csv(path, format=fmt)
        part.zero_grad(set_to_none=True)
        if rank == 0:
            pipe.step(x)
        elif rank == world - 1:
            pipe.step(target=y)
        else:
            pipe.step()
        err = 0.0
        for name, p in part.named_parameters():
            index, what = name.split(".")
            ref = want[f"{names[begin[rank] + int(index)]}.{what}"].grad
            err = max(err, (p.grad - ref).abs().max().item())
        with open(f"{out}.{rank}", "a") as f:  # one file per rank: stdout would interleave
            f.write(f"rank {rank} {fmt} max gradient error {err:.3g}\n")
    dist.destroy_process_group()


def test_torch_runs_the_export_on_two_processes(tmp_path) -> None:
    """torch.distributed.pipelining runs both CSVs on 2 CPU ranks (gloo): the gradients of one
    step equal those of the unsplit model (torch averages over the microbatches)."""
    import socket
    import subprocess
    import sys

    import torch.distributed as dist

    from lpsched import from_torch

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed without gloo")
    graph = build_task_graph(from_torch(*_tiny_model()), decomposition="layerpipe", processors=2)
    result = solve(graph, 2, "pipedream", deterministic=True)
    assert result.schedule is not None and len(stages_of(result.schedule)) == 2
    path = tmp_path / "s.json"
    result.to_json(path)
    N = 4
    csvs = [str(tmp_path / "only.csv"), str(tmp_path / "comms.csv")]
    for out, fmt in zip(csvs, ("compute_only", "compute_comms"), strict=True):
        code = main(
            ["export", str(path), "--torch-pipelining", out, "--torch-format", fmt, "-n", str(N)]
        )
        assert code == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
        __file__,
        "--worker",
        str(path),
        str(N),
        str(tmp_path / "errors"),
        *csvs,
    ]
    # The worker imports this file as a script: the repository must be on its path. One
    # thread per rank: the machine's cores are shared.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([_root(), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=_root(), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for r in (0, 1) for line in (tmp_path / f"errors.{r}").read_text().splitlines()]
    assert len(lines) == 4, lines
    for line in lines:
        assert float(line.rsplit(" ", 1)[1]) < 1e-6, line


def _root() -> str:
    import pathlib

    return str(pathlib.Path(__file__).resolve().parents[1])


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--worker":
    _worker(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:])
