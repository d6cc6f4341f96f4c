"""Start-up of `twin run`: the kernel's compile from an empty cache, then a start from the cache.

    python benchmarks/startup.py                      # lines/bench_10.yaml (plain kernel)
    python benchmarks/startup.py lines/cnc_shaft_line.yaml   # the general kernel

Issue 3 asks that a second `twin run` start in under 2 s plus simulation time,
and that the cold compile time be reported. Each measurement is a fresh
process running ``twin run LINE --replications 1 --duration 1h --warmup 0s``
(a few milliseconds of simulation). The cold run uses an empty
``NUMBA_CACHE_DIR`` (so it compiles every jitted function of the engine),
the warm runs the same directory afterwards (best of `--repeat`). Then one
more process prints where a warm start spends its time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: a warm start, phase by phase (run in a fresh process, from the checkout)
PHASES = """
import time
t0 = time.perf_counter()
import twin.cli
t1 = time.perf_counter()
from twin.engines import simulate
from twin.kpis import aggregate
from twin.model.load import load_line
t2 = time.perf_counter()
line = load_line({line!r})
t3 = time.perf_counter()
results = simulate(line, 0.0, 3600.0, 1, 1, "fast")
t4 = time.perf_counter()
aggregate(line, results, 3600.0)
t5 = time.perf_counter()
for name, dt in (("import twin", t1 - t0), ("import engine, KPIs, loader", t2 - t1),
                 ("load the line", t3 - t2), ("first replication (kernel from the cache)", t4 - t3),
                 ("KPIs", t5 - t4)):
    print(f"  {{name:<44}} {{dt:6.2f}} s")
"""


def twin_run(line: str, cache: str) -> float:
    """Wall time of one `twin run` process with numba's cache in `cache`."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "twin", "run", line, "--replications", "1",
                    "--duration", "1h", "--warmup", "0s"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("line", nargs="?", default="lines/bench_10.yaml")
    parser.add_argument("--repeat", type=int, default=5, help="warm starts (the best is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = twin_run(args.line, cache)
        warm = min(twin_run(args.line, cache) for _ in range(args.repeat))
        print(f"twin run {args.line} --replications 1 --duration 1h --warmup 0s")
        print(f"  from an empty cache (compiles the kernel) {cold:8.1f} s")
        print(f"  from the cache, best of {args.repeat:<2}              {warm:8.2f} s")
        print("a start from the cache, phase by phase:")
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", PHASES.format(line=args.line)], cwd=ROOT, env=env,
                       check=True)


if __name__ == "__main__":
    main()
