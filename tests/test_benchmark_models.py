"""The hand-written models of the benchmark lines simulate the same lines as the engines.

`benchmarks/compare.py` credits the SimPy models with the engines' model events for the
same horizon, which is only fair if they do the same work: their mean throughput over
replications must agree with the fast engine's within sampling error (a model without
breakdowns, without blocking or with the failure clock on the calendar basis would be
several percent off). The C loop that keeps a replication's statistics
(`bench10_loop.c` built with KPIS=1) is the yardstick of issue 3's speed target: its
statistics must be the fast engine's on `lines/bench_10.yaml`, within sampling error.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from compare import build_c_loop  # noqa: E402
from serial_line import inline_simpy, interrupt_simpy, serial_line_doc  # noqa: E402

from twin.engines.fast import run_replication  # noqa: E402
from twin.kpis import replication_kpis  # noqa: E402
from twin.model.load import load_line  # noqa: E402
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


C_HORIZON, C_REPLICATIONS = 200 * 3600.0, 12
#: the statistics the C loop prints: its name → (the KPIs' station or "line", KPI key)
C_STATISTICS = {"completed": ("line", "completed"), "wip_mean": ("line", "wip_mean"),
                "lead_time_mean": ("line", "lead_time_mean"),
                "lead_time_p95": ("line", "lead_time_p95"),
                "op01_working": ("op01", "working"), "op01_blocked": ("op01", "blocked"),
                "op01_down": ("op01", "down"), "op10_starved": ("op10", "starved"),
                "b01_level_mean": ("b01", "occupancy_mean"), "b01_full": ("b01", "full")}


def engine_statistics(line, replication: int) -> dict[str, float]:
    """The statistics the C loop prints, from a fast-engine replication of bench_10."""
    got = replication_kpis(line, run_replication(line, 0.0, C_HORIZON, 1, replication), C_HORIZON)
    return {name: got["line"][key] if where == "line" else got["stations"][where][key]
            for name, (where, key) in C_STATISTICS.items()}


def c_loop_statistics(program: Path, seed: int) -> dict[str, float]:
    out = subprocess.run([str(program), str(seed)], capture_output=True, text=True, check=True).stdout
    words = out.split("kpis ", 1)[1].split()
    return {key: float(value) for key, value in zip(words[::2], words[1::2])}


def test_the_c_loop_keeping_statistics_matches_the_engine(tmp_path):
    program = build_c_loop("statistics", tmp_path)
    if program is None:
        pytest.skip("no C compiler")
    line = load_line(BENCHMARKS.parent / "lines" / "bench_10.yaml")
    engine = [engine_statistics(line, r) for r in range(C_REPLICATIONS)]
    c_loop = [c_loop_statistics(program, seed) for seed in range(1, C_REPLICATIONS + 1)]
    for key in C_STATISTICS:
        engine_mean, engine_error = mean_and_error([run[key] for run in engine])
        c_mean, c_error = mean_and_error([run[key] for run in c_loop])
        assert abs(c_mean - engine_mean) <= 4 * (engine_error ** 2 + c_error ** 2) ** 0.5, key
