"""Big instances under a time limit: wall time and peak memory per solver (issue 20).

Two graphs far larger than any network: ``dag20k``, 200 layers of 100 tasks,
each task reading 2 tasks of the layer before, a few back edges of distance 2,
bytes on every edge; and ``chain5k``, 5,000 tasks in a chain with bytes on the
edges. Every registered solver (or those of ``--solvers``) solves each of them
on ``--procs`` processors of the default platform under ``--time-limit``, each
solve in a child process of its own, so that its peak memory
(``ru_maxrss`` of that child, from ``os.wait4``) is its own. Prints a table:
instance, solver, limit, seconds of the solve call (bounds and validation
included), seconds of the whole child (imports and building the graph too),
the child's peak memory in MB before the solve (``base_mb``) and over the
run (``peak_mb``), period, status, and the error when a solver fails (an
exception, a child killed past its limit plus a grace or over
``--memory-cap``): one failing solver never stops the table.

    python benchmarks/big.py                                  # every solver, 20 s
    python benchmarks/big.py --solvers heuristic,pipedream --time-limit 20
    python benchmarks/big.py --instances chain5k --solvers cpsat --memory-cap 4
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lpsched.graph import Edge, Task, TaskGraph

#: Seconds a child may run past its time limit before it is killed (imports, building the
#: graph and validation are outside a solver's limit).
GRACE_SECONDS = 60.0


def layered_dag(layers: int = 200, width: int = 100, back: int = 10, seed: int = 0) -> TaskGraph:
    """``layers`` x ``width`` tasks, each reading 2 of the layer before, ``back`` back edges.

    Durations 10..200 us; every edge carries 1 kB .. 1 MB; the back edges go
    from a layer to the layer two before it with distance 2.
    """
    rng = random.Random(seed)
    tasks = [Task(f"t{i}_{j}", rng.randint(10, 200)) for i in range(layers) for j in range(width)]
    edges = [
        Edge(f"t{i - 1}_{k}", f"t{i}_{j}", bytes=rng.randint(1_000, 1_000_000))
        for i in range(1, layers)
        for j in range(width)
        for k in rng.sample(range(width), 2)
    ]
    for _ in range(back):
        i = rng.randrange(2, layers)
        src, dst = f"t{i}_{rng.randrange(width)}", f"t{i - 2}_{rng.randrange(width)}"
        edges.append(Edge(src, dst, distance=2, bytes=rng.randint(1_000, 1_000_000)))
    return TaskGraph(tuple(tasks), tuple(edges), time_unit="1us", name="dag20k")


def chain(n: int = 5000, seed: int = 0) -> TaskGraph:
    """``n`` tasks of 10..200 us in a chain, each edge carrying 1 kB .. 1 MB."""
    rng = random.Random(seed)
    tasks = [Task(f"c{i}", rng.randint(10, 200)) for i in range(n)]
    edges = [Edge(f"c{i - 1}", f"c{i}", bytes=rng.randint(1_000, 1_000_000)) for i in range(1, n)]
    return TaskGraph(tuple(tasks), tuple(edges), time_unit="1us", name="chain5k")


INSTANCES: dict[str, Callable[[], TaskGraph]] = {"dag20k": layered_dag, "chain5k": chain}


def _parser() -> argparse.ArgumentParser:
    from lpsched.solvers.registry import SOLVERS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", default=",".join(INSTANCES), help="comma-separated")
    p.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated")
    p.add_argument("--time-limit", type=float, default=20.0, help="seconds per solve")
    p.add_argument("--procs", type=int, default=8, help="processors (default platform)")
    p.add_argument(
        "--memory-cap", type=float, default=8.0, help="GB of address space per child (0: none)"
    )
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    return p


def _child(instance: str, solver: str, limit: float, P: int) -> int:
    """One solve; prints one JSON line: period, status, seconds, memory before it, or the error."""
    from lpsched.solve import solve

    graph = INSTANCES[instance]()
    row: dict[str, object] = {"base_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}
    began = time.perf_counter()
    try:
        result = solve(graph, P, solver, time_limit=limit, workers=1)
    except Exception as err:  # the table shows it; the parent carries on
        row["error"] = f"{type(err).__name__}: {err}"[:200]
    else:
        row["period"] = result.period
        row["status"] = result.status.value
    row["seconds"] = round(time.perf_counter() - began, 2)
    print(json.dumps(row), flush=True)
    return 0


def _mb(kilobytes: int) -> int:
    """``ru_maxrss`` (kB on Linux) in MB."""
    return round(kilobytes / 1024)


def _limit_memory(gigabytes: float) -> Callable[[], None] | None:
    """What the child runs before the solve: an address-space cap, if any."""
    if gigabytes <= 0:
        return None
    cap = int(gigabytes * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return limit


def _run_child(command: list[str], timeout: float, cap: float) -> tuple[int, str, str, int, bool]:
    """Run ``command``; (exit code, stdout, stderr, peak MB, killed) from ``os.wait4``.

    The child is reaped here, not by :mod:`subprocess`, so that its own
    resource usage (not the largest of all children so far) is read.
    """
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_memory(cap),
    )
    texts: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda k=k, f=f: texts.__setitem__(k, f.read()))
        for k, f in (("out", child.stdout), ("err", child.stderr))
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if not killed and time.monotonic() > deadline:
            child.kill()
            killed = True
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    return child.returncode, texts["out"], texts["err"], _mb(usage.ru_maxrss), killed


def _measure(instance: str, solver: str, args: argparse.Namespace) -> dict[str, object]:
    """Run one solve in a child; its row of the table."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    command += [instance, solver, str(args.time_limit), str(args.procs)]
    began = time.perf_counter()
    timeout = args.time_limit + GRACE_SECONDS
    code, out, err, peak, killed = _run_child(command, timeout, args.memory_cap)
    parsed = _last_json(out)
    row: dict[str, object] = {"instance": instance, "solver": solver, "limit": args.time_limit}
    row["seconds"] = parsed.get("seconds", "")
    row["process_s"] = round(time.perf_counter() - began, 2)
    row["base_mb"] = parsed.get("base_mb", "")
    row["peak_mb"] = peak
    row["period"] = parsed.get("period", "")
    row["status"] = parsed.get("status", "")
    if killed:
        row["error"] = f"killed after {timeout:g} s"
    elif "error" in parsed:
        row["error"] = parsed["error"]
    elif code != 0:
        lines = err.strip().splitlines() or [f"exit {code}"]
        row["error"] = f"exit {code}: {lines[-1]}"[:200]
    else:
        row["error"] = ""
    return row


def _last_json(text: str) -> dict[str, object]:
    """The last line of ``text`` that is a JSON object (the child's answer), else {}."""
    for line in reversed(text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


HEADS = (
    "instance",
    "solver",
    "limit",
    "seconds",
    "process_s",
    "base_mb",
    "peak_mb",
    "period",
    "status",
    "error",
)


def _print_table(rows: list[dict[str, object]]) -> None:
    cells = [[str(row.get(h, "")) for h in HEADS] for row in rows]
    widths = [max(len(h), *(len(c[k]) for c in cells)) for k, h in enumerate(HEADS)]
    print("  ".join(h.ljust(w) for h, w in zip(HEADS, widths, strict=True)).rstrip())
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        instance, solver, limit, P = args.child
        return _child(instance, solver, float(limit), int(P))
    rows = []
    for instance in args.instances.split(","):
        for solver in args.solvers.split(","):
            row = _measure(instance, solver, args)
            rows.append(row)
            print(f"{instance} {solver}: {row}", file=sys.stderr, flush=True)
    _print_table(rows)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
