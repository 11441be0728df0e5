"""``lpsched export``: a schedule file as per-processor programs, a trace, a torch action CSV."""

from __future__ import annotations

from typing import Any


def add_export(sub: Any) -> None:
    """Register ``lpsched export`` on the subparsers ``sub``."""
    p = sub.add_parser("export", help="a schedule as programs, a trace or a torch action CSV")
    p.add_argument("schedule", help="a schedule file (lpsched solve -o)")
