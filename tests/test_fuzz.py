"""Fuzzing the readers and the command line (issue 20), with a deterministic budget.

Valid graph, schedule, network and platform files are mutated (a field replaced by a
hostile value or removed; bytes flipped, inserted or cut) and read back: every reader
either returns or raises one :class:`~lpsched.errors.InputError` line. The command line
is run in-process on random flags of ``graph``, ``bounds``, ``solve --solver heuristic``
and ``validate``: the exit code is 0, 1 or 2, an exit 2 prints one line and nothing else
on stderr, nothing escapes as an exception (a traceback), and a failure leaves no file
behind. ``derandomize=True`` and fixed ``max_examples`` make every run the same.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpsched.cli import main
from lpsched.errors import InputError
from lpsched.graph import TaskGraph
from lpsched.networks import load_network
from lpsched.platform import Platform
from lpsched.schedule import Result
from tests.test_hostile import NETWORK_YAML, PLATFORM_YAML, tiny_graph, tiny_schedule, write_inputs

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

# ------------------------------------------------------------------- documents
DOCUMENTS: dict[str, Any] = {
    "graph": tiny_graph().to_dict(),
    "schedule": tiny_schedule().to_dict(),
    "network": yaml.safe_load(NETWORK_YAML),
    "platform": yaml.safe_load(PLATFORM_YAML),
}
SUFFIX = {"graph": ".json", "schedule": ".json", "network": ".yaml", "platform": ".yaml"}
READERS: dict[str, Callable[[Path], Any]] = {
    "graph": TaskGraph.read,
    "schedule": Result.read,
    "network": load_network,
    "platform": Platform.read,
}

#: Values that broke or nearly broke a reader once (issue 20), and some ordinary ones.
HOSTILE = st.one_of(
    st.sampled_from(
        [
            3.0,
            9.7,
            1e300,
            -1,
            0,
            2**40 + 1,
            2**63,
            10**30,
            float("inf"),
            float("nan"),
            True,
            False,
            None,
            "9",
            "",
            "a\nb",
            "$x$",
            "\x00",
            [],
            {},
            [[[[]]]],
            {"format": "lpsched-graph/2"},
        ]
    ),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=3),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a document, as the keys and indices that lead to it."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> Any:
    """A copy of the valid document of ``kind`` with one to three fields changed or removed."""
    doc = json.loads(json.dumps(DOCUMENTS[kind]))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            # a copy: a later mutation must not change the strategy's own [] or {}
            parent[path[-1]] = copy.deepcopy(draw(HOSTILE))
    return doc


def _dump(kind: str, doc: Any) -> bytes:
    if SUFFIX[kind] == ".json":
        return json.dumps(doc).encode()
    return yaml.safe_dump(doc, allow_unicode=True).encode()


@st.composite
def damaged(draw: st.DrawFn, kind: str) -> bytes:
    """The bytes of the valid file of ``kind``, flipped, cut, or with bytes inserted."""
    data = bytearray(_dump(kind, DOCUMENTS[kind]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "cut", "nest"]))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "cut":
            del data[at:]
        else:
            data[at:at] = b"[" * draw(st.sampled_from([40, 2000]))
    return bytes(data)


def _read_or_one_line(kind: str, path: Path) -> None:
    """The reader returns, or raises one non-empty ``InputError`` line; nothing else."""
    try:
        READERS[kind](path)
    except InputError as err:
        message = str(err)
        assert message and "\n" not in message, message
        assert str(path) in message, message


@pytest.mark.parametrize("kind", list(DOCUMENTS))
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_mutated_fields_are_read_or_refused_in_one_line(tmp_path, kind, data):
    path = tmp_path / f"file{SUFFIX[kind]}"
    path.write_bytes(_dump(kind, data.draw(mutated(kind))))
    _read_or_one_line(kind, path)


@pytest.mark.parametrize("kind", list(DOCUMENTS))
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_damaged_bytes_are_read_or_refused_in_one_line(tmp_path, kind, data):
    path = tmp_path / f"file{SUFFIX[kind]}"
    path.write_bytes(data.draw(damaged(kind)))
    _read_or_one_line(kind, path)


# ---------------------------------------------------------------- command line
#: Values of each flag: ``(valid, hostile)``, the hostile ones what the issue found or
#: what sits just past a limit. Each is drawn half the time, so that most command lines
#: get past the first check and the later ones are exercised too.
NUMBERS = ["0", "-1", "2.5", "nan", "inf", "1e300", str(2**70), "x", ""]
FLAGS: dict[str, tuple[list[str], list[str]]] = {
    "--procs": (["1", "2", "3", "8"], ["0", "4097", "1000000000", "2.5", "-2", "x"]),
    "--platform": (["pcie", "{platform}"], ["{schedule}", "{network}", "nosuch", "sub"]),
    "--speeds": (["1,1", "0.5,2"], ["1,nan", "1e-7,1", "1,,1", "x"]),
    "--bandwidth": (["25GB/s", "inf", "intra=1GB/s,inter=2GB/s"], ["0", "1e-30B/s", "x"]),
    "--latency": (["10us", "0"], ["-1us", "7200s", "1e29s", "x"]),
    "--memory": (["80GB"], ["0.5B", "1e40B", "x"]),
    "--nodes": (["1", "2"], ["0", "5000", "x"]),
    "--decomposition": (["pipedream", "intra", "layerpipe"], ["x"]),
    "--staleness": (["sync", "2", "auto", "auto:3"], ["0", "1000001", "9" * 40, "banana"]),
    "--time-unit": (["auto", "1us", "1ns", "1s"], ["1e-30s", "2h", "7200s", "x"]),
    "--throughput": (["1e12", "1"], ["1e-300", "nan", "inf", "0", "1e19", "x"]),
    "--batch-size": (["1", "32"], ["0", "-5", "99999999", "1.5"]),
    "--dtype": (["fp16", "bf16"], ["x"]),
    "--net-opt": (["widths=8,4"], ["widths=1000000000000,2", "a=1", "x", "widths=8,nan"]),
}
SOLVE_FLAGS: dict[str, tuple[list[str], list[str]]] = {
    "--time-limit": (["0.5", "5"], ["1e7", *NUMBERS]),
    "--seed": (["0", "7", str(2**31 - 1)], [str(2**31), *NUMBERS]),
    "--workers": (["1", "2", "256"], ["257", *NUMBERS]),
    "--secondary": (["none", "comm", "staleness"], ["x"]),
    "-o": (["out.json"], ["sub", "missing/s.json", ""]),
    "--gantt": (["chart.svg"], ["g.txt", "sub", "missing/g.png"]),
    "--export": ([], ["m.txt", "m.lp"]),  # the heuristic exports nothing
}
GRAPH_FLAGS = {"-o": (["out.json"], ["sub", "missing/g.json", ""])} | {
    k: FLAGS[k]
    for k in ("--decomposition", "--staleness", "--time-unit", "--throughput", "--batch-size")
}
NETS = (["{graph}", "{network}"], ["{schedule}", "{platform}", "nosuch", "sub"])
SCHEDULES = (["{schedule}"], ["{graph}", "{network}", "{platform}", "nosuch", "sub"])


def _value(draw: st.DrawFn, choices: tuple[list[str], list[str]]) -> str:
    valid, hostile = choices
    return draw(st.sampled_from(valid if valid and draw(st.booleans()) else hostile))


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """An ``lpsched`` command line of ``graph``, ``bounds``, ``solve`` or ``validate``."""
    command = draw(st.sampled_from(["graph", "bounds", "solve", "validate"]))
    if command == "validate":
        argv = [command, _value(draw, SCHEDULES)]
        return argv + draw(st.lists(st.sampled_from(["--json", "--all"]), max_size=2, unique=True))
    argv = [command, _value(draw, NETS)]
    options = GRAPH_FLAGS if command == "graph" else FLAGS
    if command == "solve":
        options = options | SOLVE_FLAGS
        argv += ["--solver", "heuristic"]
    names = draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True))
    if command != "graph" and "--procs" not in names and "--platform" not in names:
        names.append("--procs")  # mostly: without it or --platform, nothing gets far
    for name in names:
        argv += [name, _value(draw, options[name])]
    if command != "graph" and draw(st.booleans()):
        argv.append("--json")
    return argv


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cli-fuzz")
    names = {key: path.name for key, path in write_inputs(root).items()}
    (root / "sub").mkdir()
    return root, names


def _run(root: Path, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def _listing(root: Path) -> dict[str, bytes | None]:
    return {p.name: (p.read_bytes() if p.is_file() else None) for p in root.iterdir()}


@settings(FUZZ, max_examples=200)
@given(argv=command_lines())
def test_command_lines_exit_0_1_or_2_in_one_line(folder, argv):
    root, names = folder
    argv = [a.format(**names) for a in argv]
    before = _listing(root)
    code, _out, err = _run(root, argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("lpsched: error: "), (argv, err)
    after = _listing(root)
    if code != 0:
        assert after == before, (argv, err)  # a failure leaves nothing behind
    for name in set(after) - set(before):  # what a success wrote: gone for the next example
        (root / name).unlink()
    assert {k: v for k, v in after.items() if k in before} == before  # inputs untouched
