"""lpsched: periodic schedules for pipelined DNN training by integer programming."""

from .errors import InfeasibleError, InputError
from .graph import Edge, Task, TaskGraph, make_graph
from .schedule import Result, Schedule, Status

__all__ = [
    "Edge",
    "InfeasibleError",
    "InputError",
    "Result",
    "Schedule",
    "Status",
    "Task",
    "TaskGraph",
    "make_graph",
]
__version__ = "0.1.0"
