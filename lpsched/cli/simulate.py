"""``lpsched simulate``: run a schedule's programs in a discrete-event simulation."""

from __future__ import annotations

from typing import Any


def add_simulate(sub: Any) -> None:
    """Register ``lpsched simulate`` on the subparsers ``sub``."""
    p = sub.add_parser("simulate", help="run a schedule's programs with jitter: achieved period")
    p.add_argument("schedule", help="a schedule file (lpsched solve -o)")
