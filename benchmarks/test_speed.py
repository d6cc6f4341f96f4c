"""pytest-benchmark cases for the engines (not part of the test suite: speed is measured, not asserted).

    python3 -m pytest benchmarks/test_speed.py                   # timings table
    python3 -m pytest benchmarks/test_speed.py --benchmark-json=out.json

Each case stores the model events per second in ``extra_info``;
`compare.py` prints the ratios between engines measured in one run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from serial_line import inline_simpy, interrupt_simpy  # noqa: E402

from twin.engines.fast import run_replication as fast_replication  # noqa: E402
from twin.engines.fast import run_replications  # noqa: E402
from twin.engines.reference import run_replication as reference_replication  # noqa: E402
from twin.model.load import load_line  # noqa: E402

LINES = HERE.parent / "lines"
HOUR = 3600.0


@pytest.fixture(scope="module", params=[10, 20], ids=lambda n: f"bench_{n}")
def bench_line(request):
    line = load_line(LINES / f"bench_{request.param}.yaml")
    fast_replication(line, 0.0, HOUR, 1, 0)  # compile, or load the kernel from numba's cache
    return request.param, line


def _events_per_second(benchmark, events: int) -> None:
    benchmark.extra_info["events"] = events
    benchmark.extra_info["events_per_s"] = events / benchmark.stats.stats.min


def test_fast_one_replication(benchmark, bench_line):
    _, line = bench_line
    result = benchmark(fast_replication, line, 0.0, 100 * HOUR, 1, 0)
    _events_per_second(benchmark, result.events)


def test_reference_one_replication(benchmark, bench_line):
    _, line = bench_line
    result = benchmark.pedantic(reference_replication, args=(line, 0.0, 5 * HOUR, 1, 0), rounds=3)
    _events_per_second(benchmark, result.events)


@pytest.mark.parametrize("simpy_model", [interrupt_simpy, inline_simpy], ids=lambda f: f.__name__)
def test_hand_written_simpy(benchmark, bench_line, simpy_model):
    n, line = bench_line
    benchmark.pedantic(simpy_model, args=(n, 20 * HOUR, 1), rounds=3)
    events = fast_replication(line, 0.0, 20 * HOUR, 1, 0).events  # the same work, in model events
    _events_per_second(benchmark, events)


def test_fast_replications_on_all_cores(benchmark, bench_line):
    _, line = bench_line
    results = benchmark.pedantic(run_replications, args=(line, 0.0, 20 * HOUR, 1, 8), rounds=3)
    _events_per_second(benchmark, sum(r.events for r in results))
