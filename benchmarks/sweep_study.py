"""Sweep study on `lines/bench_20.yaml`: MTTR of the bottleneck × the buffer in front of it.

The bottleneck of the 20-machine line is op04 (mean process time 72 s); the
buffer feeding it is b03. The study sweeps op04's mean time to repair and b03's
capacity, and measures how fast the sweep runs: wall time and points per
second with 1 local worker (in-process) and with every core, and the speed-up
between them. It also checks that every worker count gives identical results.

    python benchmarks/sweep_study.py                      # fast engine, 1 vs all cores
    python benchmarks/sweep_study.py --engine reference --replications 3 --duration 4h
    python benchmarks/sweep_study.py --out reports/sweep-bench-20   # keep CSVs and plots

The same grid from the command line:

    twin sweep lines/bench_20.yaml --param stations.op04.failures.breakdown.ttr.mean=2min,5min,10min,20min \\
        --param stations.b03.capacity=1,2,5,10,20 --replications 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from twin import sweep as sw
from twin.engines import simulate
from twin.model.load import load_line
from twin.units import parse_duration

ROOT = Path(__file__).resolve().parents[1]
LINE = ROOT / "lines" / "bench_20.yaml"
PARAMS = ["stations.op04.failures.breakdown.ttr.mean=2min,5min,10min,20min",
          "stations.b03.capacity=1,2,5,10,20"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--duration", default="8h")
    parser.add_argument("--warmup", default="1h")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", default=f"1,{os.cpu_count() or 1}",
                        help="worker counts to compare, comma separated (default 1 and all cores)")
    parser.add_argument("--out", help="write points.csv, summary.csv and plots/ of the last run here")
    args = parser.parse_args(argv)

    settings = sw.Settings(parse_duration(args.warmup), parse_duration(args.duration), args.replications,
                           args.seed, args.engine)
    grid = sw.build_sweep(LINE, sw.parse_params(PARAMS), settings)
    # compile (numba) or import once in this process; forked workers inherit it
    simulate(load_line(LINE), 0.0, 60.0, 1, 0, engine=args.engine)

    counts = sorted({int(w) for w in args.workers.split(",")})
    print(f"{grid.line_id}: {len(grid.points)} points × {args.replications} replications of "
          f"{settings.duration / 3600:g} h after {settings.warmup / 3600:g} h, engine {args.engine}, "
          f"{os.cpu_count()} cores")
    print(f"{'workers':>7} {'wall [s]':>9} {'points/s':>9} {'speed-up':>9} {'efficiency':>10}")
    first, baseline = None, None
    for workers in counts:
        with tempfile.TemporaryDirectory() as tmp:  # a fresh folder: nothing to resume
            start = time.perf_counter()
            run = sw.run_sweep(grid, tmp, workers=workers)
            wall = time.perf_counter() - start
        baseline = baseline or wall  # the fewest workers (1 by default)
        speedup = baseline / wall
        print(f"{workers:>7} {wall:>9.2f} {len(grid.points) / wall:>9.2f} {speedup:>9.2f} "
              f"{speedup * counts[0] / workers:>10.0%}")
        if first is None:
            first = run.results
        elif run.results != first:
            print("results differ between worker counts", file=sys.stderr)
            return 1
    if args.out:
        paths = sw.write_outputs(grid, first, args.out)
        print(f"written: {paths['points']}, {paths['summary']}, {paths['plots']}")
    _print_study(grid, first)
    return 0


def _print_study(grid: sw.Sweep, results: list[dict]) -> None:
    """Mean throughput per (MTTR, capacity): what the buffer buys against longer repairs."""
    mttr, capacity = grid.params
    print(f"\nmean throughput [parts/h]; rows {mttr.path}, columns {capacity.path}")
    print(" " * 8 + "".join(f"{c:>8}" for c in capacity.values))
    for i, m in enumerate(mttr.values):
        row = results[i * len(capacity.values):(i + 1) * len(capacity.values)]
        print(f"{m:>8}" + "".join(f"{sw.point_summary(r, 'throughput')['mean']:>8.1f}" for r in row))


if __name__ == "__main__":
    raise SystemExit(main())
