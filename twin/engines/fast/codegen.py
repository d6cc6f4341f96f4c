"""How the kernel is compiled: one inlined function, without negative-index wraparound,
with array arguments that do not alias.

Three code-generation settings make the kernel several times faster than numba's
defaults. They apply only while :func:`twin.engines.fast._run_kernel` compiles
a kernel variant (its first call in a process, or a load from numba's cache),
under a lock:

* **Inlining.** The kernel is written as many small functions over two named
  tuples of arrays. Numba passes such tuples by value, field by field, so a
  call that LLVM does not inline costs about a nanosecond per array, and
  LLVM's default threshold leaves the large handlers (`enter`, `move`, ...) as
  calls. The functions below `run_kernel` are compiled first at the default
  threshold; `run_kernel` itself with a very high one, so its final module,
  which links all of them, becomes one function, and the costly inlining
  happens once rather than in every intermediate function.
* **No wraparound.** Numba lets a negative index count from the end of an
  array, which costs a compare-and-add on every signed index (about a fifth of
  the kernel's time: it indexes arrays a few hundred times per event). The
  kernel never indexes from the end (every "none" value, -1, is tested before
  it is used as an index), so it is compiled with plain indices. The
  agreement tests run the kernel against the reference engine on every
  feature; ``NUMBA_BOUNDSCHECK=1`` turns any negative index into an
  ``IndexError`` (docs/performance.md).

* **No aliasing.** Every store to one array could, as far as LLVM knows,
  change any other array of the same type, so values read before it are read
  again after it. The kernel's arrays are distinct allocations (none is a
  view of another, none is passed twice to a function), so its functions
  declare their array arguments ``noalias`` (numba's ``noalias`` flag, which
  its decorators do not expose): about +5 %.

If numba's internals change so that the second or third setting cannot be
applied, the kernel is compiled without it: slower, the same results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import llvmlite.binding as llvm
from numba.core import cpu, types
from numba.np import arrayobj

#: the options every kernel function is jitted with: cached, releasing the GIL, without
#: reference counting (nothing in the kernel allocates); the settings above are applied on
#: top when the kernel is compiled, so the kernel's modules import these options from here
#: and numba's cache (`twin.jit_cache`) sees this module as one of their sources
JIT = {"cache": True, "nogil": True, "_nrt": False}

#: LLVM's inlining threshold at -O3, and the one the kernel is linked with
DEFAULT_INLINE_THRESHOLD, KERNEL_INLINE_THRESHOLD = 250, 2_000_000


def _plain_index(context, builder, idxty, idx, size):
    """`numba.np.arrayobj.fix_integer_index` without the wraparound of negative indices."""
    return context.cast(builder, idx, idxty, types.intp)


@contextlib.contextmanager
def without_wraparound() -> Iterator[None]:
    """Compile array indexing with plain indices (the caller guarantees they are >= 0)."""
    original = getattr(arrayobj, "fix_integer_index", None)
    if original is None:
        yield
        return
    arrayobj.fix_integer_index = _plain_index
    try:
        yield
    finally:
        arrayobj.fix_integer_index = original


@contextlib.contextmanager
def inline_threshold(threshold: int) -> Iterator[None]:
    """LLVM inlines functions up to `threshold` while the block runs."""
    llvm.set_option("twin", f"-inline-threshold={threshold}")
    try:
        yield
    finally:
        llvm.set_option("twin", f"-inline-threshold={DEFAULT_INLINE_THRESHOLD}")


@contextlib.contextmanager
def noalias_arguments() -> Iterator[None]:
    """Functions compiled in the block declare their pointer arguments ``noalias`` (the
    caller guarantees that no two arrays they receive overlap)."""
    options = getattr(cpu, "CPUTargetOptions", None)
    original = getattr(options, "finalize", None)
    if original is None:
        yield
        return

    def finalize(self, flags, opts):
        original(self, flags, opts)
        flags.noalias = True

    options.finalize = finalize
    try:
        yield
    finally:
        options.finalize = original
