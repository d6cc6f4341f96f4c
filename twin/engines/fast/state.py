"""The fast kernel's data: the compiled line as the kernel reads it, and one replication's state.

Both are named tuples of a few numpy tables, allocated here, in Python; the
jitted kernel (:mod:`twin.engines.fast.kernel`) never allocates. Numba passes
a named tuple by value, seven or nine machine words per array, so the
compiled line's many arrays are packed into a few tables with named columns
(``L.node[n, N_PLACES]``) and the state likewise (``S.part_i[p, PI_TOKEN]``):
calls stay cheap and the kernel compiles in reasonable time.

State layout:

* parts live in preallocated *slots* of ``part_i`` / ``part_f`` (free slots
  are chained through ``PI_NEXT_FREE``); ``PF_READY`` is NaN while a part may
  not leave (the reference's ``ready_since is None``);
* each node owns ``places`` *cells* from ``L.node[n, N_CELL]``: the servers
  of a machine or assembly, or the FIFO ring (head ``NI_FIFO_HEAD``, length
  ``NI_OCCUPIED``) of a source, buffer or conveyor;
* an assembly's kit holds, per in-edge r, up to ``L.in_edge[r, IE_NEED]``
  parts in ``kit`` from ``L.in_edge[r, IE_KIT]`` (count ``kit_len[r]``);
* a resource's FIFO of requests is the row ``res[r, RS_QUEUE:]`` of
  (node, server) pairs, ``RS_QUEUE_LEN`` pairs long;
* scalars are cells of ``ints`` / ``floats`` (``I_*`` / ``F_*``);
* lead times, exit times and the trace are preallocated; between two events
  the kernel asks for more room (``NEED_ROOM``) and :func:`grow` doubles them.

The tables the kernel reads on every event are column-major (Fortran order):
their columns are literal constants, so the offset of a column is computed
once per run and an access costs an addition, where a row-major access
multiplies the row by the run-time row length (about 6 % of the kernel's
time on `lines/bench_10.yaml`). Each has at least two rows (`MIN_ROWS`):
a table of one row, or none, is also row-major, numba would type it so and
compile another kernel for that line, outside the settings of
:mod:`.codegen` (about five times slower).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from twin import accounting as acc
from twin.compile import (
    K_BUFFER, K_MACHINE, K_SINK, K_SOURCE, NODE_PURPOSES, R_ORDER, CompiledLine,
)
from twin.engines.fast import events as evl
from twin.engines.fast.codegen import JIT

# columns of LineArrays.node
(N_KIND, N_PLACES, N_ROUTE, N_OUT, N_OUT_END, N_IN, N_IN_END, N_MODE, N_MODE_END, N_SEQ, N_SEQ_END,
 N_CAL, N_CAL_END, N_CELL, N_TRAVEL, N_ARRIVAL, N_TOOL_EVERY, N_TOOL, N_LOAD_RES, N_LOAD,
 N_UNLOAD_RES, N_UNLOAD, N_OUTPUT, N_STREAM) = range(24)
N_NODE_COLUMNS = N_STREAM + len(NODE_PURPOSES)  # the stream of purpose s is column N_STREAM + s
# columns of LineArrays.node_f, .in_edge, .dist, .mode
NF_SCRAP, NF_CAL_PERIOD = range(2)
IE_PRED, IE_POS, IE_NEED, IE_KIT = range(4)
D_CODE, D_P0, D_P1, D_P2 = range(4)
MO_BASIS, MO_TTF, MO_TTR, MO_TTF_STREAM, MO_TTR_STREAM = range(5)

# columns of State.part_i, .part_f, .cell, .node_i, .mode_i, .mode_f, .res, .inj_f
PI_ID, PI_PRODUCT, PI_TARGET, PI_SERVER, PI_TOKEN, PI_EVENT, PI_TRAVELING, PI_NEXT_FREE = range(8)
PF_RELEASED, PF_READY, PF_DUE, PF_REMAINING = range(4)
CE_PART, CE_PHASE, CE_LAST, CE_TOOL = range(4)
(NI_FIFO_HEAD, NI_OCCUPIED, NI_HALTS, NI_RR, NI_PROCESSING, NI_SEQ_POS, NI_CAL_CYCLE,
 NI_CAL_WINDOW) = range(8)  # NI_HALTS: causes of halting (failures, injections, off windows)
MI_RUNNING, MI_TOKEN, MI_EVENT = range(3)
MF_REMAINING, MF_DUE = range(2)
RS_IN_USE, RS_QUEUE_LEN, RS_QUEUE = range(3)
IF_AT, IF_FOR = range(2)
# machine / assembly server phases (the reference's phase names)
(PH_NONE, PH_WAIT_LOAD, PH_LOAD, PH_SETUP, PH_WORKING, PH_WAIT_UNLOAD, PH_UNLOAD,
 PH_DONE) = (np.int64(i) for i in range(8))  # int64, not literal: see kernel._codes
# cells of State.ints
(I_WIP, I_RELEASED, I_FINISHED, I_COMPLETED, I_SCRAPPED, I_NEXT_ID, I_TOKEN, I_EVENTS, I_BLOCKED,
 I_AG_LEN, I_N_LEAD, I_N_EXITS, I_N_TRACE, I_TRACE_ON, I_EXITS_ON, I_FREE_PART,
 I_DEADLOCK, I_ERROR, I_STARTED, I_PAUSE_AT) = range(20)
N_INTS = 20
# cells of State.floats
F_NOW, F_W_START, F_W_END, F_DEADLOCK_TIME = range(4)


class LineArrays(NamedTuple):
    """A `twin.compile.CompiledLine` as the kernel reads it (see :func:`line_arrays`)."""

    node: np.ndarray  # int64 (nodes, N_NODE_COLUMNS)
    node_f: np.ndarray  # float64 (nodes, 2)
    places: np.ndarray  # int64 (nodes,)  (its own array: `accounting.touch` takes it)
    measured: np.ndarray  # int64 (nodes,)  (likewise)
    out_target: np.ndarray
    out_p: np.ndarray
    out_admit: np.ndarray
    in_edge: np.ndarray  # int64 (in-edges, 4)
    dist: np.ndarray  # float64 (dists, 4): code, p0, p1, p2
    pool: np.ndarray
    process_dist: np.ndarray
    setup_dist: np.ndarray
    seq_product: np.ndarray
    mix_cum: np.ndarray
    cal_off: np.ndarray
    mode: np.ndarray  # int64 (modes, 5)
    resource_capacity: np.ndarray
    stream_hashes: np.ndarray
    variant: np.ndarray  # empty; its number of dimensions is the kernel variant (`is_plain`)
    cyclic: bool
    max_parts: int


#: rows of a column-major table at least (see the module docstring)
MIN_ROWS = 2


def _column_major(table: np.ndarray) -> np.ndarray:
    """`table` in Fortran order, padded with rows of zeros (never read) to `MIN_ROWS` rows."""
    padding = np.zeros((max(MIN_ROWS - table.shape[0], 0), table.shape[1]), table.dtype)
    return np.asfortranarray(np.concatenate([table, padding]))


def is_plain(c: CompiledLine) -> bool:
    """Whether the line is *plain*: one product released by its sources; sources, machines
    of one server, buffers and sinks only; routing `order`; no setups, tool changes, load
    or unload resources, scrap, planned downtime or cycles (failures, arrivals and
    injections are all allowed; a run that records the trace or the exit times takes the
    general variant, see `twin.engines.fast._arrays`).

    The kernel is compiled once for plain lines and once for the others: the variant is
    the number of dimensions of ``LineArrays.variant`` (1: plain, 2: general), part of the
    arrays' numba type, so in the plain kernel every test of `kernel.general` is the
    constant False and LLVM drops the branches a plain line never takes.
    """
    return bool(
        len(c.product_ids) == 1
        and np.isin(c.kind, (K_SOURCE, K_MACHINE, K_BUFFER, K_SINK)).all()
        and (c.places[c.kind == K_MACHINE] == 1).all()
        and (c.route == R_ORDER).all()
        and (c.setup_dist < 0).all() and (c.tool_every < 0).all()
        and (c.load_resource < 0).all() and (c.unload_resource < 0).all()
        and (c.scrap == 0.0).all() and len(c.cal_off) == 0 and not c.cyclic)


def line_arrays(c: CompiledLine, plain: bool | None = None) -> LineArrays:
    """Pack a compiled line's per-node, per-in-edge, per-distribution and per-mode arrays
    (`plain`: the kernel variant, by default `is_plain`; a plain line runs on either, others
    only on the general one)."""
    plain = is_plain(c) if plain is None else plain
    n = c.n_nodes
    cell_start = np.zeros(n + 1, np.int64)
    cell_start[1:] = np.cumsum(np.where(c.kind == K_SINK, 0, c.places))
    columns = {
        N_KIND: c.kind, N_PLACES: c.places, N_ROUTE: c.route, N_OUT: c.out_start[:-1],
        N_OUT_END: c.out_start[1:], N_IN: c.in_start[:-1], N_IN_END: c.in_start[1:],
        N_MODE: c.mode_start[:-1], N_MODE_END: c.mode_start[1:], N_SEQ: c.seq_start[:-1],
        N_SEQ_END: c.seq_start[1:], N_CAL: c.cal_start[:-1], N_CAL_END: c.cal_start[1:],
        N_CELL: cell_start[:-1], N_TRAVEL: c.travel_dist, N_ARRIVAL: c.arrival_dist,
        N_TOOL_EVERY: c.tool_every, N_TOOL: c.tool_dist, N_LOAD_RES: c.load_resource,
        N_LOAD: c.load_dist, N_UNLOAD_RES: c.unload_resource, N_UNLOAD: c.unload_dist,
        N_OUTPUT: c.output}
    node = np.zeros((n, N_NODE_COLUMNS), np.int64)
    for column, values in columns.items():
        node[:, column] = values
    node[:, N_STREAM:] = c.stream
    F = _column_major  # see the module docstring
    return LineArrays(
        node=F(node), node_f=F(np.stack([c.scrap, c.cal_period], axis=1).reshape(n, 2)),
        places=c.places, measured=c.measured, out_target=c.out_target, out_p=c.out_p, out_admit=c.out_admit,
        in_edge=F(np.stack([c.in_pred, c.in_pos, c.in_need, c.kit_start[:-1]], axis=1).reshape(-1, 4)),
        dist=np.column_stack([c.dist_code.astype(np.float64), c.dist_par]).reshape(-1, 4),
        pool=c.pool, process_dist=c.process_dist, setup_dist=c.setup_dist,
        seq_product=c.seq_product, mix_cum=c.mix_cum, cal_off=c.cal_off,
        mode=np.stack([c.mode_basis, c.mode_ttf, c.mode_ttr, c.mode_ttf_stream, c.mode_ttr_stream],
                      axis=1).reshape(-1, 5),
        resource_capacity=c.resource_capacity, stream_hashes=c.stream_hashes,
        variant=np.zeros((0,) * (1 if plain else 2)), cyclic=c.cyclic, max_parts=c.max_parts)


class State(NamedTuple):
    """Run-time state of one replication (see the module docstring)."""

    part_i: np.ndarray  # int64 (parts, 8)
    part_f: np.ndarray  # float64 (parts, 4)
    cell: np.ndarray  # int64 (cells, 4)
    node_i: np.ndarray  # int64 (nodes, 8)
    mode_i: np.ndarray  # int64 (modes, 3)
    mode_f: np.ndarray  # float64 (modes, 2)
    kit: np.ndarray  # int64: parts in assembly kits
    kit_len: np.ndarray  # int64 (in-edges,)
    res: np.ndarray  # int64 (resources, RS_QUEUE + 2 * cells)
    inj_f: np.ndarray  # float64 (injections, 2): start, duration
    inj_node: np.ndarray  # int64 (injections, 1 + nodes): count, then the stations
    agenda: np.ndarray  # int64 node * 2 + check, the current event's checks
    scratch: np.ndarray  # int64: a node's ready parts, oldest first
    stuck: np.ndarray  # bool (nodes,): the deadlocked nodes
    ns: np.ndarray  # accounting counts
    nt: np.ndarray  # accounting times
    la: np.ndarray  # accounting line accumulators
    produced: np.ndarray  # int64 (nodes, products)
    scrapped_at: np.ndarray  # int64 (nodes,)
    keys: np.ndarray  # uint64 (streams,)
    counters: np.ndarray  # uint64 (streams,)
    ints: np.ndarray  # int64 (N_INTS,)
    floats: np.ndarray  # float64 (4,)
    lead: np.ndarray  # the first ints[I_N_LEAD] are lead times
    exits: np.ndarray  # the first ints[I_N_EXITS] are sink arrival times
    trace_time: np.ndarray  # the first ints[I_N_TRACE] rows are the trace
    trace_data: np.ndarray  # int64 (rows, 5): event code, part id, product, node, server
    ev: evl.EventList


def new_state(L: LineArrays, w_start: float, w_end: float,
              injections: list[tuple[float, float, list[int]]], trace: bool, exits: bool,
              agenda_capacity: int, trace_capacity: int) -> State:
    """A fresh state for one replication; `injections` are (at, down_for, node indices)."""
    n_nodes, n_modes = L.node.shape[0], L.mode.shape[0]
    n_modes = max(n_modes, MIN_ROWS)  # column-major tables: see the module docstring
    n_parts = max(L.max_parts, MIN_ROWS)
    n_cells = max(int(np.where(L.node[:, N_KIND] == K_SINK, 0, L.places).sum()), MIN_ROWS)
    part_i = np.full((n_parts, 8), -1, np.int64, order="F")
    part_i[:, PI_NEXT_FREE] = np.arange(1, n_parts + 1)
    part_i[-1, PI_NEXT_FREE] = -1
    cell = np.zeros((n_cells, 4), np.int64, order="F")
    cell[:, CE_PART] = cell[:, CE_LAST] = -1
    mode_i = np.zeros((n_modes, 3), np.int64, order="F")
    mode_i[:, MI_EVENT] = -1
    inj_node = np.zeros((len(injections), 1 + n_nodes), np.int64)
    for k, (_, _, nodes) in enumerate(injections):
        inj_node[k, 0] = len(nodes)
        inj_node[k, 1:1 + len(nodes)] = nodes
    ns, nt, la = acc.new_arrays(n_nodes, order="F")
    ints = np.zeros(N_INTS, np.int64)
    ints[I_FREE_PART] = 0
    ints[I_TRACE_ON] = int(trace)
    ints[I_EXITS_ON] = int(exits)
    n_trace = trace_capacity if trace else 1
    room = max(1024, 2 * n_parts)
    return State(
        part_i=part_i, part_f=np.full((n_parts, 4), np.nan, order="F"), cell=cell,
        node_i=np.zeros((n_nodes, 8), np.int64, order="F"), mode_i=mode_i,
        mode_f=np.full((n_modes, 2), np.nan, order="F"),
        kit=np.full(max(int(L.in_edge[:, IE_NEED].sum()), 1), -1, np.int64),
        kit_len=np.zeros(L.in_edge.shape[0], np.int64),
        res=np.zeros((L.resource_capacity.shape[0], RS_QUEUE + 2 * n_cells), np.int64),
        inj_f=np.array([(at, down_for) for at, down_for, _ in injections], np.float64).reshape(-1, 2),
        inj_node=inj_node,
        agenda=np.zeros(agenda_capacity, np.int64),
        scratch=np.zeros(max(int(L.places.max(initial=1)), 1), np.int64),
        stuck=np.zeros(n_nodes, np.bool_),
        ns=ns, nt=nt, la=la, produced=np.zeros((n_nodes, L.mix_cum.shape[0]), np.int64),
        scrapped_at=np.zeros(n_nodes, np.int64),
        keys=np.zeros(L.stream_hashes.shape[0], np.uint64),
        counters=np.zeros(L.stream_hashes.shape[0], np.uint64),
        ints=ints, floats=np.array([0.0, w_start, w_end, np.nan], np.float64),
        lead=np.empty(room, np.float64), exits=np.empty(room if exits else 1, np.float64),
        trace_time=np.empty(n_trace, np.float64), trace_data=np.empty((n_trace, 5), np.int64),
        ev=evl.new_event_list(n_parts + n_modes + 2 * n_nodes + len(injections) + 8))


@njit(**JIT)
def lacks_room(S: State) -> tuple[bool, bool, bool]:
    """Whether the next event might not find room for lead times, exit times, trace rows.

    One event ends at most one part per live part (sink, scrap, assembly); its
    trace rows are unbounded in principle, so the trace keeps half its room
    free, and a run that still overflows is repeated with more (`ERR_TRACE_FULL`).
    """
    margin = S.part_i.shape[0] + 1
    return (S.ints[I_N_LEAD] + margin > S.lead.shape[0],
            S.ints[I_EXITS_ON] != 0 and S.ints[I_N_EXITS] + margin > S.exits.shape[0],
            S.ints[I_TRACE_ON] != 0 and 2 * S.ints[I_N_TRACE] > S.trace_time.shape[0])


def grow(S: State) -> State:
    """The state with the arrays that lack room doubled (after ``NEED_ROOM``)."""
    lead, exits, trace = lacks_room(S)
    changes = {}
    if lead:
        changes["lead"] = _doubled(S.lead, S.ints[I_N_LEAD])
    if exits:
        changes["exits"] = _doubled(S.exits, S.ints[I_N_EXITS])
    if trace:
        changes["trace_time"] = _doubled(S.trace_time, S.ints[I_N_TRACE])
        changes["trace_data"] = _doubled(S.trace_data, S.ints[I_N_TRACE])
    return S._replace(**changes)


def _doubled(array: np.ndarray, used: int) -> np.ndarray:
    bigger = np.empty((2 * array.shape[0],) + array.shape[1:], array.dtype)
    bigger[:used] = array[:used]
    return bigger
