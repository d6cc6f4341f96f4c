"""The only place that turns a validated `Line` into flat arrays for the fast kernel.

The kernel sees no Python objects: a :class:`CompiledLine` is a struct of
numpy arrays indexed by node (file order), edge (the position in the node's
out-list, CSR), product (line order), distribution (one shared table) and
failure mode (CSR per node). Every table says which *reference engine* notion
it encodes, so the kernel can mirror the reference decision for decision.

Examples
--------
>>> from twin.distributions import constant
>>> from twin.model.types import Edge, Line, Product, Release, Station
>>> line = Line("l", "", (Product("part", 1.0),),
...             (Station("src", "source", 1, release=Release()),
...              Station("m", "machine", 1, process_time={"part": constant(60.0)}),
...              Station("out", "sink", 0)),
...             (Edge("src", "m"), Edge("m", "out")))
>>> c = compile_line(line)
>>> c.kind.tolist(), c.out_target.tolist(), c.max_parts
([0, 1, 5], [1, 2], 2)
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from twin.accounting import measures
from twin.distributions import Dist
from twin.model.types import ASSEMBLY, BUFFER, CONVEYOR, MACHINE, SINK, SOURCE, Line
from twin.streams import StreamLayout, failure_purposes

#: node kind codes (`CompiledLine.kind`)
K_SOURCE, K_MACHINE, K_BUFFER, K_CONVEYOR, K_ASSEMBLY, K_SINK = range(6)
KIND_CODES = {SOURCE: K_SOURCE, MACHINE: K_MACHINE, BUFFER: K_BUFFER, CONVEYOR: K_CONVEYOR,
              ASSEMBLY: K_ASSEMBLY, SINK: K_SINK}
#: routing policy codes (`CompiledLine.route`)
R_ORDER, R_PROBABILITY, R_SHORTEST_QUEUE, R_ROUND_ROBIN = range(4)
ROUTE_CODES = {"order": R_ORDER, "probability": R_PROBABILITY,
               "shortest_queue": R_SHORTEST_QUEUE, "round_robin": R_ROUND_ROBIN}
#: failure basis codes (`CompiledLine.mode_basis`)
B_OPERATING, B_CALENDAR = range(2)
BASIS_CODES = {"operating": B_OPERATING, "calendar": B_CALENDAR}
#: the per-node stream purposes the kernel draws from (columns of `CompiledLine.stream`)
S_ARRIVAL, S_PRODUCT, S_PROCESS, S_SETUP, S_SCRAP, S_ROUTING, S_TOOL, S_LOAD, S_UNLOAD = range(9)
NODE_PURPOSES = ("arrival", "product", "process", "setup", "scrap", "routing", "tool", "load",
                 "unload")


@dataclass(frozen=True, eq=False)
class CompiledLine:
    """A line as flat arrays (struct of arrays). Built by :func:`compile_line` only.

    Distribution indices point into the table ``dist_code`` / ``dist_par`` /
    ``pool`` (``-1``: none); each row is ``Dist.encode()`` with an empirical
    distribution's values stored in the shared ``pool`` at offset ``dist_par[d, 0]``.
    """

    node_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    kind: np.ndarray  # int64 (nodes,)  K_* codes
    places: np.ndarray  # int64 (nodes,)  servers / capacity; 1 for sources, 0 for sinks
    measured: np.ndarray  # int64 (nodes,)  what the accounting measures (`accounting.measures`)
    route: np.ndarray  # int64 (nodes,)  R_* codes
    scrap: np.ndarray  # float64 (nodes,)
    # out-adjacency, CSR in edge (file) order: edges of node n are out_start[n]:out_start[n+1]
    out_start: np.ndarray  # int64 (nodes + 1,)
    out_target: np.ndarray  # int64 (edges,)
    out_p: np.ndarray  # float64 (edges,)  probability weight (0 when not given)
    out_admit: np.ndarray  # bool (edges, products)  the edge admits the product
    # in-adjacency, CSR in in-edge (file) order
    in_start: np.ndarray  # int64 (nodes + 1,)
    in_pred: np.ndarray  # int64 (in-edges,)  predecessor node
    in_pos: np.ndarray  # int64 (in-edges,)  position of the edge in the predecessor's out-list
    in_need: np.ndarray  # int64 (in-edges,)  assembly: parts of the kit from this in-edge, else 0
    kit_start: np.ndarray  # int64 (in-edges + 1,)  assembly: kit places of an in-edge, CSR
    output: np.ndarray  # int64 (nodes,)  assembly: product index it emits, else -1
    # distribution table
    dist_code: np.ndarray  # int64 (dists,)
    dist_par: np.ndarray  # float64 (dists, 3)
    pool: np.ndarray  # float64  empirical values of every empirical distribution
    process_dist: np.ndarray  # int64 (nodes, products)  machines: process time
    setup_dist: np.ndarray  # int64 (nodes, products, products)  from product x to product y
    travel_dist: np.ndarray  # int64 (nodes,)  conveyors
    arrival_dist: np.ndarray  # int64 (nodes,)  sources: interarrival, -1 saturated
    seq_start: np.ndarray  # int64 (nodes + 1,)  sources: release sequence, CSR
    seq_product: np.ndarray  # int64  product indices of the sequences
    mix_cum: np.ndarray  # float64 (products,)  `Line.mix_thresholds`
    tool_every: np.ndarray  # int64 (nodes,)  tool change after this many parts, -1 none
    tool_dist: np.ndarray  # int64 (nodes,)
    load_resource: np.ndarray  # int64 (nodes,)  resource index, -1 none
    load_dist: np.ndarray  # int64 (nodes,)
    unload_resource: np.ndarray  # int64 (nodes,)
    unload_dist: np.ndarray  # int64 (nodes,)
    resource_capacity: np.ndarray  # int64 (resources,)
    # planned downtime (`Line.calendar_of`): windows of node n are cal_off[cal_start[n]:cal_start[n+1]]
    cal_period: np.ndarray  # float64 (nodes,)
    cal_start: np.ndarray  # int64 (nodes + 1,)
    cal_off: np.ndarray  # float64 (windows, 2)  start, end within the period
    # failure modes, CSR per node in the order listed
    mode_start: np.ndarray  # int64 (nodes + 1,)
    mode_basis: np.ndarray  # int64 (modes,)  B_* codes
    mode_ttf: np.ndarray  # int64 (modes,)  dist index
    mode_ttr: np.ndarray  # int64 (modes,)  dist index
    mode_ttf_stream: np.ndarray  # int64 (modes,)
    mode_ttr_stream: np.ndarray  # int64 (modes,)
    # random streams (`StreamLayout.for_line`)
    stream: np.ndarray  # int64 (nodes, len(NODE_PURPOSES))
    stream_hashes: np.ndarray  # uint64 (streams,)
    cyclic: bool  # the line graph has a directed cycle (deadlock possible)
    max_parts: int  # parts alive at once at most: places of non-sink nodes and assembly kits

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    @property
    def n_modes(self) -> int:
        return int(self.mode_start[-1])


_cache: dict[int, tuple[weakref.ref, CompiledLine]] = {}


def compile_line(line: Line) -> CompiledLine:
    """The arrays of `line` (computed once per line object).

    Parameters
    ----------
    line : Line
        A validated line.

    Returns
    -------
    CompiledLine
    """
    hit = _cache.get(id(line))
    if hit is not None and hit[0]() is line:
        return hit[1]
    compiled = _compile(line)
    key = id(line)
    _cache[key] = (weakref.ref(line, lambda _ref: _cache.pop(key, None)), compiled)
    return compiled


class _DistTable:
    """Distinct distributions in order of first use; empirical values pooled."""

    def __init__(self):
        self.index: dict[Dist, int] = {}
        self.codes: list[int] = []
        self.params: list[tuple[float, float, float]] = []
        self.pool: list[float] = []

    def add(self, dist: Dist | None) -> int:
        if dist is None:
            return -1
        if dist not in self.index:
            code, (p0, p1, p2), values = dist.encode()
            if values:
                p0 = float(len(self.pool))  # offset of the values in the shared pool
                self.pool.extend(float(v) for v in values)
            self.index[dist] = len(self.codes)
            self.codes.append(code)
            self.params.append((p0, p1, p2))
        return self.index[dist]


def _csr(rows: list[list]) -> tuple[np.ndarray, list]:
    start = np.zeros(len(rows) + 1, np.int64)
    flat: list = []
    for n, row in enumerate(rows):
        flat.extend(row)
        start[n + 1] = len(flat)
    return start, flat


def _compile(line: Line) -> CompiledLine:
    stations = line.stations
    products = list(line.product_ids)
    n, n_prod = len(stations), len(products)
    table = _DistTable()
    layout = StreamLayout.for_line(line)

    out_rows = [list(line.out_edges(s.id)) for s in stations]
    out_start, out_edges = _csr(out_rows)
    out_admit = np.array([[e.admits(p) for p in products] for e in out_edges], bool)
    in_rows = [[(line.index(e.source), _position(out_rows[line.index(e.source)], e),
                 s.inputs.get(e.source, 0) if s.kind == ASSEMBLY else 0)
                for e in line.in_edges(s.id)] for s in stations]
    in_start, in_flat = _csr(in_rows)
    in_need = np.array([need for _, _, need in in_flat], np.int64)
    kit_start = np.zeros(len(in_flat) + 1, np.int64)
    kit_start[1:] = np.cumsum(in_need)
    resources = [r.id for r in line.resources]

    process_dist = np.full((n, n_prod), -1, np.int64)
    setup_dist = np.full((n, n_prod, n_prod), -1, np.int64)
    travel_dist = np.full(n, -1, np.int64)
    arrival_dist = np.full(n, -1, np.int64)
    tool_every = np.full(n, -1, np.int64)
    tool_dist = np.full(n, -1, np.int64)
    uses = np.full((n, 4), -1, np.int64)  # load resource, load dist, unload resource, unload dist
    cal_period = np.zeros(n, np.float64)
    seq_rows, mode_rows, cal_rows = [], [], []
    for i, s in enumerate(stations):
        if s.tool_change is not None:
            tool_every[i], tool_dist[i] = s.tool_change.every, table.add(s.tool_change.time)
        for j, use in enumerate((s.load, s.unload)):
            if use is not None:
                uses[i, 2 * j], uses[i, 2 * j + 1] = resources.index(use.resource), table.add(use.time)
        calendar = line.calendar_of(s)
        if calendar is not None:
            cal_period[i] = calendar.period
        cal_rows.append(list(calendar.off) if calendar is not None else [])
        for p, product in enumerate(products):
            process_dist[i, p] = table.add(s.process_time.get(product))
            for q, other in enumerate(products):
                setup_dist[i, p, q] = table.add(s.setup_between(product, other))
        travel_dist[i] = table.add(s.travel_time)
        if s.release is not None:
            arrival_dist[i] = table.add(s.release.interarrival)
        seq_rows.append([products.index(p) for p in s.release.sequence] if s.release else [])
        mode_rows.append([(BASIS_CODES[f.basis], table.add(f.ttf), table.add(f.ttr),
                           *(layout.index[(s.id, q)] for q in failure_purposes(f.name)))
                          for f in s.failures])
    seq_start, seq_flat = _csr(seq_rows)
    cal_start, cal_flat = _csr(cal_rows)
    mode_start, mode_flat = _csr(mode_rows)
    modes = np.array(mode_flat, np.int64).reshape(-1, 5)

    return CompiledLine(
        node_ids=tuple(s.id for s in stations), product_ids=tuple(products),
        kind=np.array([KIND_CODES[s.kind] for s in stations], np.int64),
        places=np.array([s.places for s in stations], np.int64),
        measured=measures(s.kind for s in stations),
        route=np.array([ROUTE_CODES[s.route] for s in stations], np.int64),
        scrap=np.array([s.scrap for s in stations], np.float64),
        out_start=out_start,
        out_target=np.array([line.index(e.target) for e in out_edges], np.int64),
        out_p=np.array([0.0 if e.p is None else e.p for e in out_edges], np.float64),
        out_admit=out_admit.reshape(len(out_edges), n_prod),
        in_start=in_start,
        in_pred=np.array([pred for pred, _, _ in in_flat], np.int64),
        in_pos=np.array([pos for _, pos, _ in in_flat], np.int64),
        in_need=in_need, kit_start=kit_start,
        output=np.array([products.index(s.output) if s.kind == ASSEMBLY else -1 for s in stations],
                        np.int64),
        dist_code=np.array(table.codes, np.int64),
        dist_par=np.array(table.params, np.float64).reshape(-1, 3),
        pool=np.array(table.pool or [0.0], np.float64),
        process_dist=process_dist, setup_dist=setup_dist, travel_dist=travel_dist,
        arrival_dist=arrival_dist, seq_start=seq_start, seq_product=np.array(seq_flat, np.int64),
        mix_cum=np.asarray(line.mix_thresholds(), np.float64),
        tool_every=tool_every, tool_dist=tool_dist,
        load_resource=uses[:, 0].copy(), load_dist=uses[:, 1].copy(),
        unload_resource=uses[:, 2].copy(), unload_dist=uses[:, 3].copy(),
        resource_capacity=np.array([r.capacity for r in line.resources], np.int64),
        cal_period=cal_period, cal_start=cal_start,
        cal_off=np.array(cal_flat, np.float64).reshape(-1, 2),
        mode_start=mode_start, mode_basis=modes[:, 0].copy(), mode_ttf=modes[:, 1].copy(),
        mode_ttr=modes[:, 2].copy(), mode_ttf_stream=modes[:, 3].copy(),
        mode_ttr_stream=modes[:, 4].copy(),
        stream=np.array([[layout.index[(s.id, q)] for q in NODE_PURPOSES] for s in stations],
                        np.int64).reshape(n, len(NODE_PURPOSES)),
        stream_hashes=layout.hashes,
        cyclic=_has_cycle(line),
        max_parts=int(sum(s.places for s in stations if s.kind != SINK) + in_need.sum()),
    )


def _position(edges: list, edge) -> int:
    return next(k for k, e in enumerate(edges) if e is edge)


def _has_cycle(line: Line) -> bool:
    """Whether the edges form a directed cycle (the same test as the reference engine)."""
    import networkx as nx

    graph = nx.DiGraph((e.source, e.target) for e in line.edges)
    return not nx.is_directed_acyclic_graph(graph)
