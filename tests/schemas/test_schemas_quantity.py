"""Quantities: CPU to float cores, memory and disk to int bytes, and back to short strings."""

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.quantity import (
    BYTE_SUFFIXES,
    MAX_BYTES,
    format_bytes,
    format_cpu,
    parse_bytes,
    parse_cpu,
)


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        (0.5, 0.5),
        (2, 2.0),
        ("500m", 0.5),
        ("1.5", 1.5),
        ("2", 2.0),
        ("0", 0.0),
        ("100m", 0.1),
        ("1m", 0.001),
        (".25", 0.25),
        ("1500m", 1.5),
    ],
)
def test_cpu_is_parsed_to_cores(text: object, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)
    assert isinstance(parse_cpu(text), float)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "empty"),
        ("-1", "negative"),
        (-0.5, "negative"),
        ("1.5Gi", "expected a number"),
        ("500 m", "expected a number"),
        ("abc", "expected a number"),
        (" 1", "spaces"),
        (True, "got bool"),
        (None, "got NoneType"),
        (math.inf, "finite"),
        (math.nan, "finite"),
        ("9999999999", "not a real machine"),
    ],
)
def test_bad_cpu_is_refused_with_the_reason(value: object, why: str) -> None:
    with pytest.raises(ValueError, match="is not a quantity") as info:
        parse_cpu(value)
    assert why in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64Mi", 64 * 1024**2),
        ("1G", 10**9),
        ("1Gi", 1024**3),
        (512, 512),
        ("512", 512),
        ("100M", 100 * 10**6),
        ("1e3", 1000),
        ("1E3", 1000),
        ("5e+2", 500),
        ("1k", 1000),
        ("1Ki", 1024),
        ("1.5Gi", 1536 * 1024**2),
        ("0.5Ki", 512),
        ("2T", 2 * 10**12),
        ("1Pi", 1024**5),
        ("1E", 10**18),
        ("7Ei", 7 * 1024**6),
        (1000.0, 1000),
        ("0", 0),
    ],
)
def test_bytes_are_parsed_exactly(text: object, size: int) -> None:
    assert parse_bytes(text) == size
    assert type(parse_bytes(text)) is int


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("64Qi", "unknown suffix 'Qi'"),
        ("64m", "unknown suffix 'm'"),
        ("1e", "unknown suffix 'e'"),
        ("", "empty"),
        ("-1Gi", "negative"),
        (-1, "negative"),
        ("0.5", "whole number of bytes"),
        (1.5, "whole number of bytes"),
        ("1.0001k", "whole number of bytes"),
        ("1e30", "larger than"),
        ("8Ei", "larger than"),
        (2**63, "larger than"),
        ("1e99999999", "larger than"),
        ("1 Gi", "expected a number"),
        ("Gi", "expected a number"),
        ("1..5", "expected a number"),
        (False, "got bool"),
        ([64], "got list"),
        (math.inf, "finite"),
        ("9" * 100, "too long"),
    ],
)
def test_bad_bytes_are_refused_with_the_reason(value: object, why: str) -> None:
    with pytest.raises(ValueError, match="is not a quantity") as info:
        parse_bytes(value)
    assert why in str(info.value)


def test_the_message_quotes_the_input() -> None:
    with pytest.raises(ValueError) as info:
        parse_bytes("64Qi")
    assert str(info.value).startswith("'64Qi' is not a quantity")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0"),
        (512, "512"),
        (1024, "1Ki"),
        (67108864, "64Mi"),
        (10**9, "1G"),
        (1024**3, "1Gi"),
        (64 * 1024**4, "64Ti"),
        (1536, "1.5Ki"),
        (123456789, "118Mi"),
        (1024**2 - 24, "1Mi"),
    ],
)
def test_bytes_are_formatted_for_tables(size: int, text: str) -> None:
    assert format_bytes(size) == text


def test_negative_bytes_cannot_be_formatted() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_bytes(-1)


@pytest.mark.parametrize(
    ("cores", "text"), [(0, "0"), (2, "2"), (0.5, "500m"), (0.1, "100m"), (1.25, "1250m")]
)
def test_cpu_is_formatted_for_tables(cores: float, text: str) -> None:
    assert format_cpu(cores) == text
    assert parse_cpu(text) == pytest.approx(cores)


@given(st.integers(min_value=0, max_value=999), st.sampled_from(sorted(BYTE_SUFFIXES)))
def test_a_short_multiple_of_a_suffix_formats_exactly(count: int, suffix: str) -> None:
    size = count * BYTE_SUFFIXES[suffix]
    if size <= MAX_BYTES:
        assert parse_bytes(format_bytes(size)) == size


@given(st.integers(min_value=0, max_value=MAX_BYTES))
def test_formatting_is_within_one_percent(size: int) -> None:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", format_bytes(size))
    assert match is not None
    value = float(match[1]) * BYTE_SUFFIXES.get(match[2], 1)
    assert value == pytest.approx(size, rel=0.01)


@given(st.integers(min_value=0, max_value=MAX_BYTES))
def test_every_int_in_range_is_its_own_quantity(size: int) -> None:
    assert parse_bytes(size) == size
    assert parse_bytes(str(size)) == size
