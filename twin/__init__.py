"""twin: a digital-twin simulation engine for production-line delivery acceptance."""

__version__ = "0.1.0"

from twin import jit_cache  # noqa: E402  (before any jitted module is imported)

jit_cache.install()

from twin.errors import InputError, Problem  # noqa: E402
from twin.model import Line  # noqa: E402

__all__ = ["InputError", "Line", "Problem", "__version__"]
