"""Platforms the tests name by their link model.

``Platform.default(P)`` has link ports; tests of what the delay model does (the
model of earlier versions, kept for comparison) say so with :func:`delay`.
"""

from __future__ import annotations

import dataclasses

from lpsched.platform import Platform


def delay(platform: Platform | int) -> Platform:
    """``platform`` (or the default platform of ``P`` processors) with ``capacity: delay``."""
    if not isinstance(platform, Platform):
        platform = Platform.default(platform)
    return dataclasses.replace(platform, capacity="delay")
