"""Helpers shared by the command-line tests."""

from __future__ import annotations

import pytest

from lpsched.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``lpsched ARGV`` in-process; return the exit code, stdout and stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """Assert that stderr is one ``lpsched: error:`` line without a traceback; return it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("lpsched: error:"), err
    assert "Traceback" not in err
    return lines[0]
