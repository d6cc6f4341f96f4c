"""The `twin sweep` subcommand (SPEC §7): its options and what it prints; the work is in twin.sweep."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twin import cli_options as options
from twin.errors import InputError

EXIT_OK = 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `sweep` on an argparse subparsers object (as `twin.cli.build_parser` makes it).

    Options left out are None, so that a scenario's values apply unless an
    option is given; the defaults themselves are `twin.sweep.RUN_DEFAULTS`.
    """
    sweep = subparsers.add_parser(
        "sweep", help="simulate a grid of parameter values (locally or on a Dask cluster)",
        description="Simulate every combination of the --param values, each with the same seed "
                    "(common random numbers); write points.csv, summary.csv and plots/.")
    sweep.add_argument("line", help="line file (.yaml, .json or .graphml)")
    sweep.add_argument("--param", action="append", required=True, metavar="PATH=V1,V2,...",
                       help="a dotted path into the line and its values; repeat for a grid")
    sweep.add_argument("--scenario", metavar="SCENARIO",
                       help="take overrides, window, replications, seed, injections and criteria "
                            "from this scenario; mark the feasible points")
    sweep.add_argument("--out", metavar="DIR", help="output folder (default reports/sweep-<line id>)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster at ADDRESS (e.g. tcp://10.0.0.5:8786)")
    sweep.add_argument("--workers", type=options.positive_int, metavar="N",
                       help="local worker processes (default: all cores; 1 runs in-process)")
    sweep.add_argument("--duration", type=options.duration, metavar="D",
                       help="measured window (default 8h, or the scenario's)")
    sweep.add_argument("--warmup", type=options.duration, metavar="D",
                       help="warm-up (default 1h, or the scenario's)")
    sweep.add_argument("--replications", type=options.replications, metavar="N",
                       help="per point (default 10, or the scenario's)")
    sweep.add_argument("--seed", type=options.integer, metavar="S",
                       help="shared by every point (default 1, or the scenario's)")
    sweep.add_argument("--engine", choices=("fast", "reference"), help="engine (default fast)")
    return sweep


def cmd_sweep(args) -> int:
    from twin import sweep as sw
    from twin.scenario import load_scenario

    if args.scheduler is not None and args.workers is not None:
        raise InputError.single("--workers", str(args.workers),
                                "applies to local runs only; a Dask cluster brings its own workers")
    params = sw.parse_params(args.param)
    scenario = load_scenario(args.scenario) if args.scenario else None
    settings = sw.resolve_settings(scenario, warmup=args.warmup, duration=args.duration,
                                   replications=args.replications, seed=args.seed, engine=args.engine)
    grid = sw.build_sweep(args.line, params, settings, scenario)
    out = options.out_folder("--out", Path("reports") / f"sweep-{grid.line_id}" if args.out is None else args.out)
    update, close = _progress_bar(len(grid.points), f"sweep {grid.line_id} ({settings.engine})")
    try:
        run = sw.run_sweep(grid, out, workers=args.workers, scheduler=args.scheduler, progress=update)
    finally:
        close()
    paths = sw.write_outputs(grid, run.results, out)
    where = f"on {args.scheduler}" if args.scheduler else "locally"
    print(f"{grid.line_id}: {len(grid.points)} points × {settings.replications} replications "
          f"({len(grid.points) - run.resumed} run {where}, {run.resumed} resumed), "
          f"seed {settings.seed}, engine {settings.engine}")
    if scenario is not None:
        n_ok = sum(sw.feasible(r) for r in run.results)
        print(f"feasible (every criterion of {scenario.id} passes): {n_ok} of {len(grid.points)} points")
    for name in ("points", "summary", "plots"):
        print(f"  {name + ':':9}{paths[name]}")
    return EXIT_OK


def _progress_bar(total: int, label: str):
    """A tqdm bar with ETA on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="point", file=sys.stderr, leave=False)
    return (lambda done, _total: bar.update(done - bar.n)), bar.close
