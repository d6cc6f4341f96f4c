"""The reference engine: SPEC §3 written plainly on SimPy, the oracle of the fast engine.

SimPy's environment is the event calendar: every model event is a `Timeout`
whose callback applies the change, so same-time events run in the order they
were scheduled (SPEC §3.2). Consequences of an event at the same instant
(a part leaving frees a place, the freed place pulls a waiting part, a buffer's
new head tries to leave) are not scheduled: they go on an *agenda*, a FIFO of
node checks worked off before the next event:

* ``TRY_OUT(i)``: the ready parts of node i, oldest first, try to leave by i's
  routing policy (:meth:`ReferenceEngine.choose_successor`);
* ``TRY_IN(j)``: while j can take a part, it pulls the one waiting longest
  among the parts blocked on its predecessors (:meth:`ReferenceEngine.longest_waiting`).

Cancelled events (a failure clock paused, processing interrupted) are not
removed: each carries a token and is ignored when the token is stale.
The docs (docs/semantics.md) state every ordering rule this file follows.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import simpy

from twin import accounting as acc
from twin.distributions import Dist, sample
from twin.lead_times import LeadTimeFolder
from twin.model.types import (ASSEMBLY, BUFFER, CONVEYOR, SERVER_KINDS, SINK, SOURCE, Injection, Line,
                              Station)
from twin.results import ReplicationResult
from twin.streams import StreamLayout, failure_purposes, uniform

TRY_OUT, TRY_IN = 0, 1
# phases of a part on a server, in the order it passes them
WAIT_LOAD, LOAD, SETUP, WORKING, WAIT_UNLOAD, UNLOAD, DONE = (
    "wait_load", "load", "setup", "working", "wait_unload", "unload", "done")
TIMED_PHASES = (LOAD, SETUP, WORKING, UNLOAD)


class Part:
    """A part in the line; `ready_since` is set once it could leave its node (SPEC §3.6.3)."""

    __slots__ = ("id", "product", "released", "ready_since", "target", "traveling", "due",
                 "remaining", "server", "token")

    def __init__(self, part_id: int, product: int):
        self.id = part_id
        self.product = product
        self.released = math.nan
        self.ready_since: float | None = None
        self.target: int | None = None  # successor picked by probability routing
        self.traveling = False
        self.due = math.nan
        self.remaining = math.nan
        self.server = -1
        self.token = 0


class Mode:
    """A failure mode's clock: remaining time to failure, running or paused."""

    __slots__ = ("failure", "ttf_stream", "ttr_stream", "remaining", "due", "running", "token")

    def __init__(self, failure, ttf_stream: int, ttr_stream: int):
        self.failure = failure
        self.ttf_stream = ttf_stream
        self.ttr_stream = ttr_stream
        self.remaining = math.nan
        self.due = math.nan
        self.running = False
        self.token = 0


class Node:
    """Run-time state of one station."""

    def __init__(self, station: Station, index: int, out_targets: list[int], layout, products):
        self.station = station
        self.index = index
        self.kind = station.kind
        self.places = station.places
        self.out_targets = out_targets
        self.servers: list[Part | None] = [None] * (station.places if station.kind in SERVER_KINDS else 0)
        self.phase: list[str | None] = [None] * len(self.servers)
        self.last_product: list[int] = [-1] * len(self.servers)
        self.started_since_tool_change: list[int] = [0] * len(self.servers)
        self.fifo: deque[Part] = deque()  # buffer, conveyor, source
        self.down = 0
        self.off = 0  # in a planned-downtime window
        self.calendar_position = (0, 0)  # (period, window) of the next window
        # assembly: parts of the next kit, per in-edge rank, and the quantities it needs
        self.kit: list[list[Part]] = []
        self.kit_needs: list[int] = []
        self.rr = 0
        self.processing = 0  # servers processing, or parts traveling on a conveyor
        self.sequence_pos = 0
        self.stream = {p: layout.index[(station.id, p)] for p in
                       ("arrival", "product", "process", "setup", "scrap", "routing", "tool", "load",
                        "unload")}
        self.modes = [Mode(f, *(layout.index[(station.id, p)] for p in failure_purposes(f.name)))
                      for f in station.failures]
        self.process_dist = [station.process_time.get(p) for p in products]
        self.sequence = [products.index(p) for p in station.release.sequence] if station.release else []

    @property
    def occupied(self) -> int:
        return len(self.fifo) + sum(part is not None for part in self.servers)

    @property
    def halted(self) -> bool:
        """Down (failure or injection) or off (planned downtime): nothing enters or leaves."""
        return self.down > 0 or self.off > 0

    def ready_parts(self) -> list[Part]:
        """Parts that could leave now, oldest first (ties: lowest server)."""
        if self.kind in SERVER_KINDS:
            ready = [p for p in self.servers if p is not None and p.ready_since is not None]
            return sorted(ready, key=lambda p: (p.ready_since, p.server))
        if self.fifo and self.fifo[0].ready_since is not None:
            return [self.fifo[0]]
        return []


class ResourceState:
    """A shared resource: units in use and the FIFO of (node, server) requests."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self.queue: deque[tuple[Node, int]] = deque()


class ReferenceEngine:
    """One replication of a line on SimPy. Use :func:`run_replication`."""

    def __init__(self, line: Line, warmup: float, duration: float, seed: int, replication: int,
                 trace: bool = False, injections: tuple[Injection, ...] = (), exits: bool = False):
        self.line = line
        self.injections = [(inj, [line.index(s) for s in line.injected_stations(inj)])
                           for inj in injections]
        self.exit_times: list[float] | None = [] if exits else None
        self.w_start, self.w_end = warmup, warmup + duration
        self.env = simpy.Environment()
        self.products = list(line.product_ids)
        self.mix = np.asarray(line.mix_thresholds())
        layout = StreamLayout.for_line(line)
        self.keys = layout.keys(seed, replication)
        self.counters = np.zeros(len(self.keys), np.uint64)
        self.nodes = [Node(s, i, [line.index(e.target) for e in line.out_edges(s.id)], layout,
                           self.products) for i, s in enumerate(line.stations)]
        self.in_edges = [[(line.index(e.source), e) for e in line.in_edges(s.id)] for s in line.stations]
        for node in self.nodes:
            node.calendar = line.calendar_of(node.station)
            if node.kind == ASSEMBLY:
                node.kit = [[] for _ in self.in_edges[node.index]]
                node.kit_needs = [node.station.inputs[e.source] for _, e in self.in_edges[node.index]]
        self.resources = {r.id: ResourceState(r.capacity) for r in line.resources}
        self.out_edges = [list(line.out_edges(s.id)) for s in line.stations]
        self.places = np.array([s.places for s in line.stations], np.int64)
        self.measured = acc.measures(s.kind for s in line.stations)
        self.ns, self.nt, self.la = acc.new_arrays(len(self.nodes))
        self.produced = np.zeros((len(self.nodes), len(self.products)), np.int64)
        self.scrapped_at = np.zeros(len(self.nodes), np.int64)
        self.completed = self.scrapped = self.released = self.finished = 0
        self.wip = 0
        self.lead_times: list[float] = []  # those not folded yet (`twin.lead_times`)
        self.lead_folder = LeadTimeFolder()
        self.agenda: deque[tuple[int, int]] = deque()
        self.next_part_id = 0
        self.events = 0
        self.blocked_in_event = False
        self.cyclic = _has_cycle(line)
        self.deadlock: tuple[float, tuple[str, ...]] | None = None
        self.trace: list[tuple] | None = [] if trace else None
        self._encoded: dict[Dist, tuple] = {}
        self.last_token = 0

    def new_token(self) -> int:
        """A fresh token, unique in the run, for the event about to be scheduled."""
        self.last_token += 1
        return self.last_token

    # ------------------------------------------------------------------ plumbing
    def draw(self, dist: Dist, stream: int) -> float:
        if dist not in self._encoded:
            code, (p0, p1, p2), values = dist.encode()
            self._encoded[dist] = (code, p0, p1, p2, np.array(values or (0.0,), np.float64))
        code, p0, p1, p2, pool = self._encoded[dist]
        return sample(code, p0, p1, p2, pool, self.keys, self.counters, stream)

    def schedule(self, delay: float, handler, *args) -> None:
        """Schedule a model event `delay` seconds from now (SimPy keeps FIFO order for ties)."""
        self.env.timeout(delay).callbacks.append(lambda _event: self.fire(handler, args))

    def fire(self, handler, args) -> None:
        if self.deadlock is not None:
            return
        self.blocked_in_event = False
        if handler(*args) is False:  # a cancelled event
            return
        self.events += 1
        self.work_agenda()
        if self.cyclic and self.blocked_in_event:
            self.check_deadlock()

    def record(self, event: str, part: Part | None, node: Node, server: int = -1) -> None:
        if self.trace is not None:
            self.trace.append((self.env.now, event, -1 if part is None else part.id,
                               "" if part is None else self.products[part.product],
                               node.station.id, server))

    def touch(self, node: Node) -> None:
        acc.touch(self.ns, self.nt, self.places, self.measured, node.index, self.env.now,
                  self.w_start, self.w_end, True)

    def touch_line(self) -> None:
        acc.touch_line(self.la, self.wip, self.env.now, self.w_start, self.w_end)

    def count(self, node: Node, column: int, delta: int) -> None:
        self.ns[node.index, column] += delta

    # ------------------------------------------------------------------ run
    def run(self) -> ReplicationResult:
        for node in self.nodes:  # planned downtime first: a window opening at 0 comes first
            if node.calendar is not None and node.calendar.off:
                self.schedule_calendar_off(node)
        for node in self.nodes:  # SPEC §3.6.1: failure clocks start at 0 ...
            for mode in node.modes:
                mode.remaining = self.draw(mode.failure.ttf, mode.ttf_stream)
            self.sync_clocks(node)
        for node in self.nodes:  # ... then each source creates its first part at 0
            if node.kind == SOURCE:
                self.schedule(0.0, self.create, node)
        for k, (injection, _) in enumerate(self.injections):
            self.schedule(injection.at, self.inject, k)
        while self.deadlock is None and self.env.peek() <= self.w_end:
            self.env.step()
        acc.close(self.ns, self.nt, self.la, self.places, self.measured, self.wip, self.w_start,
                  self.w_end)
        return self.result()

    def work_agenda(self) -> None:
        while self.agenda:
            kind, index = self.agenda.popleft()
            if kind == TRY_OUT:
                self.try_out(self.nodes[index])
            else:
                self.try_in(self.nodes[index])

    # ------------------------------------------------------------------ events
    def create(self, node: Node) -> None:
        """A source creates a part; its product from the sequence or the mix."""
        if node.sequence:
            product = node.sequence[node.sequence_pos % len(node.sequence)]
            node.sequence_pos += 1
        elif len(self.products) > 1:
            u = uniform(self.keys, self.counters, node.stream["product"])
            product = int(np.searchsorted(self.mix, u, side="right"))
        else:
            product = 0
        part = Part(self.next_part_id, product)
        self.next_part_id += 1
        self.touch(node)
        node.fifo.append(part)
        self.count(node, acc.C_OCCUPIED, 1)
        part.ready_since = self.env.now
        self.record("create", part, node)
        self.agenda.append((TRY_OUT, node.index))

    def setup_end(self, node: Node, server: int, token: int):
        part = node.servers[server]
        if part is None or part.token != token:
            return False
        self.touch(node)
        self.count(node, acc.C_SETUP, -1)
        self.start_processing(node, server, part)

    def load_end(self, node: Node, server: int, token: int):
        """The resource has loaded the part: it frees the resource; setup and processing follow."""
        part = node.servers[server]
        if part is None or part.token != token:
            return False
        self.touch(node)
        self.count(node, acc.C_SETUP, -1)
        self.release_resource(node.station.load.resource)
        self.start_setup(node, server, part)

    def unload_end(self, node: Node, server: int, token: int):
        """The resource has unloaded the part: it is ready to leave."""
        part = node.servers[server]
        if part is None or part.token != token:
            return False
        self.touch(node)
        self.count(node, acc.C_SETUP, -1)
        self.release_resource(node.station.unload.resource)
        self.record("ready", part, node, server)
        self.part_ready(node, server, part)

    def process_end(self, node: Node, server: int, token: int):
        part = node.servers[server]
        if part is None or part.token != token:
            return False
        now = self.env.now
        self.touch(node)
        self.count(node, acc.C_WORKING, -1)
        node.processing -= 1
        if acc.in_window(now, self.w_start, self.w_end):
            self.produced[node.index, part.product] += 1
        self.record("done", part, node, server)
        scrap = node.station.scrap
        if scrap > 0.0 and uniform(self.keys, self.counters, node.stream["scrap"]) < scrap:
            self.scrap(node, server, part)
        elif node.station.unload is not None:
            self.request_resource(node, server, WAIT_UNLOAD)
        else:
            self.part_ready(node, server, part)
        self.sync_clocks(node)

    def part_ready(self, node: Node, server: int, part: Part) -> None:
        node.phase[server] = DONE
        self.count(node, acc.C_BLOCKED, 1)
        part.ready_since = self.env.now
        self.agenda.append((TRY_OUT, node.index))

    def travel_end(self, node: Node, part: Part, token: int):
        if part.token != token or not part.traveling:
            return False
        self.touch(node)
        part.traveling = False
        node.processing -= 1
        self.count(node, acc.C_WORKING, -1)
        self.count(node, acc.C_BLOCKED, 1)
        if acc.in_window(self.env.now, self.w_start, self.w_end):
            self.produced[node.index, part.product] += 1
        self.record("done", part, node)
        if node.fifo[0] is part:
            part.ready_since = self.env.now
            self.agenda.append((TRY_OUT, node.index))
        self.sync_clocks(node)

    def fail(self, node: Node, mode: Mode, token: int):
        """A failure mode's clock ran out: the whole node goes down (SPEC §3.3)."""
        if mode.token != token or not mode.running:
            return False
        mode.running = False
        mode.remaining = math.nan
        self.record("fail", None, node, node.modes.index(mode))
        self.go_down(node)
        self.schedule(self.draw(mode.failure.ttr, mode.ttr_stream), self.repair, node, mode)

    def repair(self, node: Node, mode: Mode):
        """Repair done: the failed mode draws a new time to failure; the node resumes."""
        self.record("repair", None, node, node.modes.index(mode))
        mode.remaining = self.draw(mode.failure.ttf, mode.ttf_stream)
        self.go_up(node)

    def inject(self, k: int) -> None:
        """An injected outage starts: its stations go down, in file order."""
        injection, indices = self.injections[k]
        for index in indices:
            self.record("down", None, self.nodes[index], k)
            self.go_down(self.nodes[index])
        self.schedule(injection.down_for, self.inject_end, k)

    def inject_end(self, k: int) -> None:
        for index in self.injections[k][1]:
            self.record("up", None, self.nodes[index], k)
            self.go_up(self.nodes[index])

    def schedule_calendar_off(self, node: Node) -> None:
        """Schedule the start of the node's next planned-downtime window."""
        period, window = node.calendar_position
        start = period * node.calendar.period + node.calendar.off[window][0]
        self.schedule(start - self.env.now, self.calendar_off, node)

    def calendar_off(self, node: Node) -> None:
        """A planned-downtime window opens: the node pauses like a failure, state `off`."""
        period, window = node.calendar_position
        self.record("off", None, node)
        self.set_halt(node, acc.C_OFF, +1)
        end = period * node.calendar.period + node.calendar.off[window][1]
        self.schedule(end - self.env.now, self.calendar_on, node)

    def calendar_on(self, node: Node) -> None:
        period, window = node.calendar_position
        node.calendar_position = ((period, window + 1) if window + 1 < len(node.calendar.off)
                                  else (period + 1, 0))
        self.record("on", None, node)
        self.set_halt(node, acc.C_OFF, -1)
        self.schedule_calendar_off(node)

    # ------------------------------------------------------------------ down and up
    def go_down(self, node: Node) -> None:
        self.set_halt(node, acc.C_DOWN, +1)

    def go_up(self, node: Node) -> None:
        self.set_halt(node, acc.C_DOWN, -1)

    def set_halt(self, node: Node, column: int, delta: int) -> None:
        """Count a cause of halting (down or off) in or out; pause or resume the node."""
        was_halted = node.halted
        self.touch(node)
        if column == acc.C_DOWN:
            node.down += delta
        else:
            node.off += delta
        self.count(node, column, delta)
        if node.halted and not was_halted:
            self.interrupt(node)
            self.sync_clocks(node)
        elif was_halted and not node.halted:
            self.resume(node)
            self.sync_clocks(node)
            for use in (node.station.load, node.station.unload):
                if use is not None:
                    self.serve(use.resource)
            self.agenda.append((TRY_OUT, node.index))
            self.agenda.append((TRY_IN, node.index))

    def running_parts(self, node: Node) -> list[tuple[int, Part]]:
        """Parts whose loading, setup, processing, unloading or travel is under way,
        in server (or FIFO) order."""
        if node.kind in SERVER_KINDS:
            return [(k, p) for k, p in enumerate(node.servers)
                    if p is not None and node.phase[k] in TIMED_PHASES]
        return [(-1, p) for p in node.fifo if p.traveling]

    def interrupt(self, node: Node) -> None:
        """Preempt: keep the remaining time of every running setup, processing or travel."""
        for _, part in self.running_parts(node):
            part.remaining = part.due - self.env.now
            part.token = self.new_token()

    def resume(self, node: Node) -> None:
        for server, part in self.running_parts(node):
            self.start_timer(node, server, part, part.remaining)

    def start_timer(self, node: Node, server: int, part: Part, delay: float) -> None:
        part.due = self.env.now + delay
        part.token = self.new_token()
        if node.kind == CONVEYOR:
            self.schedule(delay, self.travel_end, node, part, part.token)
            return
        handler = {LOAD: self.load_end, SETUP: self.setup_end, WORKING: self.process_end,
                   UNLOAD: self.unload_end}[node.phase[server]]
        self.schedule(delay, handler, node, server, part.token)

    def sync_clocks(self, node: Node) -> None:
        """Start or pause each failure clock as SPEC §3.6.4 says it runs."""
        for mode in node.modes:
            should_run = (not node.halted and not math.isnan(mode.remaining)
                          and (mode.failure.basis == "calendar" or node.processing > 0))
            if should_run and not mode.running:
                mode.running = True
                mode.due = self.env.now + mode.remaining
                mode.token = self.new_token()
                self.schedule(mode.remaining, self.fail, node, mode, mode.token)
            elif mode.running and not should_run:
                mode.running = False
                mode.remaining = mode.due - self.env.now
                mode.token = self.new_token()

    # ------------------------------------------------------------------ decisions
    def can_take(self, node: Node, pred: Node) -> bool:
        """Whether `node` can take a part from `pred` now: not halted, and a free place
        (sinks always; an assembly while its kit lacks parts from `pred`)."""
        if node.kind == SOURCE or node.halted:
            return False
        return node.kind == SINK or self.free_places(node, pred) > 0

    def free_places(self, node: Node, pred: Node) -> float:
        if node.kind == SINK:
            return math.inf
        if node.kind == ASSEMBLY:
            rank = self.input_rank(node, pred)
            return node.kit_needs[rank] - len(node.kit[rank])
        return node.places - node.occupied

    def input_rank(self, node: Node, pred: Node) -> int:
        return next(r for r, (i, _) in enumerate(self.in_edges[node.index]) if i == pred.index)

    def eligible(self, node: Node, part: Part) -> list[int]:
        """Out-edge positions of `node` that admit the part's product, in edge order."""
        product = self.products[part.product]
        return [k for k, e in enumerate(self.out_edges[node.index]) if e.admits(product)]

    def choose_successor(self, node: Node, part: Part) -> int | None:
        """The out-edge position the part leaves through now, or None to wait (SPEC §3.2)."""
        route = node.station.route
        edges = self.eligible(node, part)
        targets = node.out_targets
        if route == "probability":
            if part.target is None:
                part.target = self.pick_by_probability(node, edges)
            k = part.target
            return k if self.can_take(self.nodes[targets[k]], node) else None
        open_edges = [k for k in edges if self.can_take(self.nodes[targets[k]], node)]
        if not open_edges:
            return None
        if route == "order":
            return open_edges[0]
        if route == "shortest_queue":
            return max(open_edges, key=lambda k: (self.free_places(self.nodes[targets[k]], node), -k))
        n_out = len(targets)  # round_robin: first open edge at or after the pointer
        return min(open_edges, key=lambda k: (k - node.rr) % n_out)

    def pick_by_probability(self, node: Node, edges: list[int]) -> int:
        """Draw one eligible edge with weights p renormalised over them (SPEC §3.6.5)."""
        weights = [self.out_edges[node.index][k].p for k in edges]
        u = uniform(self.keys, self.counters, node.stream["routing"]) * sum(weights)
        cumulative = 0.0
        for k, w in zip(edges, weights):
            cumulative += w
            if u < cumulative:
                return k
        return next(k for k, w in zip(reversed(edges), reversed(weights)) if w > 0)

    def may_go(self, source: Node, part: Part, target: Node) -> bool:
        """Whether a ready part on `source` waits for (and may be pulled by) `target`."""
        if source.halted:
            return False
        product = self.products[part.product]
        positions = [k for k, e in enumerate(self.out_edges[source.index])
                     if e.target == target.station.id and e.admits(product)]
        if not positions:
            return False
        return source.station.route != "probability" or part.target in positions

    def longest_waiting(self, node: Node) -> tuple[Node, Part] | None:
        """The blocked part `node` pulls: longest waiting; ties by in-edge order, then server."""
        best = None
        for rank, (pred_index, _edge) in enumerate(self.in_edges[node.index]):
            pred = self.nodes[pred_index]
            if not self.can_take(node, pred):
                continue
            for part in pred.ready_parts():
                if self.may_go(pred, part, node):
                    key = (part.ready_since, rank, part.server)
                    if best is None or key < best[0]:
                        best = (key, pred, part)
        return None if best is None else (best[1], best[2])

    # ------------------------------------------------------------------ movement
    def try_out(self, node: Node) -> None:
        if node.halted:
            return
        for part in node.ready_parts():
            k = self.choose_successor(node, part)
            if k is None:
                self.blocked_in_event = True
            else:
                self.move(node, part, k)

    def try_in(self, node: Node) -> None:
        """Pull waiting parts while the node can take them (an assembly first assembles)."""
        if node.kind == SOURCE:  # a sink pulls only when its own calendar turns it back on
            return
        if node.kind == ASSEMBLY:
            self.assemble(node)
        while True:
            found = self.longest_waiting(node)
            if found is None:
                return
            pred, part = found
            k = next(k for k, t in enumerate(pred.out_targets) if t == node.index)
            self.move(pred, part, k)

    def move(self, node: Node, part: Part, k: int) -> None:
        """The part leaves `node` through out-edge k and enters its target."""
        target = self.nodes[node.out_targets[k]]
        if node.station.route == "round_robin":
            node.rr = (k + 1) % len(node.out_targets)
        self.leave(node, part)
        self.enter(target, part, node)
        if node.kind in (BUFFER, CONVEYOR) and node.fifo and not node.fifo[0].traveling:
            node.fifo[0].ready_since = self.env.now
            self.agenda.append((TRY_OUT, node.index))
        if node.kind != SOURCE:
            self.agenda.append((TRY_IN, node.index))

    def leave(self, node: Node, part: Part) -> None:
        self.touch(node)
        self.count(node, acc.C_OCCUPIED, -1)
        part.ready_since = None
        part.target = None
        if node.kind in SERVER_KINDS:
            node.servers[part.server] = None
            node.phase[part.server] = None
            self.count(node, acc.C_BLOCKED, -1)
            return
        node.fifo.popleft()
        if node.kind == CONVEYOR:
            self.count(node, acc.C_BLOCKED, -1)
        elif node.kind == SOURCE:
            self.release(node, part)

    def release(self, source: Node, part: Part) -> None:
        """A part leaves its source: it is in the line now; the source makes the next one."""
        self.touch_line()
        self.wip += 1
        self.released += 1
        part.released = self.env.now
        interarrival = source.station.release.interarrival
        delay = 0.0 if interarrival is None else self.draw(interarrival, source.stream["arrival"])
        self.schedule(delay, self.create, source)

    def enter(self, node: Node, part: Part, pred: Node) -> None:
        now = self.env.now
        if node.kind == ASSEMBLY:  # a kit place is no server: `assemble` touches the node
            node.kit[self.input_rank(node, pred)].append(part)
            part.server = -1
            self.record("enter", part, node)
            if self.assemble(node):  # the kit's places are free again
                self.agenda.append((TRY_IN, node.index))
            return
        self.touch(node)  # (the accounting measures nothing of a sink)
        if node.kind == SINK:
            self.record("exit", part, node)
            self.finish(part)
            if self.exit_times is not None:
                self.exit_times.append(now)
            if acc.in_window(now, self.w_start, self.w_end):
                self.completed += 1
                self.lead_times.append(now - part.released)
                if len(self.lead_times) > self.lead_folder.room():
                    del self.lead_times[:self.lead_folder.fold(np.array(self.lead_times, np.float64))]
            return
        self.count(node, acc.C_OCCUPIED, 1)
        if node.kind in SERVER_KINDS:
            server = node.servers.index(None)  # SPEC §3.6.14: lowest free server
            node.servers[server] = part
            part.server = server
            self.record("enter", part, node, server)
            self.start_service(node, server, part)
            return
        part.server = -1
        node.fifo.append(part)
        self.record("enter", part, node)
        if node.kind == BUFFER:
            if len(node.fifo) == 1:
                part.ready_since = now
                self.agenda.append((TRY_OUT, node.index))
            return
        ahead = node.fifo[-2] if len(node.fifo) > 1 else None  # conveyor: no overtaking
        travel = self.draw(node.station.travel_time, node.stream["process"])
        if ahead is not None and ahead.traveling:
            travel = max(travel, ahead.due - now)
        part.traveling = True
        node.processing += 1
        self.count(node, acc.C_WORKING, 1)
        self.start_timer(node, -1, part, travel)
        self.sync_clocks(node)

    def start_service(self, node: Node, server: int, part: Part) -> None:
        """A part took a server: loading by a resource if the node has `load`, then setup."""
        if node.station.load is not None:
            self.request_resource(node, server, WAIT_LOAD)
        else:
            self.start_setup(node, server, part)

    def start_setup(self, node: Node, server: int, part: Part) -> None:
        """A due tool change, then a setup if the product changed on this server
        (SPEC §3.6.8), as one setup phase; then processing."""
        previous = node.last_product[server]
        node.last_product[server] = part.product
        delay, needed = 0.0, False
        tool = node.station.tool_change
        if tool is not None and node.started_since_tool_change[server] >= tool.every:
            delay += self.draw(tool.time, node.stream["tool"])
            node.started_since_tool_change[server] = 0
            needed = True
        setup = None
        if previous >= 0:
            setup = node.station.setup_between(self.products[previous], self.products[part.product])
        if setup is not None:
            delay += self.draw(setup, node.stream["setup"])
            needed = True
        if not needed:
            self.start_processing(node, server, part)
            return
        node.phase[server] = SETUP
        self.count(node, acc.C_SETUP, 1)
        self.record("setup", part, node, server)
        self.start_timer(node, server, part, delay)

    def start_processing(self, node: Node, server: int, part: Part) -> None:
        node.phase[server] = WORKING
        node.started_since_tool_change[server] += 1
        node.processing += 1
        self.count(node, acc.C_WORKING, 1)
        self.record("start", part, node, server)
        self.start_timer(node, server, part,
                         self.draw(node.process_dist[part.product], node.stream["process"]))
        self.sync_clocks(node)

    # ------------------------------------------------------------------ resources
    def request_resource(self, node: Node, server: int, phase: str) -> None:
        """The part on `server` waits for the load or unload resource (FIFO requests)."""
        use = node.station.load if phase == WAIT_LOAD else node.station.unload
        node.phase[server] = phase
        self.count(node, acc.C_WAITRES, 1)
        self.resources[use.resource].queue.append((node, server))
        self.serve(use.resource)

    def serve(self, resource_id: str) -> None:
        """Grant free units to the oldest requests of nodes that are not halted."""
        resource = self.resources[resource_id]
        while resource.in_use < resource.capacity:
            waiting = next((r for r in resource.queue if not r[0].halted), None)
            if waiting is None:
                return
            resource.queue.remove(waiting)
            resource.in_use += 1
            self.grant(*waiting)

    def grant(self, node: Node, server: int) -> None:
        part = node.servers[server]
        loading = node.phase[server] == WAIT_LOAD
        use = node.station.load if loading else node.station.unload
        self.touch(node)
        self.count(node, acc.C_WAITRES, -1)
        self.count(node, acc.C_SETUP, 1)
        node.phase[server] = LOAD if loading else UNLOAD
        self.record("load" if loading else "unload", part, node, server)
        self.start_timer(node, server, part, self.draw(use.time, node.stream["load" if loading else "unload"]))

    def release_resource(self, resource_id: str) -> None:
        self.resources[resource_id].in_use -= 1
        self.serve(resource_id)

    # ------------------------------------------------------------------ assembly
    def assemble(self, node: Node) -> bool:
        """With a full kit and a free server, the kit's parts become one part of `output`;
        returns whether they did."""
        if any(len(parts) < need for parts, need in zip(node.kit, node.kit_needs)):
            return False
        if None not in node.servers or node.halted:
            return False
        components = [p for parts in node.kit for p in parts]
        for parts in node.kit:
            parts.clear()
        for component in components:
            self.finish(component)
        part = Part(self.next_part_id, self.products.index(node.station.output))
        self.next_part_id += 1
        part.released = min(c.released for c in components)
        self.touch_line()
        self.wip += 1
        self.released += 1
        self.touch(node)
        self.count(node, acc.C_OCCUPIED, 1)
        server = node.servers.index(None)
        node.servers[server] = part
        part.server = server
        self.record("assemble", part, node, server)
        self.start_service(node, server, part)
        return True

    def scrap(self, node: Node, server: int, part: Part) -> None:
        self.record("scrap", part, node, server)
        node.servers[server] = None
        node.phase[server] = None
        self.count(node, acc.C_OCCUPIED, -1)
        if acc.in_window(self.env.now, self.w_start, self.w_end):
            self.scrapped_at[node.index] += 1
            self.scrapped += 1
        self.finish(part)
        self.agenda.append((TRY_IN, node.index))

    def finish(self, part: Part) -> None:
        """A part leaves the system (sink or scrap)."""
        self.touch_line()
        self.wip -= 1
        self.finished += 1

    # ------------------------------------------------------------------ deadlock
    def check_deadlock(self) -> None:
        """Stop if blocked parts wait on each other in a circle (SPEC §5 `deadlock`)."""
        stuck = {n.index for n in self.nodes if self.is_stuck(n)}
        changed = True
        while changed:
            changed = False
            for index in sorted(stuck):
                node = self.nodes[index]
                if any(t not in stuck for part in node.ready_parts()
                       for t in self.waits_for(node, part)):
                    stuck.discard(index)
                    changed = True
        if stuck:
            names = tuple(self.nodes[i].station.id for i in sorted(stuck))
            self.deadlock = (self.env.now, names)
            if self.trace is not None:
                self.trace.append((self.env.now, "deadlock", -1, "", "+".join(names), -1))

    def is_stuck(self, node: Node) -> bool:
        """Full, and every place held by a part that is done but cannot leave."""
        if node.kind in (SOURCE, SINK) or node.occupied < node.places:
            return False
        if node.kind in SERVER_KINDS:
            return all(p is not None and p.ready_since is not None for p in node.servers)
        return node.fifo[0].ready_since is not None

    def waits_for(self, node: Node, part: Part) -> list[int]:
        if node.station.route == "probability" and part.target is not None:
            return [node.out_targets[part.target]]
        return [node.out_targets[k] for k in self.eligible(node, part)]

    # ------------------------------------------------------------------ result
    def result(self) -> ReplicationResult:
        time, nodes = self.deadlock if self.deadlock else (math.nan, ())
        return ReplicationResult(
            **acc.time_fields(self.nt, self.la), produced=self.produced,
            scrapped_at=self.scrapped_at, completed=self.completed, scrapped=self.scrapped,
            lead_times=self.lead_folder.result(np.array(self.lead_times, np.float64)),
            released=self.released, finished=self.finished, in_process=self.wip,
            events=self.events, deadlock=self.deadlock is not None, deadlock_time=time,
            deadlock_nodes=nodes, trace=self.trace,
            exit_times=None if self.exit_times is None else np.array(self.exit_times, np.float64))


def _has_cycle(line: Line) -> bool:
    import networkx as nx

    graph = nx.DiGraph((e.source, e.target) for e in line.edges)
    return not nx.is_directed_acyclic_graph(graph)


def run_replication(line: Line, warmup: float, duration: float, seed: int, replication: int,
                    trace: bool = False, injections: tuple[Injection, ...] = (),
                    exits: bool = False) -> ReplicationResult:
    """Simulate one replication of `line` on the reference engine.

    `injections` are deterministic outages (scheduled at time 0, after the
    sources' first parts); with `exits` every sink arrival time is returned.
    """
    return ReferenceEngine(line, warmup, duration, seed, replication, trace, injections, exits).run()
