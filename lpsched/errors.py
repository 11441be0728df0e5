"""Exceptions that the command line turns into one-line messages."""


class InputError(ValueError):
    """Bad input: a malformed file, an unknown name, an impossible value.

    The command line prints ``str(error)`` on one line and exits with code 2,
    so the message must name what is wrong and where.
    """


class InfeasibleError(RuntimeError):
    """An instance that has no schedule under the given constraints (exit code 1)."""
