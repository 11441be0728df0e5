"""Physical quantities: every accepted form, the refused ones, and readable output."""

from __future__ import annotations

import math

import pytest

from lpsched.errors import InputError
from lpsched.units import (
    format_bandwidth,
    format_bytes,
    format_ms,
    format_time,
    parse_quantity,
)

# The definitions: decimal prefixes are powers of 1000, binary ones of 1024, a lower-case
# b is a bit (1/8 byte); the expected values are written from them, as SI base units.
GIGA, GIBI = 10**9, 2**30


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("25GB/s", "bandwidth", 25 * GIGA),
        ("200Gb/s", "bandwidth", 200 * GIGA / 8),
        ("25GiB/s", "bandwidth", 25 * GIBI),
        ("400Gb/s", "bandwidth", 50 * GIGA),
        ("100Gbps", "bandwidth", 100 * GIGA / 8),
        ("4MBps", "bandwidth", 4 * 10**6),
        ("1.5TB/s", "bandwidth", 1.5e12),
        ("10us", "time", 1e-5),
        ("10 us", "time", 1e-5),
        ("10µs", "time", 1e-5),
        ("0.1ms", "time", 1e-4),
        ("3us", "time", 3e-6),
        ("2ns", "time", 2e-9),
        ("1.5s", "time", 1.5),
        ("80GB", "bytes", 80 * GIGA),
        ("80GiB", "bytes", 80 * GIBI),
        ("1kB", "bytes", 1000),
        ("1KB", "bytes", 1000),
        ("1KiB", "bytes", 1024),
        ("8Kib", "bytes", 1024),  # 8 kibibits
        ("2MiB", "bytes", 2 * 2**20),
        ("1TiB", "bytes", 2**40),
        ("2PB", "bytes", 2 * 10**15),
        ("512B", "bytes", 512),
        ("1.5e1GB", "bytes", 15 * GIGA),
        ("+2GB", "bytes", 2 * GIGA),
        # bare numbers are SI base units: seconds, bytes, bytes per second
        ("5e9", "bandwidth", 5 * GIGA),
        ("1e-5", "time", 1e-5),
        (".5", "time", 0.5),
        ("  7  ", "bytes", 7),
        (80e9, "bytes", 80 * GIGA),
        (3, "time", 3.0),
        (2.5e-6, "time", 2.5e-6),
    ],
)
def test_every_form_gives_the_si_value(text, kind, expected):
    value = parse_quantity(text, kind, "--x")
    assert isinstance(value, float)
    assert value == float(expected)  # correctly rounded: "10us" is the float 1e-5


def test_equal_spellings_are_equal():
    assert parse_quantity("10us", "time", "x") == parse_quantity("0.01ms", "time", "x") == 10e-6
    assert parse_quantity("200Gb/s", "bandwidth", "x") == parse_quantity("25GB/s", "bandwidth", "x")
    assert parse_quantity("1024MiB", "bytes", "x") == parse_quantity("1GiB", "bytes", "x")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("fast", "bandwidth"),
        ("", "time"),
        ("GB", "bytes"),
        ("25 GB/h", "bandwidth"),
        ("25us", "bandwidth"),  # a time where a bandwidth is due
        ("25GB/s", "time"),
        ("80GB", "time"),
        ("10us", "bytes"),
        ("1.2.3GB", "bytes"),
        ("10 parsecs", "time"),
        ("1e5 B/s/s", "bandwidth"),
        ("25XB/s", "bandwidth"),
        ("nan", "time"),
        (None, "time"),
        (True, "bytes"),
        ([25], "bandwidth"),
    ],
)
def test_bad_forms_name_the_flag_and_an_example(text, kind):
    with pytest.raises(InputError) as info:
        parse_quantity(text, kind, "--flag")
    message = str(info.value)
    assert message.startswith("--flag must be a quantity like ")
    assert "\n" not in message and repr(text) in message


@pytest.mark.parametrize("value", ["0", 0, 0.0, "0GB/s", "0us"])
def test_zero_only_where_allowed(value):
    with pytest.raises(InputError, match=r"^--x must be > 0"):
        parse_quantity(value, "bandwidth" if "GB" in str(value) else "time", "--x")
    kind = "bandwidth" if "GB" in str(value) else "time"
    assert parse_quantity(value, kind, "--x", allow_zero=True) == 0.0


@pytest.mark.parametrize("value", ["-1GB", -1, "-10us", -1e-9, "-0.5"])
def test_negative_is_refused_even_where_zero_is_allowed(value):
    kind = "bytes" if "GB" in str(value) else "time"
    with pytest.raises(InputError, match=r"^--x must be >= 0"):
        parse_quantity(value, kind, "--x", allow_zero=True)
    with pytest.raises(InputError, match=r"^--x must be > 0"):
        parse_quantity(value, kind, "--x")


@pytest.mark.parametrize("value", ["inf", "Infinity", "unlimited", math.inf, "1e400"])
def test_infinity_only_where_allowed(value):
    with pytest.raises(InputError, match="finite"):
        parse_quantity(value, "bandwidth", "--bandwidth")
    assert parse_quantity(value, "bandwidth", "--bandwidth", allow_inf=True) == math.inf


def test_nan_is_refused():
    with pytest.raises(InputError, match="--x"):
        parse_quantity(math.nan, "time", "--x", allow_zero=True, allow_inf=True)


@pytest.mark.parametrize("value", ["1e31", 1e31, "1e-31", "1e-25us"])
def test_out_of_range(value):
    with pytest.raises(InputError, match="out of range"):
        parse_quantity(value, "time", "--x")


def test_readable_output():
    assert format_ms(771 * 25e-6) == "19.28 ms"
    assert format_bytes(12e9) == "12 GB"
    assert format_bytes(802816) == "802.8 kB"
    assert format_bytes(512) == "512 B"
    assert format_bandwidth(450e9) == "450 GB/s"
    assert format_bandwidth(math.inf) == "unlimited"
    assert format_time(3e-6) == "3 us"
    assert format_time(0.25) == "250 ms"
    assert format_time(2e-9) == "2 ns"
