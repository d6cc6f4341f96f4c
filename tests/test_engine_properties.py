"""Properties every engine must have: conservation, reproducibility, common random
numbers, deadlock detection, state fractions summing to one."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import line_from_yaml
from twin.engines import simulate
from twin.kpis import aggregate

ENGINES = ["reference", "fast"]

REWORK = """
line: rework
products: [{id: a, mix: 0.6}, {id: b, mix: 0.4}]
stations:
  - {id: src, kind: source, release: {interarrival: {dist: exponential, mean: 150s}}}
  - {id: b0, kind: buffer, capacity: 6}
  - id: cnc
    kind: machine
    servers: 2
    route: shortest_queue
    process_time: {a: {dist: lognormal, mean: 100s, cv: 0.3}, b: {dist: gamma, mean: 120s, cv: 0.5}}
    setup: {dist: uniform, low: 20s, high: 40s}
    failures:
      - {name: spindle, basis: operating, ttf: {dist: exponential, mean: 1h}, ttr: {dist: exponential, mean: 5min}}
      - {name: coolant, basis: calendar, ttf: {dist: weibull, shape: 1.5, scale: 3h}, ttr: 10min}
    scrap: 0.03
  - {id: wash, kind: conveyor, capacity: 4, travel_time: {dist: triangular, low: 20s, mode: 30s, high: 50s}}
  - {id: insp, kind: machine, process_time: 50s, route: probability}
  - {id: out, kind: sink}
edges:
  - [src, b0]
  - [b0, cnc]
  - [cnc, wash]
  - [wash, insp]
  - {from: insp, to: b0, p: 0.1}
  - {from: insp, to: out, p: 0.9}
"""


def _run(line, engine, seed=4, reps=3, duration=6 * 3600.0, warmup=1800.0):
    return simulate(line, warmup, duration, reps, seed, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_conservation(engine):
    """Parts released = reached a sink + scrapped + still in process."""
    line = line_from_yaml(REWORK)
    for res in _run(line, engine):
        assert res.released == res.finished + res.in_process
        assert res.released > 100
        assert 0 <= res.in_process <= sum(s.places for s in line.stations if s.kind != "source")


@pytest.mark.parametrize("engine", ENGINES)
def test_state_fractions_sum_to_one(engine):
    line = line_from_yaml(REWORK)
    kpis = aggregate(line, _run(line, engine), 6 * 3600.0)
    for sid in ("cnc", "wash", "insp"):
        st = kpis["stations"][sid]
        total = sum(st[k]["mean"] for k in ("working", "setup", "down", "blocked", "starved", "off",
                                             "waiting_resource"))
        assert total == pytest.approx(1.0, abs=1e-9)
    assert kpis["stations"]["cnc"]["setup"]["mean"] > 0
    assert kpis["stations"]["cnc"]["down"]["mean"] > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_same_seed_same_results_other_seed_different(engine):
    line = line_from_yaml(REWORK)
    first = _run(line, engine, seed=4)
    again = _run(line, engine, seed=4)
    other = _run(line, engine, seed=5)
    for a, b in zip(first, again):
        assert np.array_equal(a.lead_times, b.lead_times)
        assert np.array_equal(a.state_time, b.state_time)
        assert a.events == b.events
    assert not all(np.array_equal(a.lead_times, c.lead_times) for a, c in zip(first, other))
    assert not np.array_equal(first[0].lead_times, first[1].lead_times)  # replications differ


TWO_BRANCHES = """
line: branches
stations:
  - {{id: sa, kind: source, release: {{interarrival: {{dist: exponential, mean: 90s}}}}}}
  - {{id: ma, kind: machine, process_time: {{dist: exponential, mean: 60s}}}}
  - {{id: sb, kind: source}}
  - {{id: mb, kind: machine, process_time: {{dist: exponential, mean: {mb}s}}, scrap: 0.1}}
  - {{id: out, kind: sink}}
edges: [[sa, ma], [ma, out], [sb, mb], [mb, out]]
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_common_random_numbers(engine):
    """Changing branch b's machine leaves every event of the independent branch a unchanged."""
    slow = line_from_yaml(TWO_BRANCHES.format(mb=40))
    fast = line_from_yaml(TWO_BRANCHES.format(mb=80))
    run = lambda line: simulate(line, 0, 4 * 3600.0, 1, 8, engine=engine, trace=True)[0]  # noqa: E731
    a_events = lambda res: [e[:2] + e[3:] for e in res.trace if e[4] in ("sa", "ma")]  # noqa: E731
    ra, rb = run(slow), run(fast)
    assert a_events(ra) == a_events(rb)
    assert [e for e in ra.trace if e[4] == "mb"] != [e for e in rb.trace if e[4] == "mb"]


DEADLOCK = """
line: deadlock
stations:
  - {id: src, kind: source}
  - {id: m1, kind: machine, process_time: {dist: exponential, mean: 60s}}
  - {id: m2, kind: machine, process_time: {dist: exponential, mean: 60s}, route: probability}
  - {id: out, kind: sink}
edges:
  - [src, m1]
  - [m1, m2]
  - {from: m2, to: m1, p: 0.5}
  - {from: m2, to: out, p: 0.5}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_rework_loop_without_buffers_deadlocks_and_freezes(engine):
    """m1 holds a finished part for m2 while m2's part waits to go back to m1."""
    line = line_from_yaml(DEADLOCK)
    duration = 8 * 3600.0
    results = simulate(line, 0, duration, 5, 1, engine=engine, trace=True)
    assert all(r.deadlock for r in results)
    res = results[0]
    assert set(res.deadlock_nodes) == {"m1", "m2"}
    assert res.trace[-1][1] == "deadlock" and res.trace[-1][0] == res.deadlock_time
    kpis = aggregate(line, [res], duration)
    assert kpis["line"]["deadlock"]["mean"] == 1
    blocked_after = (duration - res.deadlock_time) / duration
    for sid in ("m1", "m2"):
        assert kpis["stations"][sid]["blocked"]["mean"] >= blocked_after - 1e-9
    assert kpis["line"]["wip_mean"]["mean"] > 0
    assert res.released == res.finished + res.in_process == res.finished + 2


STALL = """
line: stall
products: [{id: x, mix: 0.5}, {id: y, mix: 0.5}, {id: z, mix: 0}]
stations:
  - {id: src, kind: source, release: {sequence: [x, x, x, x, y]}}
  - {id: bx, kind: buffer, capacity: 1}
  - {id: by, kind: buffer, capacity: 1}
  - {id: asm, kind: assembly, inputs: {bx: 1, by: 1}, output: z, process_time: 30s}
  - {id: out, kind: sink}
edges:
  - {from: src, to: bx, products: [x]}
  - {from: src, to: by, products: [y]}
  - [bx, asm]
  - [by, asm]
  - [asm, out]
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_an_assembly_starved_by_a_blocked_source_stalls_without_a_deadlock(engine):
    """At 0 the kit takes x1, bx holds x2 and the source's x3 waits for bx; the y the kit needs
    comes only after x3 and x4. The line never moves again, but no blocked parts wait for each
    other in a circle (SPEC §5): `deadlock` stays 0 and the KPIs show the stall
    (docs/semantics.md, "Deadlock")."""
    line = line_from_yaml(STALL)
    duration = 3600.0
    res = simulate(line, 0, duration, 1, 1, engine=engine, trace=True)[0]
    assert not res.deadlock and res.deadlock_nodes == ()
    assert [e[0] for e in res.trace] == [0.0] * 6 and res.trace[-1][1:5] == ("create", 2, "x", "src")
    assert res.released == res.in_process == 2 and res.completed == 0
    kpis = aggregate(line, [res], duration)
    assert kpis["line"]["deadlock"]["mean"] == 0 and kpis["line"]["wip_mean"]["mean"] == 2
    assert kpis["stations"]["bx"]["full"]["mean"] == 1 and kpis["stations"]["by"]["empty"]["mean"] == 1
    assert kpis["stations"]["asm"]["starved"]["mean"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_warmup_is_excluded(engine):
    """A part finishing during warm-up is not counted; state times cover only the window."""
    line = line_from_yaml(REWORK)
    res = simulate(line, 3600.0, 3600.0, 1, 2, engine=engine)[0]
    assert res.state_time[line.index("cnc")].sum() == pytest.approx(2 * 3600.0)
    full = simulate(line, 0.0, 7200.0, 1, 2, engine=engine)[0]
    assert res.completed < full.completed
