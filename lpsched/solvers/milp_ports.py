"""Link ports in the MILP: transfers, their arrival and their order on ports, (M20)-(M27).

The mathematics is in ``formulations/milp.md`` ("Link ports"); the model is
(P5)-(P7) of ``formulations/README.md``. Under ``capacity: ports`` every
tensor ``k`` (``problem.tensors``) gets a candidate transfer ``X = (k, q)`` to
each processor ``q`` that may run one of its readers, with an offset
``rho_X`` within the period and a lag ``kappa_X`` in ``{0, 1, 2}`` periods
after its producer's stage: ``t_X = T k_u + rho_X + T kappa_X``. A presence
``a_Xp`` (producer on ``p``, a reader on ``q``) switches its rows on; two
transfers that may share a port get an order binary, as tasks on a processor
do. Under ``capacity: delay`` nothing here is written and the model is the
one of (M1)-(M19).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulp

from ..problem import Problem, ceil_units
from ..schedule import Schedule, Transfer
from .milp_memory import bounded, lag_limit

if TYPE_CHECKING:
    from .milp_model import PeriodModel

#: A transfer's lag after its producer's stage is at most this many periods:
#: ``rho + T kappa`` covers ``[r_u + D_u, r_u + D_u + T - 1]`` with ``kappa <= 2``.
MAX_LAG = 2


@dataclass
class PortModel:
    """The candidate transfers of one period model and their variables.

    Attributes
    ----------
    transfers
        ``(k, q)`` per transfer ``X`` (its position): tensor and destination.
    senders
        ``senders[X]``: the processors the producer may use, other than ``q``.
    tau, arrival
        ``tau[X][p]``, ``arrival[X][p]``: duration and ``tau + latency`` from ``p``.
    a
        ``(X, p) -> a_Xp``, the presence (M20): a variable, or 1 in the restriction (M18).
    rho, kappa
        Offset and lag of each transfer (M20); empty in the relaxation (M17).
    o, y
        Order binary and "one port" indicator of each pair ``X < Y`` (M26)-(M27).
    """

    transfers: list[tuple[int, int]] = field(default_factory=list)
    senders: list[list[int]] = field(default_factory=list)
    tau: list[dict[int, int]] = field(default_factory=list)
    arrival: list[dict[int, int]] = field(default_factory=list)
    a: dict[tuple[int, int], Any] = field(default_factory=dict)
    rho: list[Any] = field(default_factory=list)
    kappa: list[Any] = field(default_factory=list)
    o: dict[tuple[int, int], Any] = field(default_factory=dict)
    y: dict[tuple[int, int], Any] = field(default_factory=dict)

    def index(self) -> dict[tuple[int, int], int]:
        """``(k, q) -> X``."""
        return {t: X for X, t in enumerate(self.transfers)}


# ---------------------------------------------------------------------------
# Costs of (M9) under ports
# ---------------------------------------------------------------------------
def class_arrival(problem: Problem, nbytes: int, cls: str) -> int:
    """``tau + latency`` of ``nbytes`` on link class ``cls`` (``Problem.arrival_delay``'s rule)."""
    link = problem.platform.intra if cls == "intra" else problem.platform.inter
    unit = problem.graph.time_unit_seconds
    if unit is None:
        return 0
    tau = 0 if link.bandwidth == float("inf") else ceil_units(nbytes / link.bandwidth, unit)
    return tau + ceil_units(link.latency, unit)


def message_costs(problem: Problem) -> tuple[dict[str, int], ...]:
    """``C_e`` per link class as (M9) charges it: ``problem.comm`` under ``delay``.

    Under ports an edge of a tensor costs its transfer's arrival ``tau + lat``
    of the class: (P5) and (P6) imply (M9) with that cost, so it is a valid
    row that keeps the crossings (M10)-(M11) and cuts (M12)-(M14), and makes
    the relaxation (M17) a relaxation of the ports model (M28).
    """
    if not problem.ports:
        return problem.comm
    costs = list(problem.comm)
    for t in problem.tensors:
        c = {cls: class_arrival(problem, t.bytes, cls) for cls in ("intra", "inter")}
        for e in t.edges:
            costs[e] = c
    return tuple(costs)


def cheapest_costs(problem: Problem, costs: tuple[dict[str, int], ...]) -> list[int]:
    """Each edge's cheapest ``C_e`` across processors (``problem.min_comm`` under ``delay``)."""
    if not problem.ports:
        return problem.min_comm
    classes = problem.platform.link_classes
    return [min((c[k] for k in classes), default=0) for c in costs]


# ---------------------------------------------------------------------------
# Candidate transfers
# ---------------------------------------------------------------------------
def readers(problem: Problem, k: int) -> list[tuple[int, int]]:
    """``(edge, reader)`` of tensor ``k``, self-loops left out (they never cross)."""
    graph = problem.graph
    u = problem.tensors[k].producer
    out = []
    for e in problem.tensors[k].edges:
        v = graph.index(graph.edges[e].dst)
        if v != u:
            out.append((e, v))
    return out


def candidate_transfers(
    problem: Problem, procs: list[list[int]], assignment: dict[int, int] | None
) -> PortModel:
    """The transfers a model of these processors may need, and their durations.

    With an assignment (M18) exactly those the validator asks for; otherwise
    every ``(k, q)`` with ``q`` a processor of some reader and a processor of
    the producer other than ``q``.
    """
    pm = PortModel()
    if not problem.ports:
        return pm
    for k, tensor in enumerate(problem.tensors):
        u = tensor.producer
        dests = sorted({q for _, v in readers(problem, k) for q in procs[v]})
        for q in dests:
            senders = [p for p in procs[u] if p != q]
            if not senders:
                continue
            pm.transfers.append((k, q))
            pm.senders.append(senders)
            pm.tau.append({p: problem.transfer_time(k, p, q) for p in senders})
            pm.arrival.append({p: problem.arrival_delay(k, p, q) for p in senders})
    return pm


def port_of(problem: Problem, direction: str, p: int, q: int) -> tuple[str, int, str]:
    """The port ``(direction, processor, class)`` a transfer from ``p`` to ``q`` busies."""
    return (direction, p if direction == "out" else q, problem.platform.link_class(p, q))


def sharing(pm: PortModel, problem: Problem, X: int, Y: int) -> list[tuple[list[int], list[int]]]:
    """How ``X`` and ``Y`` may share a port: groups ``(P_X, P_Y)`` of senders.

    Both on one port when ``X`` is sent from some ``p`` in ``P_X`` and ``Y``
    from some ``p'`` in ``P_Y``. Into one processor: one group per link class;
    else out of one processor ``p`` (same class both ways): ``([p], [p])``.
    Only senders with a transfer of positive duration count: one of no
    duration busies no port.
    """
    (_, qx), (_, qy) = pm.transfers[X], pm.transfers[Y]
    cls = problem.platform.link_class
    groups = []
    if qx == qy:
        for c in ("intra", "inter"):
            gx = [p for p in pm.senders[X] if cls(p, qx) == c and pm.tau[X][p] > 0]
            gy = [p for p in pm.senders[Y] if cls(p, qy) == c and pm.tau[Y][p] > 0]
            if gx and gy:
                groups.append((gx, gy))
        return groups
    common = set(pm.senders[Y])
    for p in pm.senders[X]:
        if p in common and cls(p, qx) == cls(p, qy) and pm.tau[X][p] > 0 and pm.tau[Y][p] > 0:
            groups.append(([p], [p]))
    return groups


def transfer_pairs(model: PeriodModel, pm: PortModel) -> list[tuple[int, int, list]]:
    """Pairs ``X < Y`` that may share a port, with their groups (:func:`sharing`).

    In the restriction (M18) a pair shares a port exactly when a group holds
    both real senders. Two transfers of one tensor share no in-port.
    """
    out = []
    problem = model.problem
    for X in range(len(pm.transfers)):
        for Y in range(X + 1, len(pm.transfers)):
            groups = sharing(pm, problem, X, Y)
            if groups:
                out.append((X, Y, groups))
    return out


# ---------------------------------------------------------------------------
# The rows
# ---------------------------------------------------------------------------
def add_transfers(model: PeriodModel) -> None:
    """(M20)-(M27) on ``model`` (nothing under ``capacity: delay``)."""
    problem = model.problem
    if not problem.ports:
        return
    pm = candidate_transfers(problem, model.procs, model.assignment)
    if model.assignment is not None:
        pm = restricted(problem, pm, model.assignment)
    model.ports = pm
    transfer_variables(model, pm)
    presence_rows(model, pm)
    port_load_rows(model, pm)
    if model.variant == "relaxed":
        return
    release_rows(model, pm)
    arrival_rows(model, pm)
    port_pair_rows(model, pm)


def restricted(problem: Problem, pm: PortModel, assignment: dict[int, int]) -> PortModel:
    """Of the candidates, the transfers the fixed assignment needs (M18), from its processor."""
    keep = PortModel()
    for X, (k, q) in enumerate(pm.transfers):
        p = assignment[problem.tensors[k].producer]
        if p != q and any(assignment[v] == q for _, v in readers(problem, k)):
            keep.transfers.append((k, q))
            keep.senders.append([p])
            keep.tau.append({p: pm.tau[X][p]})
            keep.arrival.append({p: pm.arrival[X][p]})
    return keep


def transfer_variables(model: PeriodModel, pm: PortModel) -> None:
    """(M20): presences ``a_Xp`` in ``[0, 1]`` (0 when ``tau > T``), offsets and lags.

    ``a`` may be continuous: it is pushed up by (M21) only, and a larger one
    only restricts. In the restriction it is the constant 1.
    """
    T = model.period
    for X, (k, q) in enumerate(pm.transfers):
        for p in pm.senders[X]:
            if model.assignment is not None:
                if pm.tau[X][p] > T:
                    model.trivially_infeasible = (
                        f"tensor {model.problem.tensors[k].name} takes {pm.tau[X][p]} "
                        f"> T = {T} from processor {p} to {q}"
                    )
                pm.a[X, p] = 1
            else:
                up = 0 if pm.tau[X][p] > T else 1
                pm.a[X, p] = pulp.LpVariable(f"a_{k}_{q}_{p}", 0, up)
        if model.variant != "relaxed":
            pm.rho.append(pulp.LpVariable(f"rho_{k}_{q}", 0, T - 1, cat=pulp.LpInteger))
            lag = lag_limit(model.problem, T)  # MAX_LAG unless a memory is bounded
            pm.kappa.append(pulp.LpVariable(f"kappa_{k}_{q}", 0, lag, cat=pulp.LpInteger))


def presence_rows(model: PeriodModel, pm: PortModel) -> None:
    """(M21): ``a_Xp >= x_up + x_vq - 1`` for every reader ``v``; ``sum_p a_Xp <= 1``."""
    if model.assignment is not None:
        return
    x, prob = model.x, model.prob
    for X, (k, q) in enumerate(pm.transfers):
        u = model.problem.tensors[k].producer
        for v in sorted({v for _, v in readers(model.problem, k)}):
            if (v, q) not in x:
                continue
            for p in pm.senders[X]:
                prob += pm.a[X, p] >= x[u, p] + x[v, q] - 1, f"pres_{k}_{q}_{p}_{v}"
        if len(pm.senders[X]) > 1:
            prob += pulp.lpSum(pm.a[X, p] for p in pm.senders[X]) <= 1, f"one_{k}_{q}"


def transfer_time(model: PeriodModel, pm: PortModel, X: int) -> Any:
    """``t_X = T k_u + rho_X + T kappa_X`` (M20)."""
    u = model.problem.tensors[pm.transfers[X][0]].producer
    T = model.period
    return T * model.k[u] + pm.rho[X] + T * pm.kappa[X]


def release_rows(model: PeriodModel, pm: PortModel) -> None:
    """(M22), (P5): ``t_X - s_u - D_u`` in ``[0, T - 1]``.

    The upper end loses nothing: a transfer that waits ``T`` or more can
    leave one period earlier, on the same residues of its ports and earlier
    for every reader. It bounds the lag ``kappa`` by :data:`MAX_LAG`.
    """
    T, prob = model.period, model.prob
    for X, (k, q) in enumerate(pm.transfers):
        u = model.problem.tensors[k].producer
        wait = pm.rho[X] + T * pm.kappa[X] - model.r[u] - model.duration(u)
        prob += wait >= 0, f"release_{k}_{q}"
        if not bounded(model.problem):  # under a memory waiting may pay (M34)
            prob += wait <= T - 1, f"wait_{k}_{q}"


def arrival_rows(model: PeriodModel, pm: PortModel) -> None:
    """(M23), (P6): ``s_v + w_e T >= t_X + A_X - M (1 - x_vq)`` for every reader ``v``.

    ``A_X = sum_p arrival_Xp a_Xp``. With ``v`` elsewhere the row must be
    slack: (M9) gives ``s_v + w_e T - s_u - D_u >= C_e >= 0`` and (M22)
    ``t_X - s_u - D_u <= T - 1``, so ``M = max_p arrival_Xp + T - 1``
    suffices (``sum_p a_Xp <= 1``). In the restriction only readers on ``q``.
    """
    from .milp_model import distance_term

    T, prob, x = model.period, model.prob, model.x
    for X, (k, q) in enumerate(pm.transfers):
        t = transfer_time(model, pm, X)
        reach = pulp.lpSum(pm.arrival[X][p] * pm.a[X, p] for p in pm.senders[X])
        M = max(pm.arrival[X].values()) + T - 1
        if bounded(model.problem):  # the wait is bounded by the lag only (M34)
            M = max(pm.arrival[X].values()) + T * (lag_limit(model.problem, T) + 1)
        for e, v in readers(model.problem, k):
            lhs = model.start(v) + T * distance_term(model, e) - t
            if model.assignment is not None:
                if model.assignment[v] == q:
                    prob += lhs >= reach, f"arrive_{k}_{q}_{e}"
            elif (v, q) in x:
                prob += lhs >= reach - M * (1 - x[v, q]), f"arrive_{k}_{q}_{e}"


def _port_users(model: PeriodModel, pm: PortModel) -> dict[tuple[str, int, str], list]:
    """Port -> ``(X, p)`` of every sender whose transfer of positive duration would use it."""
    users: dict[tuple[str, int, str], list] = {}
    for X, (_, q) in enumerate(pm.transfers):
        for p in pm.senders[X]:
            if 0 < pm.tau[X][p] <= model.period:
                for direction in ("out", "in"):
                    users.setdefault(port_of(model.problem, direction, p, q), []).append((X, p))
    return users


def port_load_rows(model: PeriodModel, pm: PortModel) -> None:
    """(M24): ``sum tau_Xp a_Xp <= T`` on every port (implied by (M25)-(M27), a strong cut).

    Written only where the durations could exceed ``T`` together; in the
    restriction an overloaded port makes the period trivially infeasible.
    """
    T = model.period
    for port, items in _port_users(model, pm).items():
        if sum(pm.tau[X][p] for X, p in items) <= T:
            continue
        if model.assignment is not None:
            load = sum(pm.tau[X][p] for X, p in items)
            model.trivially_infeasible = f"{port[0]}-port {port[2]} of {port[1]} carries {load}"
            continue
        name = f"portload_{port[0]}_{port[1]}_{port[2]}"
        model.prob += pulp.lpSum(pm.tau[X][p] * pm.a[X, p] for X, p in items) <= T, name


def port_pair_rows(model: PeriodModel, pm: PortModel) -> None:
    """(M25)-(M27): modulo non-overlap of every two transfers that may share a port.

    (M25) ``sum_{P_X} a + sum_{P_Y} a <= 1`` for a group too long for the
    circle together; (M26) ``y_XY >= sum_{P_X} a + sum_{P_Y} a - 1`` for the
    other groups; (M27) ``rho_Y - rho_X + T o_XY`` in ``[B_X, T - B_Y]``,
    with ``B`` the busy time of (M7)-(M8) (a duration when ``y = 1``, at most
    0 when ``y = 0``).
    """
    T, prob = model.period, model.prob
    for X, Y, groups in transfer_pairs(model, pm):
        shared = []
        for gx, gy in groups:
            terms = [pm.a[X, p] for p in gx] + [pm.a[Y, p] for p in gy]
            if max(pm.tau[X][p] for p in gx) + max(pm.tau[Y][p] for p in gy) > T:
                if model.assignment is not None:
                    model.trivially_infeasible = "two transfers on one port exceed T"
                else:
                    prob += pulp.lpSum(terms) <= 1, f"papart_{X}_{Y}_{gx[0]}_{gy[0]}"
                continue
            shared.append((gx, gy, terms))
        if not shared:
            continue
        o = pulp.LpVariable(f"po_{X}_{Y}", cat=pulp.LpBinary)
        pm.o[X, Y] = o
        if model.assignment is None:
            y: Any = pulp.LpVariable(f"py_{X}_{Y}", 0, 1)
            pm.y[X, Y] = y
            for gx, gy, terms in shared:
                prob += y >= pulp.lpSum(terms) - 1, f"pshare_{X}_{Y}_{gx[0]}_{gy[0]}"
        else:
            y = 1
        bx = _port_busy(pm, X, sorted({p for gx, _, _ in shared for p in gx}), y)
        by = _port_busy(pm, Y, sorted({p for _, gy, _ in shared for p in gy}), y)
        diff = pm.rho[Y] - pm.rho[X] + T * o
        prob += diff >= bx, f"pafter_{X}_{Y}"
        prob += diff <= T - by, f"pbefore_{X}_{Y}"


def _port_busy(pm: PortModel, X: int, senders: list[int], y: Any) -> Any:
    """``tau y`` if ``X`` lasts alike from all ``senders``, else ``sum tau a - max tau (1 - y)``."""
    taus = {pm.tau[X][p] for p in senders}
    if len(taus) == 1 or not isinstance(pm.a[X, senders[0]], pulp.LpVariable):
        return max(taus) * y
    most = max(taus)
    return pulp.lpSum(pm.tau[X][p] * pm.a[X, p] for p in senders) - most * (1 - y)


# ---------------------------------------------------------------------------
# Sizes, warm starts, solutions
# ---------------------------------------------------------------------------
def transfer_size(
    problem: Problem,
    procs: list[list[int]],
    variant: str,
    assignment: dict[int, int] | None,
) -> tuple[int, int, int, int]:
    """Upper bounds on rows, columns, nonzeros and pairs of (M20)-(M27), without building them.

    Pairs are counted per port (``sum C(c, 2)`` over the ``c`` candidates of
    each port, at most ``C(X, 2)``), never enumerated.
    """
    if not problem.ports:
        return 0, 0, 0, 0
    pm = candidate_transfers(problem, procs, assignment)
    if assignment is not None:
        pm = restricted(problem, pm, assignment)
    P = problem.P
    n_x = len(pm.transfers)
    senders = sum(len(s) for s in pm.senders)
    presence = 0
    if assignment is None:
        presence = sum(
            len(readers(problem, k)) * len(s)
            for (k, _), s in zip(pm.transfers, pm.senders, strict=True)
        )
    rows, cols = presence + n_x + 2 * P * 2, senders + (0 if variant == "relaxed" else 2 * n_x)
    nonzeros = 3 * presence + senders * 4
    if variant == "relaxed":
        return rows, cols, nonzeros, 0
    count: dict[tuple[str, int, str], int] = {}
    for X, (_, q) in enumerate(pm.transfers):
        # Each transfer once per port it may use: per sender out, per class in.
        ports = {port_of(problem, d, p, q) for p in pm.senders[X] for d in ("out", "in")}
        for key in ports:
            count[key] = count.get(key, 0) + 1
    incidences = sum(c * (c - 1) // 2 for c in count.values())
    pairs = min(n_x * (n_x - 1) // 2, incidences)
    reads = sum(len(readers(problem, k)) for k, _ in pm.transfers)
    rows += 2 * n_x + reads + 2 * pairs + incidences
    cols += 2 * pairs
    nonzeros += 2 * n_x * 6 + reads * (7 + P) + pairs * (6 + 4 * P) + incidences * (2 * P + 1)
    return rows, cols, nonzeros, pairs


def set_transfer_initial(
    model: PeriodModel, schedule: Schedule, relabel: dict[int, int], shift: int
) -> None:
    """Transfer variables from ``schedule`` (processors renumbered by ``relabel``, starts shifted).

    A transfer the schedule has takes its start (moved by whole periods into
    (M22)'s window); one it has not (not needed there) starts when its
    producer ends, with presence 0.
    """
    pm = model.ports
    if pm is None:
        return
    T, problem = model.period, model.problem
    names = [t.name for t in problem.graph.tasks]
    sent = {(tr.tensor, relabel[tr.dst]): tr.start - shift for tr in schedule.transfers}
    proc = {name: relabel[schedule.processor[name]] for name in names}
    for X, (k, q) in enumerate(pm.transfers):
        tensor = problem.tensors[k]
        u = tensor.producer
        pu = proc[names[u]]
        for p in pm.senders[X]:
            var = pm.a[X, p]
            if isinstance(var, pulp.LpVariable):
                var.setInitialValue(1 if p == pu and (tensor.name, q) in sent else 0)
        if not pm.rho:
            continue
        ready = schedule.start[names[u]] - shift + problem.duration(u, pu)
        t = sent.get((tensor.name, q), ready)
        if not bounded(problem):
            t -= T * ((t - ready) // T)  # into [ready, ready + T - 1], residue kept
        stage_u = (schedule.start[names[u]] - shift) // T
        pm.rho[X].setInitialValue(t % T)
        pm.kappa[X].setInitialValue(t // T - stage_u)
    _set_pair_initial(model, pm, proc, sent)


def _set_pair_initial(
    model: PeriodModel, pm: PortModel, proc: dict[str, int], sent: dict[tuple[str, int], int]
) -> None:
    """Order binaries ``[rho_Y < rho_X]``; ``y_XY = 1`` when the start's senders share a group."""
    problem = model.problem
    names = [t.name for t in problem.graph.tasks]
    rho = [var.value() for var in pm.rho]
    for (X, Y), var in pm.o.items():
        var.setInitialValue(1 if rho[Y] < rho[X] else 0)
    real: list[int | None] = []
    for k, q in pm.transfers:
        tensor = problem.tensors[k]
        real.append(proc[names[tensor.producer]] if (tensor.name, q) in sent else None)
    for (X, Y), var in pm.y.items():
        px, py = real[X], real[Y]
        same = (
            px is not None
            and py is not None
            and any(px in gx and py in gy for gx, gy in sharing(pm, problem, X, Y))
        )
        var.setInitialValue(1 if same else 0)


def transfers_of(model: PeriodModel, where: dict[int, int]) -> tuple[Transfer, ...]:
    """The transfers in the solver's values for the assignment ``where`` (task -> processor)."""
    pm = model.ports
    if pm is None:
        return ()
    problem, T = model.problem, model.period
    names = [t.name for t in problem.graph.tasks]
    index = pm.index()
    out = []
    for k, tensor in enumerate(problem.tensors):
        u = tensor.producer
        p = where[u]
        for q in sorted({where[v] for _, v in readers(problem, k)} - {p}):
            X = index[k, q]
            stage = round(model.k[u].varValue or 0.0)
            lag = round(pm.kappa[X].varValue or 0.0)
            t = T * (stage + lag) + round(pm.rho[X].varValue or 0.0)
            tau = problem.transfer_time(k, p, q)
            out.append(Transfer(tensor.name, names[u], p, q, t, tau))
    return tuple(out)
