"""The one exception type for problems in the user's input (files, graphs, options)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One problem in the input: where it is (file and field path) and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad input: carries every problem found, each naming file, field path and reason.

    The command line prints one line per problem and exits with status 2.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, path: str, message: str) -> "InputError":
        return cls([Problem(file, path, message)])


def not_a_folder(path: Path) -> str:
    """What stands at `path` where twin wants a folder, for a message."""
    if path.is_symlink():
        return "a symbolic link to a missing target" if not path.exists() else "a symbolic link to a file"
    return "a file" if path.is_file() else "not a folder"
