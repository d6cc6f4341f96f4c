"""The line model: frozen dataclasses that both engines and the compiler read.

A `Line` is built only by validation (`twin.model.validate`), so every field
here is already checked: durations are seconds, distributions are `Dist`,
a map product -> process time covers every product that can reach its station.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.distributions import Dist

SOURCE, MACHINE, BUFFER, CONVEYOR, SINK = "source", "machine", "buffer", "conveyor", "sink"
ASSEMBLY = "assembly"
KINDS = (SOURCE, MACHINE, BUFFER, CONVEYOR, ASSEMBLY, SINK)
#: kinds that process parts, can fail and get station KPIs
PROCESSING_KINDS = (MACHINE, CONVEYOR, ASSEMBLY)
#: kinds with servers that set up, process and may need resources (machines and assemblies)
SERVER_KINDS = (MACHINE, ASSEMBLY)
#: kinds the line's planned-downtime calendar pauses (buffers and sinks only follow their own)
CALENDAR_KINDS = (SOURCE, MACHINE, CONVEYOR, ASSEMBLY)
ROUTES = ("order", "probability", "shortest_queue", "round_robin")
BASES = ("operating", "calendar")


@dataclass(frozen=True)
class Product:
    id: str
    mix: float


@dataclass(frozen=True)
class Failure:
    """One failure mode; its clock runs while processing (`operating`) or while up (`calendar`)."""

    name: str
    basis: str
    ttf: Dist
    ttr: Dist


@dataclass(frozen=True)
class Release:
    """How a source releases parts: saturated (no interarrival) or every `interarrival`."""

    interarrival: Dist | None = None
    sequence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    """A shared robot or operator: `capacity` units, requests served first come, first served."""

    id: str
    capacity: int


@dataclass(frozen=True)
class ResourceUse:
    """A part needs `resource` for `time` to enter (load) or leave (unload) a machine."""

    resource: str
    time: Dist


@dataclass(frozen=True)
class Calendar:
    """Planned downtime: the windows `off` [(start, end), ...] repeat every `period` seconds."""

    period: float
    off: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ToolChange:
    """A server changes its tool (counted as setup) before every part after each `every` parts."""

    every: int
    time: Dist


@dataclass(frozen=True)
class Station:
    id: str
    kind: str
    #: parts the node holds at once: servers of a machine, capacity of a buffer or
    #: conveyor, 1 for a source, 0 (unlimited) for a sink
    places: int
    route: str = "order"
    process_time: dict[str, Dist] = field(default_factory=dict)  # per product (machines)
    ideal_cycle_time: dict[str, float] = field(default_factory=dict)  # per product (machines)
    setup: Dist | None = None
    setup_matrix: dict[tuple[str, str], Dist] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    scrap: float = 0.0
    travel_time: Dist | None = None  # conveyors
    release: Release | None = None  # sources
    load: ResourceUse | None = None  # machines, assemblies
    unload: ResourceUse | None = None
    tool_change: ToolChange | None = None
    calendar: Calendar | None = None  # the node's own; else the line's applies
    inputs: dict[str, int] = field(default_factory=dict)  # assembly: predecessor -> quantity
    output: str | None = None  # assembly: the product it emits

    @property
    def servers(self) -> int:
        return self.places

    def setup_between(self, previous: str, product: str) -> Dist | None:
        """The setup drawn when `product` follows `previous` on a server (SPEC §3.3)."""
        if previous == product:
            return None
        return self.setup_matrix.get((previous, product), self.setup)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    p: float | None = None
    products: tuple[str, ...] | None = None  # None: every product

    def admits(self, product: str) -> bool:
        return self.products is None or product in self.products


@dataclass(frozen=True)
class Injection:
    """A deterministic outage: `station` (None: every machine and conveyor) down for a time.

    `attribution` follows VDI 3423: `supplier`, `customer` or `maintenance`.
    """

    at: float
    station: str | None
    down_for: float
    reason: str = ""
    attribution: str = "supplier"


@dataclass(frozen=True)
class Line:
    """A validated line: stations in file order, edges in file order."""

    id: str
    description: str
    products: tuple[Product, ...]
    stations: tuple[Station, ...]
    edges: tuple[Edge, ...]
    source_file: str = "<graph>"
    resources: tuple[Resource, ...] = ()
    calendar: Calendar | None = None
    #: the raw document as validated (after overrides): kept for evidence and `to_graph`
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def station(self, station_id: str) -> Station:
        return self._by_id[station_id]

    def index(self, station_id: str) -> int:
        return self._index[station_id]

    def out_edges(self, station_id: str) -> tuple[Edge, ...]:
        """Out-edges in the order they are listed (the `order` routing order)."""
        return self._out.get(station_id, ())

    def in_edges(self, station_id: str) -> tuple[Edge, ...]:
        return self._in.get(station_id, ())

    def calendar_of(self, station: Station) -> Calendar | None:
        """The planned-downtime calendar a station follows: its own (any kind), else the
        line's (which stops the stations that work: not buffers and sinks)."""
        if station.calendar is not None or station.kind not in CALENDAR_KINDS:
            return station.calendar
        return self.calendar

    def injected_stations(self, injection: Injection) -> tuple[str, ...]:
        """The stations an injection takes down, in file order."""
        if injection.station is not None:
            return (injection.station,)
        return tuple(s.id for s in self.stations if s.kind in PROCESSING_KINDS)

    @property
    def product_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.products)

    def mix_thresholds(self) -> tuple[float, ...]:
        """Cumulative mix for drawing a product: the first product whose threshold exceeds a
        uniform draw. From the last product with a share on, the threshold is infinite, so a
        draw at or above a sum just short of 1 picks that product, never one without share."""
        thresholds, total = [], 0.0
        last = max((k for k, p in enumerate(self.products) if p.mix > 0), default=0)
        for k, product in enumerate(self.products):
            total += product.mix
            thresholds.append(total if k < last else float("inf"))
        return tuple(thresholds)

    def __post_init__(self):
        out: dict[str, list[Edge]] = {}
        inc: dict[str, list[Edge]] = {}
        for e in self.edges:
            out.setdefault(e.source, []).append(e)
            inc.setdefault(e.target, []).append(e)
        object.__setattr__(self, "_by_id", {s.id: s for s in self.stations})
        object.__setattr__(self, "_index", {s.id: i for i, s in enumerate(self.stations)})
        object.__setattr__(self, "_out", {k: tuple(v) for k, v in out.items()})
        object.__setattr__(self, "_in", {k: tuple(v) for k, v in inc.items()})

    @classmethod
    def from_graph(cls, graph, name: str = "<graph>") -> "Line":
        """Validate a `networkx.DiGraph` (attributes as in SPEC §3) into a Line."""
        from twin.model.load import raw_from_graph
        from twin.model.validate import validate

        return validate(raw_from_graph(graph), name)

    @classmethod
    def load(cls, path) -> "Line":
        """Load and validate a line file (YAML, JSON node-link or GraphML)."""
        from twin.model.load import load_line

        return load_line(path)

    def to_graph(self):
        """The line as a `networkx.DiGraph` with the raw attributes of SPEC §3."""
        from twin.model.load import graph_from_line

        return graph_from_line(self)
