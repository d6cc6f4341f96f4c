"""Durations with units ("250ms", "52s", "5min", "2h", "1.5d") to float seconds."""

from __future__ import annotations

import math
import re
import reprlib

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
#: the longest duration (about 31 million years): longer ones overflow the statistics
MAX_SECONDS = 1e15
#: the shortest duration but 0: a mean of 1e-300 s would keep time standing still
MIN_SECONDS = 1e-6
_DURATION = re.compile(r"^\s*(-?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|min|h|d)?\s*$")


def is_finite_number(value: object) -> bool:
    """Whether a value read from a file is a finite number (True and False are not numbers).

    ``abs(value) < 1e300`` is False for NaN and infinity and, unlike
    ``math.isfinite``, takes an int too large for a float without raising.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300


def parse_duration(value: object) -> float:
    """Return `value` in seconds; a bare number is already seconds, so is a string without a
    unit (a command-line argument such as `--duration 28800`).

    Raises ValueError with a reason a user can act on. Negative durations are
    rejected here because no duration in a line or scenario may be negative.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {reprlib.repr(value)}")
    if isinstance(value, (int, float)):
        seconds = float(value) if is_finite_number(value) else math.inf  # a huge int overflows float()
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(
                f"bad duration {reprlib.repr(value)}: expected a number of seconds or a number "
                "with a unit ms, s, min, h or d (e.g. '52s', '5min')"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__} {reprlib.repr(value)}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration {reprlib.repr(value)} is not finite")
    if seconds < 0:
        raise ValueError(f"duration {reprlib.repr(value)} is negative")
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration {reprlib.repr(value)} is longer than {MAX_SECONDS:g} s")
    if 0 < seconds < MIN_SECONDS:
        raise ValueError(f"duration {reprlib.repr(value)} is shorter than {MIN_SECONDS:g} s "
                         "(give 0 or a longer one)")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human-readable form for tables ("1h 05min", "52.0s")."""
    if seconds >= 3600:
        h, rest = divmod(seconds, 3600)
        return f"{int(h)}h {rest / 60:04.1f}min"
    if seconds >= 60:
        return f"{seconds / 60:.2f}min"
    return f"{seconds:.1f}s"
