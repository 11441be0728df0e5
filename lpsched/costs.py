"""The cost model: layer shapes to integer durations and data sizes in bytes.

Compute time is ``MACs / throughput`` on a processor of speed 1, in whole time
units, rounded up; a task never lasts zero units. What a message costs is the
platform's business (:mod:`lpsched.platform`: latency + bytes / bandwidth of
the link between the two processors), so that one task graph can be scheduled
on any machine.

The defaults describe one training step at batch 32 on GPU-class processors:

* ``throughput = 10e12`` MAC/s: a V100/A100-class GPU sustains 20--30 TFLOP/s
  on large convolutions and matrix products in mixed precision, i.e. ~10 TMAC/s
  once the smaller kernels of a real network are averaged in.
* ``time_unit = 25e-6`` s (``"25us"``): on VGG-16 at batch 32 the longest
  task (a 1.85 GMAC/sample convolution, 5.9 ms) lasts ~240 units and the total
  work ~6,000 units, while the many small element-wise tasks (each rounded up
  to one unit) cost only a few percent of rounding error. Solver effort grows
  with these magnitudes (CP-SAT domains, MILP big-M values); a coarser unit
  makes models easier and the rounding worse, which :meth:`rounding_error`
  reports.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InputError
from .files import brief
from .graph import MAX_BYTES, MAX_UNIT_SECONDS, MAX_UNITS, MIN_UNIT_SECONDS
from .units import UNIT_SECONDS, check_integer, check_real, limit_text, time_unit_value

#: Limits of the cost model's numbers, chosen so that no duration overflows and every
#: one a real machine has fits: batch sizes up to 2**20 samples; throughputs from 1
#: MAC/s (the tests' unit costs) to 10**18 MAC/s (an exa-MAC machine); elements of at
#: most 64 bytes.
MAX_BATCH_SIZE = 2**20
MIN_THROUGHPUT = 1.0
MAX_THROUGHPUT = 1e18
MAX_BYTES_PER_ELEMENT = 64.0

#: Seconds per unit suffix understood by :func:`parse_time_unit`.
_UNITS = UNIT_SECONDS

# Products of floats that are integers in exact arithmetic (e.g. 3 * 25e-6 / 25e-6)
# land a few ulps above the integer; this tolerance keeps ceil() from adding a unit.
_REL_TOL = 1e-9


def parse_time_unit(text: str | float) -> float:
    """Seconds per time unit from ``"25us"``, ``"0.1ms"``, ``"1e-4"`` or a number.

    Raises
    ------
    InputError
        When the text is not a positive duration.
    """
    if isinstance(text, bool):
        raise InputError(f"time unit must be a duration like '25us', got {brief(text)}")
    if isinstance(text, numbers.Real):
        value = float(text)
    elif isinstance(text, str):
        parsed = time_unit_value(text)
        if parsed is None:
            raise InputError(
                f"time unit must be a duration like '25us', '0.1ms' or '1e-4', got {brief(text)}"
            )
        value = parsed
    else:
        raise InputError(f"time unit must be a duration like '25us', got {brief(text)}")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"time unit must be positive, got {brief(text)}")
    # 1 ns to 1 hour; the tolerance lets "1ns" (1 * 1e-9, maybe an ulp off) through.
    if not MIN_UNIT_SECONDS * (1 - _REL_TOL) <= value <= MAX_UNIT_SECONDS * (1 + _REL_TOL):
        raise InputError(f"time unit must be between 1ns and 1h, got {brief(text)}")
    return value


def format_time_unit(seconds: float) -> str:
    """A readable name for a time unit: ``25e-6 -> "25us"``, ``1.5e-3 -> "1.5ms"``."""
    suffix, scale = "ns", 1e-9
    for name in ("s", "ms", "us"):
        if seconds >= _UNITS[name] * (1 - _REL_TOL):
            suffix, scale = name, _UNITS[name]
            break
    return f"{float(f'{seconds / scale:.12g}'):g}{suffix}"


def _g(x: float) -> str:
    """``x`` with four significant digits, even for an int beyond the float range."""
    try:
        return f"{x:.4g}"
    except OverflowError:
        return "more than 1e308"


def _ceil(x: float) -> int:
    return math.ceil(x - _REL_TOL * abs(x))


def _positive(value: object, what: str, *, allow_zero: bool = False, integer: bool = False) -> None:
    ok_type = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok_type) or math.isnan(value):
        kind = "an integer" if integer else "a number"
        raise InputError(f"cost model: {what} must be {kind}, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"cost model: {what} must be {bound}, got {value!r}")


@dataclass(frozen=True)
class CostModel:
    """Turns MAC counts and data sizes into whole time units.

    Parameters
    ----------
    batch_size
        Samples per mini-batch (per iteration).
    throughput
        Multiply-accumulates per second of one processor. Element-wise
        operations (activations, pooling, weight updates) are charged as one
        MAC each.
    bytes_per_element
        Size of one activation, gradient or weight element (4 for fp32).
    time_unit
        Seconds per time unit, as a number or a string like ``"25us"``; it is
        stored in seconds and named by :attr:`unit_name`.

    Raises
    ------
    InputError
        On a non-positive value, or a batch size that is not an integer.
    """

    batch_size: int = 32
    throughput: float = 10e12
    bytes_per_element: float = 4
    time_unit: float = 25e-6

    def __post_init__(self) -> None:
        _positive(self.batch_size, "batch_size", integer=True)
        _positive(self.throughput, "throughput")
        _positive(self.bytes_per_element, "bytes_per_element")
        if math.isinf(self.throughput):
            raise InputError("cost model: throughput must be finite")
        if math.isinf(self.bytes_per_element):
            raise InputError("cost model: bytes_per_element must be finite")
        # Plain Python numbers, so that durations and JSON output never carry numpy types.
        batch = check_integer(self.batch_size, "cost model: batch size", 1, MAX_BATCH_SIZE)
        object.__setattr__(self, "batch_size", batch)
        throughput = check_real(
            self.throughput, "cost model: throughput (MAC/s)", MIN_THROUGHPUT, MAX_THROUGHPUT
        )
        object.__setattr__(self, "throughput", throughput)
        width = check_real(
            self.bytes_per_element, "cost model: bytes_per_element", 0, MAX_BYTES_PER_ELEMENT
        )
        object.__setattr__(self, "bytes_per_element", width)
        object.__setattr__(self, "time_unit", parse_time_unit(self.time_unit))

    @property
    def unit_name(self) -> str:
        """The time unit as text, e.g. ``"25us"`` (the graph's ``time_unit``)."""
        return format_time_unit(self.time_unit)

    # ------------------------------------------------------------- conversions
    def exact_compute(self, macs_total: float) -> float:
        """Unrounded duration, in time units, of ``macs_total`` MACs on one processor."""
        if isinstance(macs_total, bool) or not isinstance(macs_total, numbers.Real):
            raise InputError(f"cost model: MAC count must be a number, got {macs_total!r}")
        if not macs_total >= 0:
            raise InputError(f"cost model: MAC count must be >= 0, got {macs_total!r}")
        try:
            return macs_total / self.throughput / self.time_unit
        except OverflowError:  # an int beyond the float range
            return math.inf

    def compute(self, macs_total: float) -> int:
        """Duration of ``macs_total`` MACs: whole units, rounded up, at least 1.

        Zero work still lasts one unit: every task must occupy its processor
        for a positive time (``formulations/README.md``, (P2)).

        Raises
        ------
        InputError
            When the duration exceeds :data:`~lpsched.graph.MAX_UNITS`.
        """
        exact = self.exact_compute(macs_total)
        if not exact <= MAX_UNITS:  # NaN and infinity too
            raise InputError(
                f"cost model: {_g(macs_total)} MACs last {_g(exact)} time units of "
                f"{self.unit_name}, more than the limit of {limit_text(MAX_UNITS)} "
                "(a coarser time unit or a higher throughput makes them fewer)"
            )
        return max(1, _ceil(exact))

    def _units(self, macs_total: float) -> float:
        """``compute`` without its limit, as a float: what :meth:`rounding_error` sums."""
        exact = self.exact_compute(macs_total)
        return max(1, _ceil(exact)) if exact <= MAX_UNITS else max(1.0, exact)

    def data_bytes(self, elements: float) -> int:
        """Bytes of ``elements`` values, rounded up to whole bytes.

        Raises
        ------
        InputError
            Beyond :data:`~lpsched.graph.MAX_BYTES`.
        """
        try:
            size = elements * self.bytes_per_element
        except OverflowError:
            size = math.inf
        if not size <= MAX_BYTES:
            raise InputError(
                f"cost model: a tensor of {_g(elements)} elements exceeds the limit of "
                f"{limit_text(MAX_BYTES)} bytes"
            )
        return _ceil(size)

    def rounding_error(self, macs: Iterable[float]) -> float:
        """Relative rounding error of a set of task costs given in MACs.

        ``sum(compute(m)) / sum(exact_compute(m)) - 1``: the fraction of the
        rounded total work that the time unit adds. ``0.0`` when every cost is
        a whole number of units; ``math.inf`` when every cost is zero.
        """
        macs = list(macs)
        # _units, not compute: suggest_time_unit tries units too fine for big tasks.
        rounded = sum(self._units(m) for m in macs)
        exact = sum(self.exact_compute(m) for m in macs)
        if exact == 0:
            return math.inf if rounded else 0.0
        return rounded / exact - 1

    def to_dict(self) -> dict[str, float | int | str]:
        """The parameters as a JSON-ready dict (``time_unit`` as its name)."""
        return {
            "batch_size": self.batch_size,
            "throughput": self.throughput,
            "bytes_per_element": self.bytes_per_element,
            "time_unit": self.unit_name,
        }
