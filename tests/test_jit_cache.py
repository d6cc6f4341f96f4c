"""numba's cache is stamped with every twin module a jitted function is built from."""

from pathlib import Path

from twin import jit_cache
from twin.engines.fast import kernel


def test_kernel_is_cached_with_the_twin_stamp():
    assert isinstance(kernel.run_kernel._cache._impl.locator, jit_cache._TwinStamp)
    names = {p.name for p in jit_cache.dependencies(Path(kernel.__file__))}
    assert {"kernel.py", "events.py", "state.py", "distributions.py", "streams.py",
            "accounting.py", "compile.py"} <= names


def test_stamp_changes_with_a_module_imported_indirectly(tmp_path, monkeypatch):
    package = tmp_path / "twin"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "kern.py").write_text("from twin.sub import helpers\nimport numpy\n")
    (package / "sub" / "helpers.py").write_text(
        "from twin.other import (X as Y,  # a comment\n    Z)\n"
        "def f():\n    from twin.sub import \\\n        deep\n")  # a name on a continued line
    (package / "sub" / "deep.py").write_text("import os, twin.low\n")
    low = package / "low.py"
    low.write_text("SCALE = 1.0\n")
    (package / "other.py").write_text("X = 1\n")
    monkeypatch.setattr(jit_cache, "PACKAGE", package)
    jit_cache._imported_modules.cache_clear()
    kern = package / "kern.py"
    (package / "unused.py").write_text("X = 1\n")
    assert jit_cache.dependencies(kern) == sorted([
        kern, package / "sub" / "helpers.py", package / "sub" / "deep.py", package / "other.py", low])
    before = jit_cache.source_stamp(kern)
    (package / "unused.py").write_text("X = 2\n")
    assert jit_cache.source_stamp(kern) == before
    low.write_text("SCALE = 2.0\n")
    assert jit_cache.source_stamp(kern) != before
    jit_cache._imported_modules.cache_clear()
