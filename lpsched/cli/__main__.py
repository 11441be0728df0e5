"""``python -m lpsched.cli``: the command line."""

from . import run

run()
