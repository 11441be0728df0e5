"""Reading and writing the files lpsched takes and makes, so that a failure leaves nothing behind.

* :func:`read_json` and :func:`read_text` turn every way a file can be unreadable (missing,
  a directory, not UTF-8, invalid or absurdly nested JSON) into one
  :class:`~lpsched.errors.InputError` line naming the file.
* :func:`check_output` refuses a bad output path before any work is done.
* :func:`write_text_atomic` replaces a regular file atomically, follows a symbolic link
  to the file it names, and writes through a FIFO or device instead of replacing it.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import InputError


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a file, or one-line :class:`InputError` naming the file."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a file") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{p}: cannot read ({err.strerror})") from None


def read_json(path: str | Path) -> Any:
    """Load a JSON file, raising :class:`InputError` with the file and line on failure."""
    p = Path(path)
    text = read_text(p)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{p}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply") from None


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
        When the path is a directory, its directory does not exist or is not
        writable, or its extension is not among ``suffixes``.
    """
    p = Path(path)
    label = f"{what} {p}" if what else str(p)
    if suffixes is not None:
        allowed = tuple(suffixes)
        if p.suffix.lower() not in allowed:
            raise InputError(f"{label}: must end in {', '.join(allowed)}")
    if p.is_dir():
        raise InputError(f"{label}: is a directory")
    parent = p.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{label}: directory {parent} does not exist")
    if not p.exists() and not os.access(parent, os.W_OK):
        raise InputError(f"{label}: directory {parent} is not writable")
    return p


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a failure leaves nothing half-written.

    A regular file (or a new one) is written to a temporary file beside it and
    renamed over it. A symbolic link is followed: the file it names is
    replaced, the link stays. A FIFO, a device or another special file is
    written through, never replaced.

    Raises
    ------
    InputError
        When the path cannot be written; the message names it.
    """
    p = Path(path)
    target = Path(os.path.realpath(p)) if p.is_symlink() else p
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise InputError(f"{p}: cannot write ({err.strerror})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{p}: is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(target, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as err:
            raise InputError(f"{p}: cannot write ({err.strerror})") from None
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        tmp.replace(target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write ({err.strerror})") from None
