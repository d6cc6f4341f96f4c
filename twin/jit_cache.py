"""numba's on-disk cache, stamped with every twin module a jitted function is built from.

numba checks a cached function against its own source file only. The fast
kernel inlines functions and constants from other modules (streams,
distributions, accounting, the compiler's codes, ...), so after an edit to
one of those alone numba would load a kernel compiled from the old code, and
the fast engine would silently disagree with the reference. The locator below
stamps a twin function with the contents of its module and of every twin
module it imports, directly or not; code outside twin keeps numba's locators.

It must be installed before any jitted twin module is imported: ``twin``'s
``__init__`` does it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from numba.core import caching

PACKAGE = Path(__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    """The source file of twin module `name` (a package's ``__init__``), None if not a module."""
    base = PACKAGE.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


#: ``from twin.a import b, c`` and ``import twin.a``; names in parentheses, or after a
#: backslash at the end of a line, continue on the next lines
_LIST = r"(\([^)]*\)|(?:[^\n]*\\\n)*[^\n]*)"
_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(twin(?:\.\w+)*)[ \t]+import[ \t]+" + _LIST, re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+" + _LIST, re.MULTILINE)


def _names(text: str) -> list[str]:
    """The imported names of an import list: ``(a as x,  # note\n b)`` -> a, b."""
    text = re.sub(r"#[^\n]*|\\\n|[()]", " ", text)
    return [item.split()[0] for item in text.split(",") if item.strip()]


@functools.lru_cache(maxsize=None)
def _imported_modules(path: Path) -> frozenset[Path]:
    """The source files of the twin modules `path` imports names from: for
    ``from twin.a import b``, b's file if b is a module, else a's.

    Read with patterns, not parsed (parsing took a quarter of a second of every
    start): an import-like line inside a string adds a dependency, which can only
    cause an unneeded recompilation, never a stale kernel.
    """
    source = path.read_text(encoding="utf-8")
    files = set()
    for module, names in _FROM_IMPORT.findall(source):
        for name in _names(names):
            files.add(_module_file(f"{module}.{name}") or _module_file(module))
    for names in _IMPORT.findall(source):
        files.update(_module_file(name) for name in _names(names) if name.split(".")[0] == "twin")
    return frozenset(files - {None})


def dependencies(path: Path) -> list[Path]:
    """`path` and every twin module it imports, transitively, sorted."""
    seen, todo = {path}, [path]
    while todo:
        for module in _imported_modules(todo.pop()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return sorted(seen)


def source_stamp(path: Path) -> str:
    digest = hashlib.sha256()
    for module in dependencies(path):
        digest.update(module.relative_to(PACKAGE).as_posix().encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


class _TwinStamp:
    """Mixed into numba's file-backed locators: twin's functions only, with the stamp above."""

    def get_source_stamp(self):
        return source_stamp(Path(self._py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(PACKAGE):
            return None
        return super().from_function(py_func, py_file)


#: numba's own locators in numba's order (a NUMBA_CACHE_DIR, the package's __pycache__, the
#: user's cache directory), each with the twin stamp
LOCATORS = tuple(type(f"Twin{base.__name__}", (_TwinStamp, base), {})
                 for base in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                              caching.UserWideCacheLocator))


def install() -> None:
    """Put the twin locators first in numba's list (idempotent)."""
    locators = caching.CacheImpl._locator_classes
    if locators[:len(LOCATORS)] != list(LOCATORS):
        locators[:0] = LOCATORS
