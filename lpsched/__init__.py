"""lpsched: periodic schedules for pipelined DNN training by integer programming."""

from .bounds import Bounds, lower_bounds
from .costs import CostModel
from .errors import InfeasibleError, InputError
from .graph import Edge, Task, TaskGraph, make_graph
from .networks import BUILTIN_NETWORKS, Network, get_network, load_network
from .schedule import Result, Schedule, Status
from .solve import SOLVERS, solve
from .taskgraph import DECOMPOSITIONS, build_task_graph
from .torch_import import from_torch
from .validate import InvalidScheduleError, check_schedule, validate

__all__ = [
    "BUILTIN_NETWORKS",
    "DECOMPOSITIONS",
    "SOLVERS",
    "Bounds",
    "CostModel",
    "Edge",
    "InfeasibleError",
    "InputError",
    "InvalidScheduleError",
    "Network",
    "Result",
    "Schedule",
    "Status",
    "Task",
    "TaskGraph",
    "build_task_graph",
    "check_schedule",
    "from_torch",
    "get_network",
    "load_network",
    "lower_bounds",
    "make_graph",
    "solve",
    "validate",
]
__version__ = "0.1.0"
