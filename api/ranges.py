"""HTTP Range requests (RFC 9110 section 14): one byte range per request."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

_MAX_DIGITS = 18
"""Longer positions are past the end of any file: read as "very large", never converted
(Python refuses to convert more than 4,300 digits, and need not try)."""
_VERY_LARGE = 10**_MAX_DIGITS


class RangeNotSatisfiable(Exception):
    pass


def _position(digits: str) -> int:
    """A byte position; any number longer than 18 digits counts as 10**18."""
    return _VERY_LARGE if len(digits.lstrip("0")) > _MAX_DIGITS else int(digits)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) the header asks for, or None to send the whole body.

    Multiple ranges and malformed headers are ignored (a full 200 is a valid answer);
    a range that starts past the end raises RangeNotSatisfiable (416). Numbers of any
    length are accepted: a start past the end is 416, an end or suffix past it is clamped.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        length = _position(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(size - length, 0), size - 1
    start = _position(first)
    if start >= size:
        raise RangeNotSatisfiable
    end = _position(last) if last else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)
