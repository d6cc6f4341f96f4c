"""The benchmark lines of issue 3: n machines in series, buffers of 5, operating-basis failures.

`serial_line_doc(n)` is the line document (the 10-machine one is `lines/bench_10.yaml`);
`idiomatic_simpy(n, horizon, seed)` is the same line as a user would write it by hand
on SimPy — processes, `Store` buffers, blocking after service — for comparison.
"""

from __future__ import annotations

import random

import simpy

MEANS = (60, 66, 54, 72, 60, 57, 63, 60, 69, 54)
BUFFER = 5
MTTF, MTTR = 6000.0, 300.0


def process_mean(i: int) -> float:
    return float(MEANS[i % len(MEANS)])


def serial_line_doc(n: int) -> dict:
    """The raw line document of an n-machine serial benchmark line."""
    stations = [{"id": "load", "kind": "source"}]
    edges = []
    previous = "load"
    for i in range(n):
        machine = f"op{i + 1:03d}"
        stations.append({
            "id": machine, "kind": "machine",
            "process_time": {"dist": "exponential", "mean": process_mean(i)},
            "failures": [{"name": "breakdown", "basis": "operating",
                          "ttf": {"dist": "exponential", "mean": MTTF},
                          "ttr": {"dist": "exponential", "mean": MTTR}}]})
        edges.append([previous, machine])
        previous = machine
        if i < n - 1:
            buffer = f"b{i + 1:03d}"
            stations.append({"id": buffer, "kind": "buffer", "capacity": BUFFER})
            edges.append([previous, buffer])
            previous = buffer
    stations.append({"id": "unload", "kind": "sink"})
    edges.append([previous, "unload"])
    return {"line": f"serial-{n}", "stations": stations, "edges": edges}


def idiomatic_simpy(n: int, horizon: float, seed: int) -> tuple[int, int]:
    """Simulate the line the way a SimPy user would; return the parts finished and the
    number of events SimPy scheduled."""
    env = simpy.Environment()
    rng = random.Random(seed)
    buffers = [simpy.Store(env, capacity=BUFFER) for _ in range(n - 1)]
    finished = [0]

    def machine(i: int):
        time_to_failure = rng.expovariate(1 / MTTF)
        while True:
            part = (yield buffers[i - 1].get()) if i > 0 else object()
            work = rng.expovariate(1 / process_mean(i))
            while work > time_to_failure:  # operating basis: the clock runs while processing
                yield env.timeout(time_to_failure)
                work -= time_to_failure
                yield env.timeout(rng.expovariate(1 / MTTR))
                time_to_failure = rng.expovariate(1 / MTTF)
            yield env.timeout(work)
            time_to_failure -= work
            if i < n - 1:
                yield buffers[i].put(part)  # blocking after service
            else:
                finished[0] += 1

    for i in range(n):
        env.process(machine(i))
    env.run(until=horizon)
    return finished[0], next(env._eid)  # SimPy numbers every scheduled event
