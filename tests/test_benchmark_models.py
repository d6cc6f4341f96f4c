"""The hand-written SimPy models of the benchmark line simulate the same line as the engines.

`benchmarks/compare.py` credits them with the engines' model events for the same horizon,
which is only fair if they do the same work: their mean throughput over replications must
agree with the fast engine's within sampling error (a model without breakdowns, without
blocking or with the failure clock on the calendar basis would be several percent off).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from serial_line import inline_simpy, interrupt_simpy, serial_line_doc  # noqa: E402

from twin.engines.fast import run_replication  # noqa: E402
from twin.model.validate import validate  # noqa: E402

MACHINES, HORIZON, REPLICATIONS = 4, 100 * 3600.0, 30


def mean_and_error(samples: list[int]) -> tuple[float, float]:
    return statistics.fmean(samples), statistics.stdev(samples) / len(samples) ** 0.5


@pytest.fixture(scope="module")
def engine_throughput():
    line = validate(serial_line_doc(MACHINES), "serial-4")
    return mean_and_error([run_replication(line, 0.0, HORIZON, 1, seed).completed
                           for seed in range(REPLICATIONS)])


@pytest.mark.parametrize("model", [interrupt_simpy, inline_simpy], ids=lambda f: f.__name__)
def test_simpy_model_matches_the_engine(model, engine_throughput):
    engine_mean, engine_error = engine_throughput
    simpy_mean, simpy_error = mean_and_error([model(MACHINES, HORIZON, seed)[0]
                                              for seed in range(REPLICATIONS)])
    assert abs(simpy_mean - engine_mean) <= 4 * (engine_error ** 2 + simpy_error ** 2) ** 0.5
    assert simpy_error < 0.005 * engine_mean  # tight enough to see a few percent
