"""Per-processor programs: what each processor computes, sends and receives, window by window.

A periodic schedule (:class:`~lpsched.schedule.Schedule`) says when iteration
``i`` of every task runs: ``[s_v + i*T, s_v + i*T + d_v)`` on ``p_v``. A runtime
needs it the other way round: per processor, a list of actions in time order.
:func:`build_programs` turns a schedule into such programs; it is the contract
between lpsched and anything that runs or simulates a schedule.

Windows and the loop
--------------------
The schedule is normalised first (:meth:`Schedule.normalised`: every start
``>= 0``). Window ``k`` is the time interval ``[kT, (k+1)T)``. In the loop body
of window ``k`` every task appears once, at ``time = s_v mod T`` within the
window, and runs iteration ``k + offset`` with ``offset = -(s_v // T)`` (an
action's :attr:`Action.iteration` in a loop is this offset, never positive).
``depth`` is the largest ``-offset`` over all actions (messages included).
Running ``N`` iterations takes windows ``0 .. N + depth - 1``: windows
``0 .. depth-1`` are the **prologue** (an action runs there only when its
iteration ``k + offset >= 0``), windows ``depth .. N-1`` the steady-state
**loop** (every action runs), windows ``N .. N+depth-1`` the **epilogue** (only
iterations ``<= N-1``). :meth:`Programs.unrolled` lists every action of
iterations ``0 .. N-1`` with absolute iterations and times; instance ``i`` of an
action of loop time ``t`` and offset ``o`` runs at ``(i - o) T + t``, which is
``s_v + i T`` for a task. With ``N < depth`` there is no loop window: windows
``0 .. N-1`` are the prologue and ``N .. N+depth-1`` the epilogue.

Messages
--------
* One per tensor, destination processor and producer iteration, as
  :meth:`Schedule.messages` and the schedule's transfers define them: a
  ``send`` on the producer's processor and a ``recv`` on the destination,
  with the same :attr:`Action.name` (the tensor), :attr:`Action.producer` and
  :attr:`Action.iteration` (the producer's iteration).
* Under ``capacity: ports`` the send sits at the transfer's start
  (:attr:`Transfer.start`) and lasts :attr:`Transfer.duration` (the time it
  busies the ports); the tensor may be read ``latency = ceil(latency / unit)``
  after the send ends. Under ``capacity: delay`` the send sits at the
  producer's end, lasts 0, and ``latency`` is the whole delay cost
  ``ceil((latency + bytes / bandwidth) / unit)`` (:func:`~lpsched.problem.message_units`).
* An edge with a fixed ``comm`` that crosses processors is a pure delay in
  both models: a send of duration 0 at the producer's end with ``latency =
  comm``, one per (producer, tensor, destination, comm). An edge that carries
  no bytes and has no fixed ``comm`` (no data, only an order) crosses as such
  a message with latency 0, so that a runtime that follows the messages keeps
  every dependency between processors.
* A **send is non-blocking**: a runtime posts it when its time has come and
  its producer has finished; it never waits for the compute before it.
* The **recv** sits on the destination right before the first reader
  instance of that producer iteration (an edge of distance ``delta``: reader
  iteration ``i`` reads producer iteration ``i - delta``; the first reader has
  the smallest ``s_v + delta T``) and **blocks** until the tensor has arrived
  (send end + latency). In a valid schedule it has arrived by then: the
  validator checks exactly these times.
* Ties in time order: recv before compute before send.

Durations come from :meth:`Schedule.duration` (``ceil(d / speed)``); latencies
and transfer times from the embedded platform and the graph's time unit, as
the validator computes them.

Notation
--------
:attr:`Action.op` follows the action IR of ``torch.distributed.pipelining``
(``F``, ``I``, ``W``, ``B``, ``SEND_F``, ...); :data:`TORCH_EQUIVALENT` maps
each op to torch's name for it, or ``None`` where torch has none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from .graph import Edge
from .problem import ceil_units, message_units
from .schedule import Schedule, tensor_name

#: Compute op of each task kind (after torch's action IR: I = backward input, W = backward
#: weight, B = full backward). A kind not listed (hand-written graphs) is :data:`OTHER_OP`.
COMPUTE_OPS = {
    "F": "F",
    "D": "I",
    "G": "I",
    "A": "I",
    "W": "W",
    "WU": "W",
    "B": "B",
    "U": "U",
}

#: The compute op of a task whose kind is not in :data:`COMPUTE_OPS`.
OTHER_OP = "C"

#: Message direction of each producer kind: what the tensor it produces is.
MESSAGE_CLASSES = {
    "F": "F",
    "D": "B",
    "G": "B",
    "A": "B",
    "B": "B",
    "W": "W",
    "WU": "W",
    "U": "W",
}

#: Each op and its name in ``torch.distributed.pipelining`` (``_ComputationType``), or
#: ``None`` where torch has no equivalent: ``U`` (torch steps the optimizer outside its
#: schedule), ``SEND_W``/``RECV_W`` (weights or weight gradients sent to another stage:
#: torch's stages own their weights), ``C``/``SEND``/``RECV`` (tasks of no known kind).
TORCH_EQUIVALENT: dict[str, str | None] = {
    "F": "F",
    "I": "I",
    "W": "W",
    "B": "B",
    "U": None,
    "C": None,
    "SEND_F": "SEND_F",
    "RECV_F": "RECV_F",
    "SEND_B": "SEND_B",
    "RECV_B": "RECV_B",
    "SEND_W": None,
    "RECV_W": None,
    "SEND": None,
    "RECV": None,
}

#: What each op means, for the export's ``notation``.
OP_MEANING = {
    "F": "forward (F tasks)",
    "I": "backward input: activation gradient (D, G, A tasks)",
    "W": "backward weight: weight gradient (W, WU tasks)",
    "B": "full backward (B tasks)",
    "U": "weight update (U tasks)",
    "C": "a task of no known kind",
    "SEND_F": "send a forward tensor (produced by an F task)",
    "RECV_F": "receive a forward tensor",
    "SEND_B": "send a backward tensor (produced by D, G, A, B)",
    "RECV_B": "receive a backward tensor",
    "SEND_W": "send weights or weight gradients (produced by W, WU, U)",
    "RECV_W": "receive weights or weight gradients",
    "SEND": "send a tensor of a task of no known kind",
    "RECV": "receive a tensor of a task of no known kind",
}

#: Action kinds, in the order ties in time are broken.
ACTION_KINDS = ("recv", "compute", "send")

#: The phases of an unrolled program.
PHASES = ("prologue", "loop", "epilogue")


@dataclass(frozen=True)
class Action:
    """One thing a processor does once per iteration: compute a task, send or receive a tensor.

    Parameters
    ----------
    op
        The op (:data:`TORCH_EQUIVALENT` lists them).
    kind
        ``"compute"``, ``"send"`` or ``"recv"``.
    name
        Compute: the task's name; send and recv: the tensor's name.
    iteration
        In a loop: the offset added to the window counter ``k`` (``<= 0``);
        unrolled: the absolute iteration (of the task; of its producer for a message).
    time
        In a loop: the time within the window, ``0 <= time < T``; unrolled: absolute.
    duration
        Compute: the task's duration on this processor; send: the time the
        transfer busies the ports (0 under ``delay`` and for a fixed ``comm``);
        recv: 0.
    peer
        Send: the destination processor; recv: the source; compute: ``None``.
    producer
        Send and recv: the task that produces the tensor.
    bytes
        Send and recv: the tensor's bytes (0 for a fixed ``comm``).
    link
        Send and recv: the link class, ``"intra"`` or ``"inter"``.
    latency
        Send and recv: time units from the end of the send until the tensor
        may be read at the destination.
    """

    op: str
    kind: str
    name: str
    iteration: int
    time: int
    duration: int
    peer: int | None = None
    producer: str | None = None
    bytes: int = 0
    link: str | None = None
    latency: int = 0

    @property
    def end(self) -> int:
        """``time + duration``."""
        return self.time + self.duration

    def sort_key(self) -> tuple[int, int, str, str]:
        """Time order, ties broken recv before compute before send, then by name."""
        return (self.time, ACTION_KINDS.index(self.kind), self.name, self.producer or "")


@dataclass(frozen=True)
class Programs:
    """Every processor's program: one steady-state window, its prologue and epilogue.

    Parameters
    ----------
    period
        The period ``T`` in time units.
    depth
        The number of prologue windows (equal to the number of epilogue windows).
    capacity
        The platform's link model, ``"ports"`` or ``"delay"``.
    loops
        Per processor: the actions of one steady-state window, in time order.
    time_unit_seconds
        The graph's time unit in seconds, ``None`` when it is no time.
    """

    period: int
    depth: int
    capacity: str
    loops: tuple[tuple[Action, ...], ...]
    time_unit_seconds: float | None

    @property
    def processors(self) -> int:
        """Number of processors."""
        return len(self.loops)

    def phase(self, window: int, iterations: int) -> str:
        """The phase of window ``window`` when ``iterations`` iterations run."""
        if window >= iterations:
            return "epilogue"
        return "prologue" if window < self.depth else "loop"

    def unrolled(self, iterations: int) -> list[list[Action]]:
        """Per processor, every action of iterations ``0 .. N-1``, absolute, in time order.

        Parameters
        ----------
        iterations
            ``N >= 1``.

        Returns
        -------
        list of list of Action
            Actions with absolute :attr:`Action.iteration` and :attr:`Action.time`;
            the window of an action is ``time // period``.
        """
        if iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {iterations}")
        T = self.period
        out = []
        for loop in self.loops:
            actions = [
                replace(a, iteration=i, time=(i - a.iteration) * T + a.time)
                for a in loop
                for i in range(iterations)
            ]
            actions.sort(key=Action.sort_key)
            out.append(actions)
        return out

    def default_iterations(self) -> int:
        """A number of iterations that shows the steady state: ``2 depth + 2``.

        The prologue and the epilogue take ``depth`` windows each; this leaves
        ``depth + 2`` loop windows between them (at least two).
        """
        return 2 * self.depth + 2


def build_programs(schedule: Schedule) -> Programs:
    """The per-processor programs of ``schedule`` (the module docstring says what they mean).

    Parameters
    ----------
    schedule
        A schedule, normally valid (:func:`lpsched.validate.validate`); an
        invalid one gives programs that a runtime cannot follow in time.

    Returns
    -------
    Programs
    """
    s = schedule.normalised()
    T = s.period
    flat: list[tuple[int, int, Action]] = []  # (processor, absolute time of instance 0, action)
    for t in s.graph.tasks:
        op = COMPUTE_OPS.get(t.kind, OTHER_OP)
        start = s.start[t.name]
        flat.append((s.processor[t.name], start, Action(op, "compute", t.name, 0, start, 0)))
    flat.extend(_message_actions(s))
    loops: list[list[Action]] = [[] for _ in range(s.processors)]
    depth = 0
    for p, at, a in flat:
        offset = -(at // T)
        depth = max(depth, -offset)
        duration = s.duration(a.name) if a.kind == "compute" else a.duration
        loops[p].append(replace(a, iteration=offset, time=at % T, duration=duration))
    return Programs(
        period=T,
        depth=depth,
        capacity=s.platform.capacity,
        loops=tuple(tuple(sorted(loop, key=Action.sort_key)) for loop in loops),
        time_unit_seconds=s.graph.time_unit_seconds,
    )


@dataclass(frozen=True)
class _Message:
    """One message of producer iteration 0: where and when it is sent, what it carries."""

    producer: str
    name: str
    src: int
    dst: int
    send: int  # absolute time of the send (instance 0)
    duration: int
    latency: int
    nbytes: int
    edges: tuple[Edge, ...] = ()  # the edges that read it on dst


def _message_ops(schedule: Schedule, producer: str) -> tuple[str, str]:
    """The send and recv ops of a tensor produced by ``producer``."""
    cls = MESSAGE_CLASSES.get(schedule.graph.task(producer).kind)
    return ("SEND", "RECV") if cls is None else (f"SEND_{cls}", f"RECV_{cls}")


def _message_actions(s: Schedule) -> list[tuple[int, int, Action]]:
    """The send and recv of every message of ``s`` (normalised), with their processors."""
    out = []
    for m in _messages(s):
        send_op, recv_op = _message_ops(s, m.producer)
        link = s.platform.link_class(m.src, m.dst)
        common = {"producer": m.producer, "bytes": m.nbytes, "link": link, "latency": m.latency}
        send = Action(send_op, "send", m.name, 0, m.send, m.duration, peer=m.dst, **common)
        # The first reader instance of producer iteration 0 runs at s_v + delta T.
        first = min(s.start[e.dst] + e.distance * s.period for e in m.edges)
        recv = Action(recv_op, "recv", m.name, 0, first, 0, peer=m.src, **common)
        out += [(m.src, m.send, send), (m.dst, first, recv)]
    return out


def _messages(s: Schedule) -> list[_Message]:
    """Every message of ``s`` (normalised): the tensors' and the pure delays'."""
    return _tensor_messages(s) + _delay_messages(s)


def _tensor_messages(s: Schedule) -> list[_Message]:
    """The tensors that cross (:meth:`Schedule.messages`): by their transfers or as delays."""
    unit = s.graph.time_unit_seconds
    readers: dict[tuple[str, str, int], list[Edge]] = {}
    size: dict[tuple[str, str], int] = {}
    for i, e in enumerate(s.graph.edges):
        if e.comm is not None or e.bytes <= 0:
            continue
        key = (e.src, tensor_name(s.graph, i))
        # A tensor's bytes are the most of its edges, crossing or not (Schedule.messages).
        size[key] = max(size.get(key, 0), e.bytes)
        if s.processor[e.src] != s.processor[e.dst]:
            readers.setdefault((*key, s.processor[e.dst]), []).append(e)
    out = []
    if s.platform.capacity == "ports":
        producers = {name: producer for producer, name, _ in readers}
        for x in s.transfers:
            # A file may leave the producer out; the validator then takes the tensor's.
            producer = x.producer or producers.get(x.tensor, "")
            edges = readers.get((producer, x.tensor, x.dst))
            if edges is None:
                continue  # no reader there: the validator reports it
            link = s.platform.link(x.src, x.dst)
            latency = 0 if unit is None else ceil_units(link.latency, unit)
            nbytes = size[(producer, x.tensor)]
            message = (producer, x.tensor, x.src, x.dst, x.start, x.duration, latency, nbytes)
            out.append(_Message(*message, edges=tuple(edges)))
        return out
    for m in s.messages():
        link = s.platform.link(m.src, m.dst)
        latency = 0 if unit is None else message_units(m.bytes, link, unit)
        end = s.start[m.producer] + s.duration(m.producer)
        edges = tuple(readers[(m.producer, m.tensor, m.dst)])
        out.append(_Message(m.producer, m.tensor, m.src, m.dst, end, 0, latency, m.bytes, edges))
    return out


def _delay_messages(s: Schedule) -> list[_Message]:
    """Crossing edges with a fixed ``comm`` or no bytes: pure delays, one per distinct delay."""
    groups: dict[tuple[str, str, int, int], list[Edge]] = {}
    for i, e in enumerate(s.graph.edges):
        if e.comm is None and e.bytes > 0:
            continue
        p, q = s.processor[e.src], s.processor[e.dst]
        if p != q:
            groups.setdefault((e.src, tensor_name(s.graph, i), q, e.comm or 0), []).append(e)
    # Edges of one named tensor with different fixed delays are different messages: their
    # names must differ too, or a runtime (and message_key) could not tell them apart.
    delays: dict[tuple[str, str, int], int] = {}
    for producer, name, q, _ in groups:
        delays[(producer, name, q)] = delays.get((producer, name, q), 0) + 1
    out = []
    for (producer, name, q, comm), edges in groups.items():
        end = s.start[producer] + s.duration(producer)
        if delays[(producer, name, q)] > 1:
            name = f"{name} (comm {comm})"
        out.append(
            _Message(producer, name, s.processor[producer], q, end, 0, comm, 0, tuple(edges))
        )
    return out


def arrival(send: Action) -> int:
    """When the tensor of ``send`` may be read at its destination: end of the send + latency."""
    return send.time + send.duration + send.latency


def message_key(a: Action, processor: int) -> tuple[str, str, int, int, int]:
    """What pairs a send on ``processor`` with its recv: (producer, tensor, src, dst, iteration)."""
    assert a.peer is not None and a.producer is not None
    if a.kind == "send":
        return (a.producer, a.name, processor, a.peer, a.iteration)
    return (a.producer, a.name, a.peer, processor, a.iteration)


def window_of(a: Action, period: int) -> int:
    """The window an unrolled action runs in."""
    return a.time // period


def count_kinds(actions: Iterable[Action]) -> dict[str, int]:
    """How many actions of each kind (``compute``, ``send``, ``recv``)."""
    out = dict.fromkeys(ACTION_KINDS, 0)
    for a in actions:
        out[a.kind] += 1
    return out


def time_ms(units: int, unit_seconds: float | None) -> float | None:
    """Time units in milliseconds; ``None`` when the time unit is no time."""
    return None if unit_seconds is None else units * unit_seconds * 1e3


#: The ``format`` of the programs JSON :func:`programs_to_dict` writes.
PROGRAMS_FORMAT = "lpsched-programs/1"

#: The columns of the programs CSV (:func:`programs_csv`).
CSV_COLUMNS = (
    "processor",
    "index",
    "phase",
    "window",
    "op",
    "kind",
    "name",
    "iteration",
    "time",
    "duration",
    "time_ms",
    "duration_ms",
    "peer",
    "producer",
    "bytes",
    "link",
    "latency",
)


def notation() -> dict[str, dict[str, str | None]]:
    """Every op: what it means and its name in ``torch.distributed.pipelining`` (or ``None``)."""
    return {op: {"meaning": OP_MEANING[op], "torch": TORCH_EQUIVALENT[op]} for op in OP_MEANING}


def _action_fields(a: Action) -> dict[str, Any]:
    """An action's fields for the JSON, without its iteration and time (which the phase says)."""
    out: dict[str, Any] = {"op": a.op, "kind": a.kind, "name": a.name, "duration": a.duration}
    if a.kind != "compute":
        out.update(peer=a.peer, producer=a.producer, bytes=a.bytes, link=a.link, latency=a.latency)
    return out


def programs_to_dict(programs: Programs, iterations: int | None = None) -> dict[str, Any]:
    """The programs as one JSON object (``lpsched-programs/1``), for any ``N >= depth``.

    Per processor: ``prologue`` (windows ``0 .. depth-1``, absolute iterations),
    ``loop`` (one window, run for ``k = depth .. N-1``: iteration ``k + offset``)
    and ``epilogue`` (windows ``N .. N+depth-1``, written relative to ``N``:
    ``window_from_n`` and ``iteration_from_n`` are integers to add to ``N``,
    ``window`` and ``iteration`` say the same as text, ``"N+0"``, ``"N-1"``).
    Times are within the window, in time units and in ms.
    """
    T, depth, unit = programs.period, programs.depth, programs.time_unit_seconds
    rows = []
    for p, loop in enumerate(programs.loops):
        prologue, epilogue = [], []
        for k in range(depth):
            for a in loop:
                if k + a.iteration >= 0:
                    prologue.append(
                        {"window": k, "time": a.time, "iteration": k + a.iteration}
                        | _action_fields(a)
                    )
                j = k + a.iteration  # epilogue window N + k runs iteration N + j
                if j <= -1:
                    epilogue.append(
                        {
                            "window": f"N+{k}",
                            "window_from_n": k,
                            "time": a.time,
                            "iteration": f"N{j}",
                            "iteration_from_n": j,
                        }
                        | _action_fields(a)
                    )
        body = [
            {"time": a.time, "offset": a.iteration, "iteration": _k_text(a.iteration)}
            | _action_fields(a)
            for a in loop
        ]
        rows.append(
            {
                "processor": p,
                "prologue": prologue,
                "loop": {"windows": "k = depth .. N-1", "actions": body},
                "epilogue": epilogue,
            }
        )
    return {
        "format": PROGRAMS_FORMAT,
        "period": T,
        "period_ms": time_ms(T, unit),
        "time_unit_seconds": unit,
        "depth": depth,
        "capacity": programs.capacity,
        "iterations": iterations,
        "valid_for": f"N >= {max(depth, 1)} iterations",
        "semantics": (
            "window k is [kT, (k+1)T); times are within the window; a send is non-blocking "
            "(posted at its time once its producer has finished), a recv blocks until its "
            "tensor arrived (end of the send + latency); ties: recv, compute, send"
        ),
        "notation": notation(),
        "processors": rows,
    }


def _k_text(offset: int) -> str:
    """``"k"``, ``"k-2"``: a loop action's iteration in terms of the window counter."""
    return "k" if offset == 0 else f"k{offset:+d}"


def programs_csv(programs: Programs, iterations: int) -> str:
    """One CSV row per action of the unrolled ``iterations`` (:data:`CSV_COLUMNS`).

    ``time`` is absolute, in time units (``time_ms`` in ms, empty without a
    physical unit); ``index`` counts each processor's actions from 0 in time order.
    """
    unit = programs.time_unit_seconds
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p, actions in enumerate(programs.unrolled(iterations)):
        for index, a in enumerate(actions):
            window = window_of(a, programs.period)
            message = a.kind != "compute"
            writer.writerow(
                [
                    p,
                    index,
                    programs.phase(window, iterations),
                    window,
                    a.op,
                    a.kind,
                    a.name,
                    a.iteration,
                    a.time,
                    a.duration,
                    _ms_text(a.time, unit),
                    _ms_text(a.duration, unit),
                    "" if a.peer is None else a.peer,
                    a.producer or "",
                    a.bytes if message else "",
                    a.link or "",
                    a.latency if message else "",
                ]
            )
    return out.getvalue()


def _ms_text(units: int, unit: float | None) -> str:
    """``units`` in ms for a CSV cell, or empty without a physical time unit."""
    ms = time_ms(units, unit)
    return "" if ms is None else f"{ms:.6g}"
