"""Replication 0's event trace → station states, buffer levels and downtimes over time.

The engines record a trace of tuples ``(time, event, part, product, node,
server)`` (see :mod:`twin.results`). This module replays it once, keeping per
node how many parts are in setup, processing (or travelling), done but not
gone (blocked), and how many outages hold it down. From that it derives

* the state of every processing station after each event (:func:`replay`),
  by the precedence ``off > down > working > setup > waiting_resource >
  blocked > idle`` — one state per station even with several servers (the
  exact per-server fractions are the KPIs); loading and unloading by a
  resource show as setup;
* the OPC 40001 MachineryItemState of the node after each event;
* the level of every buffer over time;
* every downtime (failure → repair, injection down → up) as an incident.

A part leaves a node when its next event at another node happens (`enter` of
the successor or `exit` at a sink); a scrapped part leaves at `scrap`.
Intervals still open at the end are closed at the horizon (warm-up +
duration); after a deadlock the line is frozen, so states simply hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.model.types import ASSEMBLY, BUFFER, CONVEYOR, PROCESSING_KINDS, Line

#: the states a station timeline shows, in plotting order
TIMELINE_STATES = ("working", "setup", "waiting_resource", "blocked", "down", "off")
#: OPC 40001-1 MachineryItemState values used in trace.csv
EXECUTING, NOT_EXECUTING, OUT_OF_SERVICE, NOT_AVAILABLE = (
    "Executing", "NotExecuting", "OutOfService", "NotAvailable")
#: random failures are technical downtime of the delivered equipment (VDI 3423): the supplier's
FAILURE_ATTRIBUTION = "supplier"


@dataclass(frozen=True)
class Incident:
    """One downtime of one station: a failure mode (`fail`→`repair`) or an injection (`down`→`up`)."""

    station: str
    cause: str  # failure mode name, or "injection:<index>"
    start: float
    end: float
    reason: str
    attribution: str
    kind: str  # "failure" or "injection"

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class _NodeState:
    kind: str
    setup: int = 0
    working: int = 0
    waiting: int = 0  # for a resource
    blocked: int = 0
    down: int = 0
    off: int = 0
    level: int = 0

    def state(self) -> str:
        if self.off:
            return "off"
        if self.down:
            return "down"
        if self.working:
            return "working"
        if self.setup:
            return "setup"
        if self.waiting:
            return "waiting_resource"
        if self.blocked:
            return "blocked"
        return "idle"

    def opc_state(self) -> str:
        if self.off:
            return NOT_AVAILABLE
        if self.down:
            return OUT_OF_SERVICE
        return EXECUTING if self.working else NOT_EXECUTING


@dataclass
class Timeline:
    """What :func:`replay` reconstructs from one trace."""

    #: station id → [(start, end, state)] for states in TIMELINE_STATES (idle is left out)
    intervals: dict[str, list[tuple[float, float, str]]] = field(default_factory=dict)
    #: buffer id → [(time, level)] steps, starting with (0, 0)
    levels: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    #: OPC state of the row's node after each trace row (same length as the trace)
    opc_states: list[str] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    #: times at which good parts reached a sink
    exits: list[float] = field(default_factory=list)


def replay(trace: list[tuple], line: Line, horizon: float, injections=()) -> Timeline:
    """Reconstruct states, levels and incidents of a trace (see the module docstring).

    Parameters
    ----------
    trace : the trace of replication 0, in event order.
    line : the simulated line (station kinds, failure mode names).
    horizon : end of the run (warm-up + duration); open intervals end there.
    injections : the scenario's `Injection`s (reason and attribution of `down`/`up`).
    """
    replayer = _Replayer(line, injections)
    for row in trace:
        replayer.event(*row)
    return replayer.finish(horizon)


class _Replayer:
    """Walks the trace once, keeping counts per node and where every part is."""

    def __init__(self, line: Line, injections):
        self.line = line
        self.injections = injections
        self.nodes = {s.id: _NodeState(s.kind) for s in line.stations}
        self.out = Timeline(
            intervals={s.id: [] for s in line.stations if s.kind in PROCESSING_KINDS},
            levels={s.id: [(0.0, 0)] for s in line.stations if s.kind == BUFFER})
        self.shown = {sid: ("idle", 0.0) for sid in self.out.intervals}  # state and since when
        self.where: dict[int, tuple[str, str]] = {}  # part → (node, phase)
        self.open_down: dict[tuple[str, str, int], float] = {}  # (node, fail|down, index) → start

    def event(self, time: float, event: str, part: int, _product: str, sid: str, server: int) -> None:
        node = self.nodes.get(sid)
        if event in ("enter", "exit", "scrap"):
            self.leave(part, time)
        if node is None:  # a deadlock row names several nodes: the line freezes
            self.out.opc_states.append(NOT_EXECUTING)
            return
        if event == "create":
            self.where[part] = (sid, "held")
        elif event == "enter" and node.kind == ASSEMBLY:
            self.where[part] = (sid, "kit")  # a component, consumed when the kit is assembled
        elif event in ("enter", "assemble"):
            self.enter(node, sid, part, time)
        elif event == "exit":
            self.out.exits.append(time)
        elif event in ("load", "unload"):
            node.waiting -= 1
            node.setup += 1
            self.where[part] = (sid, event)
        elif event == "setup":
            if self.where.get(part, ("", ""))[1] != "load":
                node.setup += 1
            self.where[part] = (sid, "setup")
        elif event == "start":
            if self.where.get(part, ("", ""))[1] in ("setup", "load"):
                node.setup -= 1
            node.working += 1
            self.where[part] = (sid, "working")
        elif event == "done":
            node.working -= 1
            if node.kind != CONVEYOR and self.line.station(sid).unload is not None:
                node.waiting += 1
                self.where[part] = (sid, "wait_unload")
            else:
                node.blocked += 1
                self.where[part] = (sid, "done")
        elif event == "ready":  # unloaded by its resource
            node.setup -= 1
            node.blocked += 1
            self.where[part] = (sid, "done")
        elif event in ("off", "on"):
            node.off += 1 if event == "off" else -1
        elif event in ("fail", "down"):
            node.down += 1
            self.open_down[(sid, event, server)] = time
        elif event in ("repair", "up"):
            node.down -= 1
            start_event = "fail" if event == "repair" else "down"
            start = self.open_down.pop((sid, start_event, server), time)
            self.out.incidents.append(self.incident(sid, start_event, server, start, time))
        self.refresh(sid, time)
        self.out.opc_states.append(node.opc_state())

    def enter(self, node: _NodeState, sid: str, part: int, time: float) -> None:
        if node.kind == CONVEYOR:  # a conveyor part travels from the moment it enters
            node.working += 1
            self.where[part] = (sid, "working")
        elif node.kind == BUFFER:
            node.level += 1
            self.out.levels[sid].append((time, node.level))
            self.where[part] = (sid, "stored")
        elif self.line.station(sid).load is not None:
            node.waiting += 1
            self.where[part] = (sid, "wait_load")
        else:
            self.where[part] = (sid, "entered")

    def leave(self, part: int, now: float) -> None:
        """The part leaves the node it was on (it entered another, reached a sink or was scrapped)."""
        if part not in self.where:
            return
        sid, phase = self.where.pop(part)
        node = self.nodes[sid]
        if phase == "done":
            node.blocked -= 1
        if node.kind == BUFFER:
            node.level -= 1
            self.out.levels[sid].append((now, node.level))
        self.refresh(sid, now)

    def refresh(self, sid: str, now: float) -> None:
        """Close the station's shown interval if its state changed."""
        if sid not in self.shown:
            return
        state, since = self.shown[sid]
        new = self.nodes[sid].state()
        if new != state:
            if state != "idle" and now > since:
                self.out.intervals[sid].append((since, now, state))
            self.shown[sid] = (new, now)

    def incident(self, sid: str, start_event: str, index: int, start: float, end: float) -> Incident:
        if start_event == "fail":
            mode = self.line.station(sid).failures[index]
            return Incident(sid, mode.name, start, end, "random failure", FAILURE_ATTRIBUTION,
                            "failure")
        injection = self.injections[index] if 0 <= index < len(self.injections) else None
        return Incident(sid, f"injection:{index}", start, end,
                        injection.reason if injection else "",
                        injection.attribution if injection else "", "injection")

    def finish(self, horizon: float) -> Timeline:
        """Close what is still open at the horizon (downtimes, shown states) and sort incidents."""
        for (sid, start_event, index), start in self.open_down.items():
            self.out.incidents.append(self.incident(sid, start_event, index, start, horizon))
        for sid, (state, since) in self.shown.items():
            if state != "idle" and horizon > since:
                self.out.intervals[sid].append((since, horizon, state))
        self.out.incidents.sort(key=lambda i: (i.start, i.station, i.cause))
        return self.out
