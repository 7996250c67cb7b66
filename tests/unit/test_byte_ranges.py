"""Range headers: the one range served, garbage ignored, unsatisfiable ranges refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.byte_ranges import ByteRange, Unsatisfiable, parse_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=0-", ByteRange(0, 999)),
        ("bytes=500-", ByteRange(500, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=999-999", ByteRange(999, 999)),
        (" bytes=1-2 ", ByteRange(1, 2)),
    ],
)
def test_given_one_range_then_the_bytes_to_send(header: str, expected: ByteRange) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=",
        "bytes=-",
        "bytes=0-1,5-9",  # several ranges: not served as multipart, whole file instead
        "bytes=5-1",  # last before first: invalid, ignored
        "items=0-5",
        "bytes=abc-def",
        "bytes=0x10-20",
        "bytes=1-2-3",
        "bytes=١-٢",  # Arabic-Indic digits
        "bytes=" + "9" * 30 + "-",  # longer than any file offset: not a range we read
        "\x00\xff",
    ],
)
def test_given_a_header_we_do_not_serve_then_whole_file(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=1000-2000", "bytes=9999999999999999999-", "bytes=-0"]
)
def test_given_range_past_the_end_then_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, SIZE)


def test_given_empty_file_then_any_range_is_unsatisfiable() -> None:
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=-10", 0)


@given(size=st.integers(1, 10**12), header=st.text(max_size=40))
def test_given_any_header_then_none_or_a_range_inside_the_file(size: int, header: str) -> None:
    try:
        got = parse_range(header, size)
    except Unsatisfiable:
        return
    if got is not None:
        assert 0 <= got.start <= got.end < size
        assert got.content_range(size) == f"bytes {got.start}-{got.end}/{size}"


@given(size=st.integers(1, 10**9), a=st.integers(0, 10**10), b=st.integers(0, 10**10))
def test_given_well_formed_ranges_then_served_within_bounds(size: int, a: int, b: int) -> None:
    first, last = min(a, b), max(a, b)
    try:
        got = parse_range(f"bytes={first}-{last}", size)
    except Unsatisfiable:
        assert first >= size
        return
    assert got == ByteRange(first, min(last, size - 1))
