"""A stage-shaped schedule as the per-rank action CSV of ``torch.distributed.pipelining``.

torch's pipeline runtime (``_PipelineScheduleRuntime._load_csv``) reads one CSV
row per rank; each cell is an action ``{stage}{op}{microbatch}`` such as
``0F3`` (stage 0, forward of microbatch 3), ``1I0`` (backward input), ``1W0``
(backward weight) or ``2B1`` (full backward). With ``compute_comms`` the rows
also hold ``SEND_F``/``RECV_F``/``SEND_B``/``RECV_B`` actions; with
``compute_only`` torch inserts them itself.

Only **stage-shaped** schedules have such a form: every layer's tasks on one
processor, and each processor's layers one contiguous interval of the graph's
layer order (a task without a layer is a layer of its own), which
:func:`stages_of` checks from the processor map whatever the schedule's
``placement`` says. Stage ``s`` is the ``s``-th interval in layer order; torch
rank ``s`` runs stage ``s`` (ranks are renumbered: a processor with no layer
gets no rank, since each torch rank must own a stage). ``N`` microbatches are
lpsched iterations ``0 .. N-1`` of the unrolled programs
(:meth:`lpsched.programs.Programs.unrolled`).

Per stage and microbatch there is one ``F`` (all the stage's F tasks), one
``I`` (its D, G, A tasks) and one ``W`` (its W, WU tasks); a stage of B tasks
(the pipedream decomposition), or one without weight tasks, has one ``B``
instead. U tasks are dropped: torch steps the optimizer after the step. Each
action sits at the start of its first task instance; the rows are in time order.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from .errors import InputError
from .placement import placement_units
from .programs import COMPUTE_OPS, OTHER_OP, Action, Programs
from .schedule import Schedule

#: The formats torch's ``_PipelineScheduleRuntime._load_csv`` reads.
TORCH_FORMATS = ("compute_only", "compute_comms")

#: Which torch action each lpsched compute op joins (U and unknown kinds join none).
_JOINS = {"F": "F", "I": "I", "W": "W", "B": "B"}


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: a processor and its contiguous layers.

    Parameters
    ----------
    index
        The stage index (its torch rank).
    processor
        The lpsched processor that runs it.
    layers
        Its layers in layer order (``"task NAME"`` for a task without a layer).
    backward
        ``("I", "W")`` when it splits its backward pass, ``("B",)`` otherwise.
    """

    index: int
    processor: int
    layers: tuple[str, ...]
    backward: tuple[str, ...]


def stages_of(schedule: Schedule) -> list[Stage]:
    """The stages of a stage-shaped schedule, in layer order.

    Raises
    ------
    InputError
        Naming a layer split across processors, or a processor whose layers
        are not contiguous.
    """
    graph = schedule.graph
    stages: list[tuple[int, list[str], set[str]]] = []
    seen: set[int] = set()
    for unit in placement_units(graph):
        tasks = [graph.tasks[v] for v in unit]
        layer = tasks[0].layer or f"task {tasks[0].name}"
        procs = sorted({schedule.processor[t.name] for t in tasks})
        if len(procs) > 1:
            raise InputError(
                f"not stage-shaped: layer {layer} is split across processors "
                f"{', '.join(map(str, procs))}; torch.distributed.pipelining runs whole layers "
                "(solve with --placement stages or --solver pipedream)"
            )
        p = procs[0]
        if stages and stages[-1][0] == p:
            stages[-1][1].append(layer)
        elif p in seen:
            raise InputError(
                f"not stage-shaped: processor {p} runs layer {layer} and layers before "
                f"{stages[-1][1][0]}, not one contiguous range (solve with --placement stages)"
            )
        else:
            seen.add(p)
            stages.append((p, [layer], set()))
        stages[-1][2].update(_JOINS.get(_op(t.kind), "") for t in tasks)
    return [
        Stage(s, p, tuple(layers), ("I", "W") if {"I", "W"} <= ops and "B" not in ops else ("B",))
        for s, (p, layers, ops) in enumerate(stages)
    ]


def _op(kind: str) -> str:
    """The compute op of a task kind (:data:`lpsched.programs.COMPUTE_OPS`)."""
    return COMPUTE_OPS.get(kind, OTHER_OP)


@dataclass(frozen=True)
class _Cell:
    """One torch action of one rank, with the time it sits at (ties: recv, compute, send)."""

    time: int
    tie: int
    text: str


def torch_actions(
    schedule: Schedule, programs: Programs, iterations: int, comms: bool = False
) -> list[list[str]]:
    """Per torch rank (= stage), its actions for ``iterations`` microbatches, in time order.

    Parameters
    ----------
    schedule
        The schedule the programs come from (stage-shaped, :func:`stages_of`).
    programs
        Its programs (:func:`lpsched.programs.build_programs`).
    iterations
        ``N``: microbatches ``0 .. N-1``.
    comms
        Also write ``SEND_*``/``RECV_*`` actions (torch's ``compute_comms`` format).

    Raises
    ------
    InputError
        When the schedule is not stage-shaped, or its order is one torch's
        rules refuse (never for a valid schedule of a built network: see
        :func:`_first_times`).
    """
    stages = stages_of(schedule)
    unrolled = programs.unrolled(iterations)
    first = _first_times(stages, unrolled, iterations)
    cells: list[list[_Cell]] = [[] for _ in stages]
    for (s, op, i), t in first.items():
        cells[s].append(_Cell(t, 1, f"{s}{op}{i}"))
    if comms:
        _add_comms(cells, stages, unrolled, first, iterations)
    rows = [[c.text for c in sorted(row, key=lambda c: (c.time, c.tie))] for row in cells]
    if comms:
        for st, row in zip(stages, rows, strict=True):
            # torch's own lowering (_add_reduce_grad) puts the stage's gradient reduction,
            # which also scales the gradients by 1/N, right after its last backward; a
            # compute_comms schedule must say it itself, or the gradients stay N times larger.
            last = row.index(f"{st.index}{st.backward[-1]}{_last_backward(first, st)}")
            row.insert(last + 1, f"{st.index}REDUCE_GRAD")
    return rows


def _last_backward(first: dict[tuple[int, str, int], int], st: Stage) -> int:
    """The microbatch whose last backward action (W or B) the stage runs last."""
    op = st.backward[-1]
    return max((t, i) for (s, o, i), t in first.items() if s == st.index and o == op)[1]


def _first_times(
    stages: list[Stage], unrolled: list[list[Action]], iterations: int
) -> dict[tuple[int, str, int], int]:
    """``(stage, op, microbatch) -> time`` of the first task instance that makes up each action.

    Why this order satisfies torch's rules (``_validate_schedule``: F before I
    before W per stage and microbatch; ``_add_send_recv``: F of stage ``s``
    after F of stage ``s-1``, I or B of stage ``s`` after that of ``s+1``):
    times are the schedule's own, and in a valid schedule a task starts after
    every task it reads from (same iteration, distance 0) has ended. A stage's
    first D or A task reads the activation its layer's F task made, its first
    W task reads a D task's delta, and its first backward task reads the
    gradient the next stage's backward sends; its first F task reads the
    previous stage's activation. Distinct task instances on one processor
    never start at once, so the times order the actions strictly. The checks
    below make this an error instead of a torch assertion for a hand-written
    graph whose edges do not follow the pattern.
    """
    by_proc = {st.processor: st for st in stages}
    first: dict[tuple[int, str, int], int] = {}
    for p, actions in enumerate(unrolled):
        st = by_proc.get(p)
        for a in actions:
            op = _JOINS.get(a.op) if a.kind == "compute" else None
            if st is None or op is None:
                continue
            if st.backward == ("B",) and op in ("I", "W"):
                op = "B"
            key = (st.index, op, a.iteration)
            first.setdefault(key, a.time)  # actions are in time order
    for st in stages:
        for i in range(iterations):
            ops = ("F", *st.backward)
            missing = [op for op in ops if (st.index, op, i) not in first]
            if missing:
                raise InputError(
                    f"stage {st.index} (processor {st.processor}) has no {missing[0]} task: "
                    "torch needs a forward and a backward pass in every stage"
                )
            times = [first[(st.index, op, i)] for op in ops]
            if times != sorted(times):
                raise InputError(
                    f"stage {st.index}, microbatch {i}: {' before '.join(ops)} does not hold in "
                    "the schedule's times"
                )
            _check_neighbours(first, st.index, len(stages), i, st.backward[0])
    return first


def _check_neighbours(
    first: dict[tuple[int, str, int], int], s: int, S: int, i: int, backward: str
) -> None:
    """F of stage ``s`` after F of ``s-1``; the backward of ``s`` after that of ``s+1``."""
    if s > 0 and first[(s, "F", i)] <= first[(s - 1, "F", i)]:
        raise InputError(f"microbatch {i}: stage {s} starts its forward before stage {s - 1}")
    if s + 1 < S:
        nxt = first.get((s + 1, "I", i), first.get((s + 1, "B", i)))
        if nxt is not None and first[(s, backward, i)] <= nxt:
            raise InputError(f"microbatch {i}: stage {s} starts its backward before stage {s + 1}")


def _add_comms(
    cells: list[list[_Cell]],
    stages: list[Stage],
    unrolled: list[list[Action]],
    first: dict[tuple[int, str, int], int],
    iterations: int,
) -> None:
    """Torch's SEND/RECV between adjacent stages, at the programs' times.

    ``{s}SEND_F{i}`` sits at the first send of a forward tensor from stage
    ``s`` to stage ``s+1`` for microbatch ``i`` (after the F action when none
    crosses); ``{s+1}RECV_F{i}`` right before stage ``s+1``'s F of ``i``,
    since torch's F waits for all its inputs. Likewise ``SEND_B`` and
    ``RECV_B`` towards the previous stage. A send never comes after its recv.
    """
    rank_of = {st.processor: st.index for st in stages}
    sends: dict[tuple[int, str, int], int] = {}
    for p, actions in enumerate(unrolled):
        for a in actions:
            if a.kind != "send" or a.op not in ("SEND_F", "SEND_B") or p not in rank_of:
                continue
            s, q = rank_of[p], rank_of.get(a.peer if a.peer is not None else -1)
            if q == s + (1 if a.op == "SEND_F" else -1):
                sends.setdefault((s, a.op, a.iteration), a.time)
    S = len(stages)
    for st in stages:
        s, back = st.index, st.backward[0]
        for i in range(iterations):
            pairs = []
            if s + 1 < S:
                pairs.append((s, "F", s + 1, "F"))
            if s > 0:
                pairs.append((s, back, s - 1, stages[s - 1].backward[0]))
            for src, op, dst, reader in pairs:
                kind = "F" if op == "F" else "B"
                t_send = sends.get((src, f"SEND_{kind}", i), first[(src, op, i)])
                t_recv = first[(dst, reader, i)]
                if t_send > t_recv:
                    raise InputError(
                        f"microbatch {i}: stage {dst} needs stage {src}'s {kind} tensors at "
                        f"{t_recv}, before they are sent at {t_send}"
                    )
                cells[src].append(_Cell(t_send, 2, f"{src}SEND_{kind}{i}"))
                cells[dst].append(_Cell(t_recv, 0, f"{dst}RECV_{kind}{i}"))


def torch_csv(rows: list[list[str]]) -> str:
    """The CSV torch reads: one row per rank, one action per cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def skipping_tensors(schedule: Schedule, stages: list[Stage]) -> list[str]:
    """Tensors that cross between stages that are not adjacent (torch's runtime sends none)."""
    index = {st.processor: st.index for st in stages}
    out = []
    for m in schedule.messages():
        a, b = index.get(m.src), index.get(m.dst)
        if a is not None and b is not None and abs(a - b) > 1:
            out.append(f"{m.tensor} (stage {a} -> {b})")
    return out
