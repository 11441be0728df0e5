"""Reading and writing the files lpsched takes and makes, so that a failure leaves nothing behind.

* :func:`read_text`, :func:`read_json` and :func:`parse_yaml` turn every way a file can be
  unreadable (missing, a directory, too large, not UTF-8, invalid or absurdly nested JSON or
  YAML, a number of thousands of digits) into one :class:`~lpsched.errors.InputError` line
  naming the file.
* :func:`file_kind` names the kind of lpsched file some parsed data is, so that a file given
  where another kind is expected is refused with one clear line.
* :func:`check_output` refuses a bad output path before any work is done.
* :func:`write_text_atomic` and :func:`write_bytes_atomic` replace a regular file
  atomically, follow a symbolic link to the file it names, and write through a FIFO or
  device instead of replacing it.
* :func:`brief` shows a value read from a file in a message: short, on one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import reprlib
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

#: The largest input file read (bytes): room for a graph of the most tasks and edges
#: :mod:`lpsched.graph` takes (about 100 bytes of JSON per edge), and small enough that
#: reading ``/dev/zero`` ends at once.
MAX_FILE_BYTES = 128 * 2**20

#: The largest YAML text parsed (characters): network and platform files are a few
#: kilobytes (40,000 layers take about 3 MB), and the pure-Python YAML parser reads about
#: a megabyte a second, so that a larger file would only keep lpsched busy.
MAX_YAML_CHARS = 8 * 2**20

#: The deepest nesting of lists and mappings in an input file. lpsched's own formats
#: nest at most 5 levels (a schedule's platform's links); the limit leaves room and
#: keeps every recursive consumer (``repr``, ``copy.deepcopy``) far from Python's limit.
MAX_DEPTH = 32

#: The most lists, mappings and values an input file may hold (counted once each, so
#: that YAML aliases that share one list do not count again).
MAX_NODES = 20_000_000

_BRIEF = reprlib.Repr()
_BRIEF.maxstring = 60
_BRIEF.maxother = 60
_BRIEF.maxlong = 40
_BRIEF.maxlevel = 2
_BRIEF.maxlist = _BRIEF.maxdict = _BRIEF.maxtuple = 4


def brief(value: Any) -> str:
    """A short one-line ``repr`` of ``value`` for a message (long strings and lists elided)."""
    try:
        return _BRIEF.repr(value)
    except (RecursionError, ValueError):  # ints past the digit limit, deep structures
        return f"<{type(value).__name__}>"


def shown(text: str) -> str:
    """A name or path as messages show it: as is when short and printable, else :func:`brief`."""
    if isinstance(text, str) and 0 < len(text) <= 200 and text.isprintable():
        return text
    return brief(text)


# ------------------------------------------------------------------- reading
def read_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file (at most ``limit``), or one-line :class:`InputError` naming it.

    FIFOs and devices are read too (``<(cat s.json)``, ``/dev/stdin``), up to the limit.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a file") from None
    except OSError as err:
        raise InputError(f"{p}: cannot read ({err.strerror or err})") from None
    except ValueError as err:  # an embedded NUL in the name
        raise InputError(f"{brief(str(p))}: cannot read ({err})") from None
    if len(data) > limit:
        raise InputError(f"{p}: larger than {limit // 2**20} MiB, the most lpsched reads")
    return data


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a file, or one-line :class:`InputError` naming the file."""
    p = Path(path)
    data = read_bytes(p)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: not UTF-8 text (byte {err.start})") from None


def read_json(path: str | Path) -> Any:
    """Load a JSON file, raising :class:`InputError` with the file and line on failure."""
    p = Path(path)
    return parse_json(read_text(p), str(p))


def parse_json(text: str, source: str) -> Any:
    """Parse JSON text; every failure is one :class:`InputError` line naming ``source``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{source}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise InputError(f"{source}: JSON nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise InputError(f"{source}: invalid JSON: a number of thousands of digits") from None
    check_nesting(data, source)
    return data


_FLOW_RUN = re.compile(r"[\[{](?:\s*[\[{]){" + str(MAX_DEPTH) + "}")


def parse_yaml(text: str, source: str, loader: type | None = None) -> Any:
    """Parse YAML text with a safe loader; every failure is one :class:`InputError` line.

    Parameters
    ----------
    text
        The YAML (or JSON) text.
    source
        The file, for messages.
    loader
        A :class:`yaml.SafeLoader` subclass; default ``yaml.SafeLoader``.
    """
    if len(text) > MAX_YAML_CHARS:
        raise InputError(
            f"{source}: larger than {MAX_YAML_CHARS // 2**20} MiB, the most lpsched reads as YAML"
        )
    # The YAML scanner takes quadratic time in the depth of flow collections: refuse a
    # run of openers deeper than the limit before it starts (the check below sees the rest).
    if _FLOW_RUN.search(text):
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels")
    try:
        data = yaml.load(text, Loader=loader or yaml.SafeLoader)  # noqa: S506 - safe loaders only
    except RecursionError:
        raise InputError(f"{source}: YAML nested too deeply") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(f"{where}: malformed YAML: {problem}") from None
    except (ValueError, TypeError, OverflowError) as err:  # 5000-digit ints, odd timestamps
        what = "a number of thousands of digits" if "digits" in str(err) else brief(str(err))
        raise InputError(f"{source}: malformed YAML: {what}") from None
    check_nesting(data, source)
    return data


def check_nesting(data: Any, source: str) -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_NODES`.

    Each list or mapping is visited once, however many YAML aliases share it, so
    the check is linear in the size of the parsed data.

    Raises
    ------
    InputError
        Naming ``source`` and the limit.
    """
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(data, 0)] if isinstance(data, dict | list) else []
    count = 0
    while stack:
        value, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels")
        if id(value) in seen:
            continue
        seen.add(id(value))
        items = value.values() if isinstance(value, dict) else value
        count += len(items)
        if count > MAX_NODES:
            raise InputError(f"{source}: more than {MAX_NODES} values, the most lpsched reads")
        for item in items:  # parsers make dicts (YAML: subclasses) and lists, nothing else
            if isinstance(item, dict | list):
                stack.append((item, depth + 1))


#: lpsched's file kinds: the prefix of their format tag, their name, and where they go.
FILE_KINDS = {
    "lpsched-graph": ("a task-graph file", "give it as NET, in a file ending in .json"),
    "lpsched-schedule": ("a schedule file", "lpsched validate reads it"),
    "lpsched-network": ("a network file", "give it as NET"),
    "lpsched-platform": ("a platform file", "pass it with --platform"),
}


def file_kind(data: Any) -> str | None:
    """The kind of lpsched file ``data`` was parsed from (a key of :data:`FILE_KINDS`).

    The format tag decides; without one, the keys that only that kind has
    (``tasks``, ``assignments``, ``layers``, ``processors``/``links``).
    ``None`` when nothing tells.
    """
    if not isinstance(data, Mapping):
        return None
    fmt = data.get("format")
    if isinstance(fmt, str):
        for prefix in FILE_KINDS:
            if fmt.startswith(prefix):
                return prefix
    if "assignments" in data:
        return "lpsched-schedule"
    if "tasks" in data and "layers" not in data:
        return "lpsched-graph"
    if "layers" in data:
        return "lpsched-network"
    if "processors" in data or "links" in data:
        return "lpsched-platform"
    return None


def refuse_kind(data: Any, source: str, expected: str, wanted_format: str | None = None) -> None:
    """Raise a clear line when ``data`` is an lpsched file of another kind than ``expected``.

    Parameters
    ----------
    data
        Parsed file content.
    source
        The file, for the message.
    expected
        The kind wanted (a key of :data:`FILE_KINDS`).
    wanted_format
        The format tag wanted, named in the message when the file has another tag.
    """
    kind = file_kind(data)
    if kind is None or kind == expected:
        return
    what, where = FILE_KINDS[kind]
    fmt = data.get("format") if isinstance(data, Mapping) else None
    if isinstance(fmt, str) and wanted_format is not None:
        raise InputError(
            f"{source}: format must be {wanted_format!r}, got {brief(fmt)}: it is {what}; {where}"
        )
    raise InputError(f"{source}: is {what}, not {FILE_KINDS[expected][0]}: {where}")


# ------------------------------------------------------------------- writing
def check_output(path: str | Path, suffixes: Iterable[str] | None = None, what: str = "") -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    Parameters
    ----------
    path
        Where a command will write.
    suffixes
        The accepted extensions (``".png"``), or ``None`` for any.
    what
        The flag, for the message (``"--gantt"``).

    Raises
    ------
    InputError
        When the path is empty or a directory, its directory does not exist or
        is not writable, a FIFO or device there cannot be written, or its
        extension is not among ``suffixes``.
    """
    p = Path(path)
    label = f"{what} {shown(str(path))}" if what else shown(str(path))
    if not str(path):
        raise InputError(f"{label}: empty path")
    if suffixes is not None:
        allowed = tuple(suffixes)
        if p.suffix.lower() not in allowed:
            raise InputError(f"{label}: must end in {', '.join(allowed)}")
    try:
        _check_writable(p, label)
    except InputError:
        raise
    except OSError as err:
        raise InputError(f"{label}: cannot write ({err.strerror or err})") from None
    except ValueError as err:  # an embedded NUL
        raise InputError(f"{label}: cannot write ({err})") from None
    return p


def _check_writable(p: Path, label: str) -> None:
    target = Path(os.path.realpath(p))
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{label}: is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        if not os.access(target, os.W_OK):
            raise InputError(f"{label}: cannot write (permission denied)")
        return
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"{label}: directory {parent} does not exist")
    # A regular file is replaced by renaming a new file over it: the directory must be writable.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{label}: directory {parent} is not writable")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as :func:`write_bytes_atomic` does."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a failure leaves nothing half-written.

    A regular file (or a new one) is written to a temporary file beside it and
    renamed over it, keeping its permissions. A symbolic link is followed: the
    file it names is replaced, the link stays. A FIFO, a device or another
    special file is written through, never replaced (a FIFO waits for its reader).

    Raises
    ------
    InputError
        When the path cannot be written; the message names it.
    """
    p = Path(path)
    try:
        target = Path(os.path.realpath(p)) if p.is_symlink() else p
        mode: int | None = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise InputError(f"{p}: cannot write ({err.strerror or err})") from None
    except ValueError as err:
        raise InputError(f"{brief(str(p))}: cannot write ({err})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{p}: is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        _write_through(target, data, p)
        return
    _replace(target, data, mode, p)


def _write_through(target: Path, data: bytes, shown: Path) -> None:
    """Write into a FIFO or device as it is (``O_TRUNC`` would be meaningless there)."""
    try:
        fd = os.open(target, os.O_WRONLY)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as err:
        raise InputError(f"{shown}: cannot write ({err.strerror or err})") from None


def _replace(target: Path, data: bytes, mode: int | None, shown: Path) -> None:
    """Write a temporary file beside ``target`` and rename it over ``target``."""
    # A short name of our own, so that a long target name still leaves room for it.
    tmp = target.with_name(f".lpsched-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, stat.S_IMODE(mode))
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as err:
        _discard(tmp)
        raise InputError(f"{shown}: cannot write ({err.strerror or err})") from None
    except BaseException:  # Ctrl-C while writing: leave no temporary file behind
        _discard(tmp)
        raise


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
