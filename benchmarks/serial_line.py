"""The benchmark lines of issue 3: n machines in series, buffers of 5, operating-basis failures.

`serial_line_doc(n)` is the line document (the 10-machine one is `lines/bench_10.yaml`).
The same line written by hand on SimPy, for comparison, in two styles a user might choose
(both: one process per machine, `Store` buffers, blocking after service):

* `interrupt_simpy` follows SimPy's documented idiom for breakdowns (its "Machine shop"
  example): a second process per machine runs the time to failure and interrupts the
  working process; the machine signals when it starts and stops working, so that the
  clock runs on the operating basis.
* `inline_simpy` is tuned: the machine process keeps its own time to failure and splits
  the work at it, so a breakdown costs no extra process, interrupt or event.

Each returns the parts finished and the number of events SimPy scheduled.
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


def interrupt_simpy(n: int, horizon: float, seed: int) -> tuple[int, int]:
    """Breakdowns by a failure process interrupting the machine (SimPy's idiom)."""
    env = simpy.Environment()
    rng = random.Random(seed)
    buffers = [simpy.Store(env, capacity=BUFFER) for _ in range(n - 1)]
    finished = [0]

    class Machine:
        def __init__(self, i: int):
            self.i = i
            self.working = False
            self.started, self.stopped = env.event(), env.event()
            self.process = env.process(self.work())
            env.process(self.break_down())

        def start_working(self):
            self.working = True
            self.started.succeed()
            self.stopped = env.event()

        def stop_working(self):
            self.working = False
            self.stopped.succeed()
            self.started = env.event()

        def work(self):
            i = self.i
            while True:
                part = (yield buffers[i - 1].get()) if i > 0 else object()
                done_in = rng.expovariate(1 / process_mean(i))
                while done_in:
                    self.start_working()
                    start = env.now
                    try:
                        yield env.timeout(done_in)
                        done_in = 0
                    except simpy.Interrupt:
                        done_in -= env.now - start
                        self.stop_working()
                        yield env.timeout(rng.expovariate(1 / MTTR))
                if self.working:
                    self.stop_working()
                if i < n - 1:
                    yield buffers[i].put(part)  # blocking after service
                else:
                    finished[0] += 1

        def break_down(self):
            """The time to failure runs down while the machine works (operating basis)."""
            while True:
                left = rng.expovariate(1 / MTTF)
                while left > 0:
                    if not self.working:
                        yield self.started
                    start = env.now
                    clock = env.timeout(left)
                    yield clock | self.stopped
                    left = 0 if clock.processed else left - (env.now - start)
                self.process.interrupt()

    for i in range(n):
        Machine(i)
    env.run(until=horizon)
    return finished[0], next(env._eid)  # SimPy numbers every scheduled event


def inline_simpy(n: int, horizon: float, seed: int) -> tuple[int, int]:
    """The failure clock kept inside the machine process: no interrupts (tuned)."""
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
