"""Placement policies: where a schedule may put the tasks of one layer.

``free`` (the default) lets every task go to any processor, so one layer's
``F``, ``D``, ``G``, ``W`` and ``U`` may sit on up to five processors. Runtimes
that own whole layers or whole stages cannot run such a schedule:

* ``layer`` keeps every task of a layer on one processor;
* ``stages`` also keeps contiguous layers together: the layers on each
  processor form one interval of the graph's layer order (its
  :attr:`~lpsched.graph.TaskGraph.layers`, a topological order for built
  networks), which is a straight pipeline of at most ``P`` stages, what
  ``torch.distributed.pipelining`` and PipeDream run.

A task without a layer (hand-written task graphs) is a layer of its own, at the
place of its first appearance. The validator checks these rules with its own
code; the solvers take :func:`placement_units` from the problem.
"""

from __future__ import annotations

from .errors import InputError
from .graph import TaskGraph

#: The placement policies, loosest first.
PLACEMENTS = ("free", "layer", "stages")


def check_placement(name: object) -> str:
    """``name`` if it is a placement policy, else :class:`InputError` naming the choices."""
    if not isinstance(name, str) or name not in PLACEMENTS:
        raise InputError(f"unknown placement {name!r}; choose from {', '.join(PLACEMENTS)}")
    return name


def placement_units(graph: TaskGraph) -> tuple[tuple[int, ...], ...]:
    """The task indices of each layer, in layer order (a task without a layer alone).

    Under ``layer`` and ``stages`` each unit sits on one processor; under
    ``stages`` the units on one processor are consecutive in this order.
    """
    units: dict[str, list[int]] = {}
    for v, t in enumerate(graph.tasks):
        key = f"layer {t.layer}" if t.layer else f"task {t.name}"
        units.setdefault(key, []).append(v)
    return tuple(tuple(vs) for vs in units.values())
