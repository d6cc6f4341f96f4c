"""Which engine, version and kernel produced a result (for `--json` and evidence)."""

from __future__ import annotations

from twin import __version__

KERNELS = {"fast": "numba event-list kernel over compiled arrays",
           "reference": "SimPy reference engine"}


def engine_info(name: str) -> dict[str, str]:
    return {"name": name, "version": __version__, "kernel": KERNELS[name]}
