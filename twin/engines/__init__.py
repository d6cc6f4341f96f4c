"""The two engines behind one call: `fast` (numba kernel) and `reference` (SimPy)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twin.model.types import Injection, Line
from twin.results import ReplicationResult

ENGINES = ("fast", "reference")
#: the most replications one run takes: every replication's result is kept until the KPIs are
#: computed (a few kB each, more with lead times), so 10^5 stay well within memory
MAX_REPLICATIONS = 100_000


def simulate(line: Line, warmup: float, duration: float, replications: int, seed: int,
             engine: str = "reference", trace: bool = False,
             progress: Callable[[int], None] | None = None,
             injections: tuple[Injection, ...] = (), exits: bool = False,
             workers: int | None = None) -> list[ReplicationResult]:
    """Run `replications` replications; replication r uses the streams of (seed, r).

    With `trace`, replication 0 records its event log. `progress` is called with
    the number of replications finished so far. `injections` and `exits` are
    passed to every replication (see the engines' `run_replication`). The fast
    engine runs replications on `workers` threads (default: every core; the
    results do not depend on it); the reference engine runs them one by one.
    """
    if engine == "fast":
        from twin.engines.fast import run_replications

        return run_replications(line, warmup, duration, seed, replications, trace=trace,
                                injections=injections, exits=exits, workers=workers,
                                progress=progress)
    if engine != "reference":
        raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    from twin.engines.reference import run_replication

    return collect((run_replication(line, warmup, duration, seed, r, trace=trace and r == 0,
                                    injections=injections, exits=exits)
                    for r in range(replications)), progress)


def collect(results: Iterable[ReplicationResult],
            progress: Callable[[int], None] | None) -> list[ReplicationResult]:
    """The replications' results in order, calling `progress` with the count after each."""
    done = []
    for result in results:
        done.append(result)
        if progress is not None:
            progress(len(done))
    return done
