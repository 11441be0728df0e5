"""Physical quantities: one parser for times, sizes and bandwidths, and readable output.

Every flag and file field that holds a physical quantity goes through
:func:`parse_quantity`, so ``25us``, ``0.1ms``, ``80GB``, ``80GiB``, ``25GB/s``
and ``200Gb/s`` are accepted everywhere alike. A bare number is taken in SI base
units (seconds, bytes, bytes per second). Decimal prefixes are powers of 1000,
binary ones (``KiB``, ``MiB``, ``GiB``, ``TiB``) powers of 1024; a lower-case
``b`` is a bit.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from .errors import InputError
from .files import brief

Kind = Literal["time", "bytes", "bandwidth"]

# Exact scales, so that "10us" is the float nearest 1e-5 (10 * 1e-6 is one ulp below it)
# and equal spellings of one quantity give equal platforms.
_TIME = {
    "s": Fraction(1),
    "ms": Fraction(1, 10**3),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "ns": Fraction(1, 10**9),
}
_PREFIX = {"": 1, "K": 10**3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_EXAMPLES = {"time": "'25us' or '0.1ms'", "bytes": "'80GB' or '80GiB'", "bandwidth": "'25GB/s'"}
_NUMBER = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"


def _size_unit(unit: str) -> Fraction | None:
    """Bytes per unit for ``B``, ``KB``, ``GiB``, ``Gb`` ..., else ``None``."""
    m = re.fullmatch(r"(Ki|Mi|Gi|Ti|K|k|M|G|T|P|)([Bb])", unit)
    if m is None:
        return None
    scale = Fraction(_BINARY.get(m.group(1)) or _PREFIX[m.group(1)])
    return scale / 8 if m.group(2) == "b" else scale


def _unit_scale(unit: str, kind: Kind) -> Fraction | None:
    if kind == "time":
        return _TIME.get(unit)
    if kind == "bytes":
        return _size_unit(unit)
    if unit.endswith("/s"):
        return _size_unit(unit[:-2])
    if unit.endswith("ps"):  # Gbps, MBps
        return _size_unit(unit[:-2])
    return None


def parse_quantity(
    value: object, kind: Kind, what: str, *, allow_zero: bool = False, allow_inf: bool = False
) -> float:
    """A physical quantity in SI base units, from ``"25GB/s"``, ``"10us"``, ``80e9`` ...

    Parameters
    ----------
    value
        A number (SI base unit) or a string of a number and an optional unit.
    kind
        ``"time"`` (seconds), ``"bytes"`` or ``"bandwidth"`` (bytes per second).
    what
        What the value is, for the error message (``"--bandwidth"``).
    allow_zero, allow_inf
        Whether ``0`` or infinity is acceptable.

    Raises
    ------
    InputError
        One line naming ``what``, the value and an example of the expected form.
    """
    if isinstance(value, bool):
        raise InputError(f"{what} must be a quantity like {_EXAMPLES[kind]}, got {value!r}")
    if isinstance(value, numbers.Real):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in ("inf", "infinity", "unlimited"):
            number = math.inf
        else:
            m = re.fullmatch(_NUMBER + r"\s*([A-Za-zµ/]*)", text)
            scale = None if m is None else (_unit_scale(m.group(2), kind) if m.group(2) else 1)
            if m is None or scale is None:
                raise InputError(f"{what} must be a quantity like {_EXAMPLES[kind]}, got {value!r}")
            number = float(m.group(1)) * float(scale)
            if 1e-40 < abs(number) < 1e40:  # correctly rounded (exponents bounded: cheap)
                number = float(Fraction(m.group(1)) * scale)
    else:
        raise InputError(f"{what} must be a quantity like {_EXAMPLES[kind]}, got {value!r}")
    if math.isnan(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{what} must be {bound}, got {value!r}")
    if math.isinf(number) and not allow_inf:
        raise InputError(f"{what} must be finite, got {value!r}")
    if not math.isinf(number) and (number > 1e30 or (0 < number < 1e-30)):
        raise InputError(f"{what} is out of range (1e-30 to 1e30 in SI units), got {value!r}")
    return number


def limit_text(value: float) -> str:
    """A limit as people write it: ``2**40``, ``10**6``, ``1e-09`` or ``4096``."""
    if isinstance(value, numbers.Integral) and value >= 2**16:
        v = int(value)
        if v & (v - 1) == 0:
            return f"2**{v.bit_length() - 1}"
        if str(v).rstrip("0") == "1":
            return f"10**{len(str(v)) - 1}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_integer(
    value: object, what: str, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An exact integer in ``minimum..maximum``, as a plain ``int``.

    No coercion: ``3.0``, ``"3"`` and ``True`` are no integers (a file that
    says ``9.7`` must not be read as 9).

    Raises
    ------
    InputError
        ``"WHAT must be an integer, got ..."``, ``"WHAT must be >= MIN, got ..."``
        or ``"WHAT must be at most MAX, got ..."``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{what} must be an integer, got {brief(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise InputError(f"{what} must be >= {minimum}, got {brief(number)}")
    if maximum is not None and number > maximum:
        raise InputError(f"{what} must be at most {limit_text(maximum)}, got {brief(number)}")
    return number


def check_real(
    value: object,
    what: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    positive: bool = False,
) -> float:
    """A finite real number in ``[minimum, maximum]`` (``> 0`` too when ``positive``), as a float.

    Raises
    ------
    InputError
        On a non-number (``True`` and ``"3"`` included), NaN, infinity or a value
        out of range; the message names ``what`` and the limit.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} must be a number, got {brief(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number):
        raise InputError(f"{what} must be a finite number, got {brief(value)}")
    if positive and number <= 0:
        raise InputError(f"{what} must be > 0, got {brief(value)}")
    if minimum is not None and number < minimum:
        raise InputError(f"{what} must be at least {limit_text(minimum)}, got {brief(value)}")
    if maximum is not None and number > maximum:
        raise InputError(f"{what} must be at most {limit_text(maximum)}, got {brief(value)}")
    return number


def four_digits(x: float) -> str:
    """Four significant digits, or a whole number from 10^4 on: ``18.775 -> "18.78"``.

    Rounded half up on the decimal the number is written as, so that a table,
    a summary line and a plot show one period alike. The decimal is read to 15
    digits: the last bits of a product such as ``751 * 25e-6 * 1e3`` are noise,
    not a reason to round down.
    """
    if not math.isfinite(x):
        return str(x)
    written = Decimal(f"{x:.15g}")
    if written == 0:
        return "0"
    places = max(0, 4 - written.adjusted() - 1)
    rounded = written.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:.0f}" if abs(rounded) >= 10**4 else f"{float(rounded):.4g}"


def format_ms(seconds: float) -> str:
    """A time in milliseconds with four significant digits: ``0.01928 -> "19.28 ms"``.

    Rounded by :func:`four_digits`: 751 x 25 us reads 18.78 ms, not the 18.77 that
    its binary float would round to.
    """
    return f"{four_digits(seconds * 1e3)} ms"


#: Seconds per time-unit suffix, as time units (``"25us"``) are written.
UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

_TIME_UNIT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)?\s*(s|ms|us|ns)?\s*")


def time_unit_value(text: str, *, bare: bool = False) -> float | None:
    """Seconds in a time unit written ``"25us"``, ``"0.1ms"`` or ``"1e-4"``; ``None`` if not one.

    With ``bare``, a unit without a number (``"us"``) is one of it. The value is
    the float product of the number and the unit, the one every module uses.
    """
    m = _TIME_UNIT.fullmatch(str(text))
    if m is None or (m.group(1) is None and (not bare or m.group(2) is None)):
        return None
    return float(m.group(1) or 1) * UNIT_SECONDS[m.group(2) or "s"]


def format_bytes(nbytes: float) -> str:
    """A size in decimal units: ``1.2e10 -> "12 GB"``, ``802816 -> "802.8 kB"``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.4g} {unit}"
    return f"{nbytes:.0f} B"


def format_bandwidth(bps: float) -> str:
    """A bandwidth in GB/s: ``4.5e11 -> "450 GB/s"``."""
    if math.isinf(bps):
        return "unlimited"
    return f"{bps / 1e9:.4g} GB/s"


def format_time(seconds: float) -> str:
    """A short duration with the unit that reads best: ``3e-06 -> "3 us"``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds / 1e-9:.4g} ns"
