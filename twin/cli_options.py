"""Types of the command line's option values, shared by `twin.cli` and `twin.sweep_cli`.

Each turns the text of an option into its value or raises argparse's
ArgumentTypeError, which the parser prints as one line with exit status 2;
`out_folder` raises InputError, checked before any work is done.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from twin.engines import MAX_REPLICATIONS
from twin.errors import InputError
from twin.units import parse_duration


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def replications(text: str) -> int:
    value = positive_int(text)
    if value > MAX_REPLICATIONS:
        raise argparse.ArgumentTypeError(f"at most {MAX_REPLICATIONS:,}, got {value:,}")
    return value


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        if text.strip().lstrip("+-").isdigit():  # over 4300 digits: Python's limit for reading one
            raise argparse.ArgumentTypeError(f"a number of {len(text.strip())} characters is too "
                                             "long to read") from None
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def out_folder(option: str, path: str | Path) -> Path:
    """`path` as a Path, checked before any work so that a long run does not end in an OSError."""
    if not str(path).strip():  # Path("") is the current folder: surely not what was meant
        raise InputError.single(option, repr(str(path)), "an empty path: give the folder to write into")
    path = Path(path)
    existing = next(p for p in (path, *path.parents) if os.path.lexists(p))
    if not existing.is_dir():
        what = "is a symbolic link to a missing target" if not existing.exists() else "exists"
        where = what if existing == path else f"{existing} {what}"
        raise InputError.single(option, str(path), f"{where} and is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError.single(option, str(path), f"no permission to write into {existing}")
    return path
