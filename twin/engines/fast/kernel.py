"""The fast engine's discrete-event kernel: one replication over flat arrays, jitted.

This module mirrors ``twin/engines/reference.py`` function for function (same
names, same order of sections), on the tables of :mod:`.state` instead of
objects, so both engines take every decision in the same order and draw the
same random numbers:

* the event list (:mod:`.events`) orders events by (time, scheduling
  sequence), like SimPy; a stale event (its owner's token moved on) is
  ignored when it comes up, as in the reference;
* consequences inside one event go on the *agenda*, a FIFO list of
  ``TRY_OUT`` / ``TRY_IN`` node checks, appended where the reference appends
  them and worked off before the next event;
* every draw goes through the shared jitted :func:`twin.streams.uniform` and
  :func:`twin.distributions.sample`, every state-time credit through
  :mod:`twin.accounting`, with the reference's arguments in the reference's
  order; so the results are bit-identical.

``L`` is the line (:class:`.state.LineArrays`), ``S`` the state
(:class:`.state.State`), ``n`` a node, ``p`` a part slot, ``r`` an in-edge.
The entry point is :func:`run_kernel`.

Compilation. Every function is jitted with ``cache=True`` and without
reference counting (``_nrt=False``: nothing here allocates, and with it every
call would pay two atomic operations per array of the state). Small helpers
(``SMALL``) and functions called from one place (``ONCE``) are inlined by
numba; the others (``JIT``) are compiled once each, then inlined by LLVM into
:func:`run_kernel` (see ``twin.engines.fast._run_kernel``). Constants passed
as arguments are int64 values (``_codes``, ``NONE``): numba compiles a
function anew for each *literal* argument value it is called with.

Variants. Every function is compiled twice, for the two types the line's
arrays can have (`state.is_plain`); in the plain variant :func:`general` is
the constant False, and the branches for the other features are compiled out.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from twin import accounting as acc
from twin.compile import (
    B_CALENDAR, K_ASSEMBLY, K_BUFFER, K_CONVEYOR, K_MACHINE, K_SINK, K_SOURCE, R_ORDER,
    R_PROBABILITY, R_ROUND_ROBIN, R_SHORTEST_QUEUE, S_ARRIVAL, S_LOAD, S_PROCESS, S_PRODUCT,
    S_ROUTING, S_SCRAP, S_SETUP, S_TOOL, S_UNLOAD,
)
from twin.distributions import sample
from twin.engines.fast import events as evl
from twin.engines.fast.codegen import JIT
from twin.engines.fast.state import (
    CE_LAST, CE_PART, CE_PHASE, CE_TOOL, D_CODE, D_P0, D_P1, D_P2, F_DEADLOCK_TIME, F_NOW, F_W_END,
    F_W_START, I_AG_LEN, I_BLOCKED, I_COMPLETED, I_DEADLOCK, I_ERROR, I_EVENTS, I_EXITS_ON,
    I_FINISHED, I_FREE_PART, I_N_EXITS, I_N_LEAD, I_N_TRACE, I_NEXT_ID, I_PAUSE_AT, I_RELEASED,
    I_SCRAPPED, I_STARTED, I_TOKEN, I_TRACE_ON, I_WIP, IE_KIT, IE_NEED, IE_POS, IE_PRED, IF_AT, IF_FOR,
    MF_DUE, MF_REMAINING, MI_EVENT, MI_RUNNING, MI_TOKEN, MO_BASIS, MO_TTF, MO_TTF_STREAM, MO_TTR,
    MO_TTR_STREAM, N_ARRIVAL, N_CAL, N_CAL_END, N_CELL, N_IN, N_IN_END, N_KIND, N_LOAD, N_LOAD_RES,
    N_MODE, N_MODE_END, N_OUT, N_OUT_END, N_OUTPUT, N_ROUTE, N_SEQ, N_SEQ_END, N_STREAM,
    N_TOOL, N_TOOL_EVERY, N_TRAVEL, N_UNLOAD, N_UNLOAD_RES, NF_CAL_PERIOD, NF_SCRAP, NI_CAL_CYCLE,
    NI_CAL_WINDOW, NI_FIFO_HEAD, NI_HALTS, NI_OCCUPIED, NI_PROCESSING, NI_RR, NI_SEQ_POS,
    PF_DUE, PF_READY, PF_RELEASED, PF_REMAINING, PH_DONE, PH_LOAD, PH_NONE, PH_SETUP, PH_UNLOAD,
    PH_WAIT_LOAD, PH_WAIT_UNLOAD, PH_WORKING, PI_EVENT, PI_ID, PI_NEXT_FREE, PI_PRODUCT, PI_SERVER,
    PI_TARGET, PI_TOKEN, PI_TRAVELING, RS_IN_USE, RS_QUEUE, RS_QUEUE_LEN, lacks_room,
)
from twin.streams import replication_keys, uniform

#: compile options (see the module docstring)
SMALL = {**JIT, "inline": "always"}
ONCE = SMALL  # the same options; the name says why the function is inlined


def _codes(n: int) -> tuple[np.int64, ...]:
    """Enumerated constants typed int64: numba compiles a function once per *literal* argument
    value it is called with, and a plain int constant is a literal."""
    return tuple(np.int64(i) for i in range(n))


#: "no part", "no server", "no node", "no event" as an argument; the token of an event that
#: cannot go stale
NONE, NO_TOKEN = np.int64(-1), np.int64(0)
#: set_halt's columns and directions
DOWN, OFF = np.int64(acc.C_DOWN), np.int64(acc.C_OFF)
HALT, UNHALT = np.int64(1), np.int64(-1)

# event kinds (the reference's handlers); the part timers are E_LOAD_END .. E_TRAVEL_END
(E_CREATE, E_LOAD_END, E_SETUP_END, E_PROCESS_END, E_UNLOAD_END, E_TRAVEL_END, E_FAIL, E_REPAIR,
 E_INJECT, E_INJECT_END, E_CALENDAR_OFF, E_CALENDAR_ON) = _codes(12)
# agenda entries are node * 2 + check
TRY_OUT, TRY_IN = _codes(2)
# trace event codes; TRACE_EVENTS[code] is the reference's name
TRACE_EVENTS = ("create", "enter", "setup", "start", "done", "scrap", "exit", "fail", "repair",
                "deadlock", "ready", "down", "up", "off", "on", "load", "unload", "assemble")
(T_CREATE, T_ENTER, T_SETUP, T_START, T_DONE, T_SCRAP, T_EXIT, T_FAIL, T_REPAIR, T_DEADLOCK,
 T_READY, T_DOWN, T_UP, T_OFF, T_ON, T_LOAD, T_UNLOAD, T_ASSEMBLE) = _codes(18)
# what run_kernel returns
DONE, NEED_ROOM, FAILED, PAUSED = range(4)
# ints[I_ERROR]: why a run stopped early (its result is void); ERR_PAUSE is no error: `fire` ends
# the event loop with it after ints[I_PAUSE_AT] events (the loop tests I_ERROR anyway)
ERR_NONE, ERR_AGENDA_FULL, ERR_TRACE_FULL, ERR_NO_EDGE, ERR_CAPACITY, ERR_PAUSE = range(6)
#: free places of a sink for shortest_queue (SPEC §3.6.7: unlimited)
UNLIMITED = 1 << 62


# ---------------------------------------------------------------------- plumbing
@njit(**SMALL)
def draw(L, S, d, s):
    """A draw of distribution `d` (a row of the line's table) from stream `s`."""
    return sample(int(L.dist[d, D_CODE]), L.dist[d, D_P0], L.dist[d, D_P1], L.dist[d, D_P2], L.pool,
                  S.keys, S.counters, s)


@njit(**SMALL)
def stream(L, n, purpose):
    """Node n's stream for `purpose` (the `twin.compile.S_*` codes)."""
    return L.node[n, N_STREAM + purpose]


@njit(**SMALL)
def new_token(S):
    """A fresh token, unique in the run, for the event about to be scheduled."""
    S.ints[I_TOKEN] += 1
    return S.ints[I_TOKEN]


@njit(**SMALL)
def schedule(S, delay, kind, n, arg, token, stale):
    """Schedule an event `delay` seconds from now; returns its slot.

    `stale` is the slot of the owner's pending stale event, or -1: that slot is
    reused (`events.reschedule`), the same as leaving it and pushing anew.
    """
    if stale < 0 and evl.full(S.ev):  # cannot happen: one slot per owner
        S.ints[I_ERROR] = ERR_CAPACITY
        return NONE
    return evl.reschedule(S.ev, stale, S.floats[F_NOW] + delay, kind, n, arg, token)


@njit(**SMALL)
def in_window(S):
    return acc.in_window(S.floats[F_NOW], S.floats[F_W_START], S.floats[F_W_END])


@njit(**SMALL)
def touch(L, S, n):
    acc.touch(S.ns, S.nt, L.places, L.measured, n, S.floats[F_NOW], S.floats[F_W_START],
              S.floats[F_W_END], general(L))


@njit(**SMALL)
def touch_line(S):
    acc.touch_line(S.la, S.ints[I_WIP], S.floats[F_NOW], S.floats[F_W_START], S.floats[F_W_END])


@njit(**SMALL)
def count(S, n, column, delta):
    S.ns[n, column] += delta


@njit(**SMALL)
def wrap(i, size):
    """i modulo `size` for 0 <= i < 2 * size (the ring buffers' index; no division)."""
    return i - size if i >= size else i


@njit(**SMALL)
def append_agenda(S, check, n):
    """Append a node check to this event's agenda (a plain list: it is emptied after every
    event, so it needs no ring)."""
    size = S.ints[I_AG_LEN]
    if size == S.agenda.shape[0]:
        S.ints[I_ERROR] = ERR_AGENDA_FULL
        return
    S.agenda[size] = n * 2 + check
    S.ints[I_AG_LEN] = size + 1


@njit(**SMALL)
def record(L, S, code, p, n, server):
    """Append a trace row (time, event, part id, product, node, server) if tracing (never in
    the plain variant: a traced run takes the general one)."""
    if not general(L) or S.ints[I_TRACE_ON] == 0:
        return
    i = S.ints[I_N_TRACE]
    if i == S.trace_time.shape[0]:  # one event wrote half the room: run again with more
        S.ints[I_ERROR] = ERR_TRACE_FULL
        return
    S.trace_time[i] = S.floats[F_NOW]
    S.trace_data[i, 0] = code
    S.trace_data[i, 1] = -1 if p < 0 else S.part_i[p, PI_ID]
    S.trace_data[i, 2] = -1 if p < 0 else S.part_i[p, PI_PRODUCT]
    S.trace_data[i, 3] = n
    S.trace_data[i, 4] = server
    S.ints[I_N_TRACE] = i + 1


@njit(**SMALL)
def halted(S, n):
    """Down (failure or injection) or off (planned downtime): nothing enters or leaves."""
    return S.node_i[n, NI_HALTS] > 0


@njit(**SMALL)
def general(L):
    """False in the kernel compiled for plain lines (`state.is_plain`): a constant, so the
    branches only other lines take are compiled out of it."""
    return L.variant.ndim == 2


@njit(**SMALL)
def servers(L, n):
    """The servers of machine or assembly n: one on a plain line (`state.is_plain`)."""
    return 1 if not general(L) else L.places[n]


@njit(**SMALL)
def has_servers(L, n):
    return L.node[n, N_KIND] == K_MACHINE or (general(L) and L.node[n, N_KIND] == K_ASSEMBLY)


# ---------------------------------------------------------------------- parts, FIFOs, servers
@njit(**SMALL)
def new_part(S, product):
    """A part in a free slot, with the next part id."""
    p = S.ints[I_FREE_PART]
    if p < 0:  # cannot happen: every live part holds a place or a kit place
        S.ints[I_ERROR] = ERR_CAPACITY
        return NONE
    S.ints[I_FREE_PART] = S.part_i[p, PI_NEXT_FREE]
    S.part_i[p, PI_ID] = S.ints[I_NEXT_ID]
    S.ints[I_NEXT_ID] += 1
    S.part_i[p, PI_PRODUCT] = product
    S.part_i[p, PI_TARGET] = -1
    S.part_i[p, PI_SERVER] = -1
    S.part_i[p, PI_TOKEN] = 0
    S.part_i[p, PI_EVENT] = -1
    S.part_i[p, PI_TRAVELING] = 0
    for column in range(S.part_f.shape[1]):
        S.part_f[p, column] = math.nan
    return p


@njit(**SMALL)
def free_part(S, p):
    S.part_i[p, PI_NEXT_FREE] = S.ints[I_FREE_PART]
    S.ints[I_FREE_PART] = p


@njit(**SMALL)
def is_ready(S, p):
    return not math.isnan(S.part_f[p, PF_READY])


@njit(**SMALL)
def fifo_at(L, S, n, k):
    """The k-th part of node n's FIFO (0: head)."""
    return S.cell[L.node[n, N_CELL] + wrap(S.node_i[n, NI_FIFO_HEAD] + k, L.places[n]), CE_PART]


@njit(**SMALL)
def fifo_head(L, S, n):
    """The head of node n's FIFO (`fifo_at` 0, without the ring arithmetic)."""
    return S.cell[L.node[n, N_CELL] + S.node_i[n, NI_FIFO_HEAD], CE_PART]


@njit(**SMALL)
def fifo_append(L, S, n, p):
    tail = wrap(S.node_i[n, NI_FIFO_HEAD] + S.node_i[n, NI_OCCUPIED], L.places[n])
    S.cell[L.node[n, N_CELL] + tail, CE_PART] = p
    S.node_i[n, NI_OCCUPIED] += 1


@njit(**SMALL)
def fifo_popleft(L, S, n):
    S.cell[L.node[n, N_CELL] + S.node_i[n, NI_FIFO_HEAD], CE_PART] = -1
    S.node_i[n, NI_FIFO_HEAD] = wrap(S.node_i[n, NI_FIFO_HEAD] + 1, L.places[n])
    S.node_i[n, NI_OCCUPIED] -= 1


@njit(**SMALL)
def server_cell(L, n, server):
    return L.node[n, N_CELL] + server


@njit(**SMALL)
def free_server(L, S, n):
    """The lowest free server of n (SPEC §3.6.14), -1 if none."""
    for k in range(servers(L, n)):
        if S.cell[server_cell(L, n, k), CE_PART] < 0:
            return k
    return NONE


@njit(**SMALL)
def input_rank(L, n, pred):
    """The first in-edge of n from `pred` (a row of `L.in_edge`)."""
    r = L.node[n, N_IN]
    while L.in_edge[r, IE_PRED] != pred:
        r += 1
    return r


# ---------------------------------------------------------------------- run
@njit(**JIT)
def run_kernel(L, S, seed_key, replication):
    """Simulate one replication from its state (fresh, or after ``NEED_ROOM``).

    Returns ``DONE`` (the window is over or a deadlock stopped the run; state
    times are closed), ``NEED_ROOM`` (call `state.grow`, then this again),
    ``PAUSED`` (``ints[I_PAUSE_AT]`` events are done: call this again) or
    ``FAILED`` (``ints[I_ERROR]`` says why; after ``ERR_AGENDA_FULL`` or
    ``ERR_TRACE_FULL`` run again from scratch with more room).
    """
    if S.ints[I_STARTED] == 0:
        S.ints[I_STARTED] = 1
        start(L, S, seed_key, replication)
    ev = S.ev
    w_end = S.floats[F_W_END]
    while S.ints[I_DEADLOCK] == 0 and S.ints[I_ERROR] == ERR_NONE:
        if evl.peek_time(ev) > w_end:
            break
        lead, exits, trace = lacks_room(S)
        if lead or (general(L) and (exits or trace)):  # the plain variant records neither
            return NEED_ROOM
        slot = evl.take(ev)
        S.floats[F_NOW] = ev.time[slot]
        kind, arg = ev.data[slot, evl.EV_KIND], ev.data[slot, evl.EV_ARG]
        if kind == E_FAIL:  # the owner's event is no longer pending
            if S.mode_i[arg, MI_EVENT] == slot:
                S.mode_i[arg, MI_EVENT] = -1
        elif E_LOAD_END <= kind <= E_TRAVEL_END:
            if S.part_i[arg, PI_EVENT] == slot:
                S.part_i[arg, PI_EVENT] = -1
        fire(L, S, kind, ev.data[slot, evl.EV_NODE], arg, ev.data[slot, evl.EV_TOKEN])
        evl.drop(ev)
    if S.ints[I_ERROR] == ERR_PAUSE:
        S.ints[I_ERROR] = ERR_NONE
        return PAUSED
    if S.ints[I_ERROR] != ERR_NONE:
        return FAILED
    acc.close(S.ns, S.nt, S.la, L.places, L.measured, S.ints[I_WIP], S.floats[F_W_START], w_end)
    return DONE


@njit(**JIT)
def start(L, S, seed_key, replication):
    """Time zero: the streams' keys; calendars, failure clocks, first parts, injections."""
    replication_keys(seed_key, replication, L.stream_hashes, S.keys)
    n_nodes = L.node.shape[0]
    for n in range(n_nodes):  # planned downtime first: a window opening at 0 comes first
        if L.node[n, N_CAL_END] > L.node[n, N_CAL]:
            schedule_calendar_off(L, S, n)
    for n in range(n_nodes):  # SPEC §3.6.1: failure clocks start at 0 ...
        for m in range(L.node[n, N_MODE], L.node[n, N_MODE_END]):
            S.mode_f[m, MF_REMAINING] = draw(L, S, L.mode[m, MO_TTF], L.mode[m, MO_TTF_STREAM])
        sync_clocks(L, S, n)
    for n in range(n_nodes):  # ... then each source creates its first part at 0
        if L.node[n, N_KIND] == K_SOURCE:
            schedule(S, 0.0, E_CREATE, n, NONE, NO_TOKEN, NONE)
    for k in range(S.inj_f.shape[0]):
        schedule(S, S.inj_f[k, IF_AT], E_INJECT, NONE, k, NO_TOKEN, NONE)


@njit(**JIT)
def fire(L, S, kind, n, arg, token):
    """Apply one event; unless it was stale, count it and work off the agenda."""
    if general(L):  # (only a line with a cycle can deadlock; a plain line has none)
        S.ints[I_BLOCKED] = 0
    if kind == E_PROCESS_END:
        valid = process_end(L, S, n, arg, token)
    elif kind == E_CREATE:
        valid = create(L, S, n)
    elif kind == E_FAIL:
        valid = fail(L, S, n, arg, token)
    elif kind == E_REPAIR:
        valid = repair(L, S, n, arg)
    elif kind == E_INJECT:
        valid = inject(L, S, arg)
    elif kind == E_INJECT_END:
        valid = inject_end(L, S, arg)
    elif not general(L):  # a plain line schedules no other events
        valid = False
    elif kind == E_TRAVEL_END:
        valid = travel_end(L, S, n, arg, token)
    elif kind == E_SETUP_END:
        valid = setup_end(L, S, n, arg, token)
    elif kind == E_LOAD_END:
        valid = load_end(L, S, n, arg, token)
    elif kind == E_UNLOAD_END:
        valid = unload_end(L, S, n, arg, token)
    elif kind == E_CALENDAR_OFF:
        valid = calendar_off(L, S, n)
    else:
        valid = calendar_on(L, S, n)
    if not valid:  # a cancelled event
        return
    S.ints[I_EVENTS] += 1
    if S.ints[I_EVENTS] == S.ints[I_PAUSE_AT]:  # back to the caller, which may stop the run
        S.ints[I_ERROR] = ERR_PAUSE
    work_agenda(L, S)
    if general(L) and L.cyclic and S.ints[I_BLOCKED] != 0:
        check_deadlock(L, S)


@njit(**ONCE)
def work_agenda(L, S):
    """The checks in the order they were appended, those appended meanwhile included."""
    i = 0
    while i < S.ints[I_AG_LEN]:
        entry = S.agenda[i]
        i += 1
        if entry & 1 == TRY_OUT:
            try_out(L, S, entry >> 1)
        else:
            try_in(L, S, entry >> 1)
    S.ints[I_AG_LEN] = 0


# ---------------------------------------------------------------------- events
@njit(**ONCE)
def create(L, S, n):
    """A source creates a part; its product from the sequence or the mix."""
    first, last = L.node[n, N_SEQ], L.node[n, N_SEQ_END]
    n_products = L.mix_cum.shape[0]
    if not general(L):
        product = 0
    elif last > first:
        product = L.seq_product[first + S.node_i[n, NI_SEQ_POS] % (last - first)]
        S.node_i[n, NI_SEQ_POS] += 1
    elif n_products > 1:
        u = uniform(S.keys, S.counters, stream(L, n, S_PRODUCT))
        product = 0  # np.searchsorted(mix_cum, u, side="right"); the last threshold is inf
        while L.mix_cum[product] <= u:
            product += 1
    else:
        product = 0
    p = new_part(S, product)
    if p < 0:
        return True
    fifo_append(L, S, n, p)  # (the accounting measures nothing of a source)
    count(S, n, acc.C_OCCUPIED, 1)
    S.part_f[p, PF_READY] = S.floats[F_NOW]
    record(L, S, T_CREATE, p, n, -1)
    append_agenda(S, TRY_OUT, n)
    return True


@njit(**ONCE)
def setup_end(L, S, n, p, token):
    if S.part_i[p, PI_TOKEN] != token:  # tokens are unique: else a stale timer
        return False
    touch(L, S, n)
    count(S, n, acc.C_SETUP, -1)
    start_processing(L, S, n, S.part_i[p, PI_SERVER], p)
    return True


@njit(**ONCE)
def load_end(L, S, n, p, token):
    """The resource has loaded the part: it frees the resource; setup and processing follow."""
    if S.part_i[p, PI_TOKEN] != token:
        return False
    touch(L, S, n)
    count(S, n, acc.C_SETUP, -1)
    release_resource(L, S, L.node[n, N_LOAD_RES])
    start_setup(L, S, n, S.part_i[p, PI_SERVER], p)
    return True


@njit(**ONCE)
def unload_end(L, S, n, p, token):
    """The resource has unloaded the part: it is ready to leave."""
    if S.part_i[p, PI_TOKEN] != token:
        return False
    touch(L, S, n)
    count(S, n, acc.C_SETUP, -1)
    release_resource(L, S, L.node[n, N_UNLOAD_RES])
    server = S.part_i[p, PI_SERVER]
    record(L, S, T_READY, p, n, server)
    part_ready(L, S, n, server, p)
    return True


@njit(**ONCE)
def process_end(L, S, n, p, token):
    if S.part_i[p, PI_TOKEN] != token:
        return False
    server = S.part_i[p, PI_SERVER]
    touch(L, S, n)
    count(S, n, acc.C_WORKING, -1)
    S.node_i[n, NI_PROCESSING] -= 1
    if in_window(S):
        S.produced[n, S.part_i[p, PI_PRODUCT]] += 1
    record(L, S, T_DONE, p, n, server)
    scrap = L.node_f[n, NF_SCRAP]
    if not general(L):
        part_ready(L, S, n, server, p)
    elif scrap > 0.0 and uniform(S.keys, S.counters, stream(L, n, S_SCRAP)) < scrap:
        scrap_part(L, S, n, server, p)
    elif L.node[n, N_UNLOAD_RES] >= 0:
        request_resource(L, S, n, server, PH_WAIT_UNLOAD)
    else:
        part_ready(L, S, n, server, p)
    sync_clocks(L, S, n)
    return True


@njit(**SMALL)
def part_ready(L, S, n, server, p):
    S.cell[server_cell(L, n, server), CE_PHASE] = PH_DONE
    count(S, n, acc.C_BLOCKED, 1)
    S.part_f[p, PF_READY] = S.floats[F_NOW]
    append_agenda(S, TRY_OUT, n)


@njit(**ONCE)
def travel_end(L, S, n, p, token):
    if S.part_i[p, PI_TOKEN] != token or S.part_i[p, PI_TRAVELING] == 0:
        return False
    touch(L, S, n)
    S.part_i[p, PI_TRAVELING] = 0
    S.node_i[n, NI_PROCESSING] -= 1
    count(S, n, acc.C_WORKING, -1)
    count(S, n, acc.C_BLOCKED, 1)
    if in_window(S):
        S.produced[n, S.part_i[p, PI_PRODUCT]] += 1
    record(L, S, T_DONE, p, n, -1)
    if fifo_head(L, S, n) == p:
        S.part_f[p, PF_READY] = S.floats[F_NOW]
        append_agenda(S, TRY_OUT, n)
    sync_clocks(L, S, n)
    return True


@njit(**ONCE)
def fail(L, S, n, m, token):
    """A failure mode's clock ran out: the whole node goes down (SPEC §3.3)."""
    if S.mode_i[m, MI_TOKEN] != token or S.mode_i[m, MI_RUNNING] == 0:
        return False
    S.mode_i[m, MI_RUNNING] = 0
    S.mode_f[m, MF_REMAINING] = math.nan
    record(L, S, T_FAIL, -1, n, m - L.node[n, N_MODE])
    set_halt(L, S, n, DOWN, HALT)
    schedule(S, draw(L, S, L.mode[m, MO_TTR], L.mode[m, MO_TTR_STREAM]), E_REPAIR, n, m, NO_TOKEN, NONE)
    return True


@njit(**ONCE)
def repair(L, S, n, m):
    """Repair done: the failed mode draws a new time to failure; the node resumes."""
    record(L, S, T_REPAIR, -1, n, m - L.node[n, N_MODE])
    S.mode_f[m, MF_REMAINING] = draw(L, S, L.mode[m, MO_TTF], L.mode[m, MO_TTF_STREAM])
    set_halt(L, S, n, DOWN, UNHALT)
    return True


@njit(**ONCE)
def inject(L, S, k):
    """An injected outage starts: its stations go down, in file order."""
    for i in range(S.inj_node[k, 0]):
        n = S.inj_node[k, 1 + i]
        record(L, S, T_DOWN, -1, n, k)
        set_halt(L, S, n, DOWN, HALT)
    schedule(S, S.inj_f[k, IF_FOR], E_INJECT_END, NONE, k, NO_TOKEN, NONE)
    return True


@njit(**ONCE)
def inject_end(L, S, k):
    for i in range(S.inj_node[k, 0]):
        n = S.inj_node[k, 1 + i]
        record(L, S, T_UP, -1, n, k)
        set_halt(L, S, n, DOWN, UNHALT)
    return True


@njit(**SMALL)
def calendar_window(L, S, n, edge):
    """Start (edge 0) or end (edge 1) of the node's current planned-downtime window."""
    window = L.node[n, N_CAL] + S.node_i[n, NI_CAL_WINDOW]
    return S.node_i[n, NI_CAL_CYCLE] * L.node_f[n, NF_CAL_PERIOD] + L.cal_off[window, edge]


@njit(**ONCE)
def schedule_calendar_off(L, S, n):
    """Schedule the start of the node's next planned-downtime window."""
    schedule(S, calendar_window(L, S, n, 0) - S.floats[F_NOW], E_CALENDAR_OFF, n, NONE, NO_TOKEN, NONE)


@njit(**ONCE)
def calendar_off(L, S, n):
    """A planned-downtime window opens: the node pauses like a failure, state `off`."""
    record(L, S, T_OFF, -1, n, -1)
    set_halt(L, S, n, OFF, HALT)
    schedule(S, calendar_window(L, S, n, 1) - S.floats[F_NOW], E_CALENDAR_ON, n, NONE, NO_TOKEN, NONE)
    return True


@njit(**ONCE)
def calendar_on(L, S, n):
    if S.node_i[n, NI_CAL_WINDOW] + 1 < L.node[n, N_CAL_END] - L.node[n, N_CAL]:
        S.node_i[n, NI_CAL_WINDOW] += 1
    else:
        S.node_i[n, NI_CAL_CYCLE] += 1
        S.node_i[n, NI_CAL_WINDOW] = 0
    record(L, S, T_ON, -1, n, -1)
    set_halt(L, S, n, OFF, UNHALT)
    schedule_calendar_off(L, S, n)
    return True


# ---------------------------------------------------------------------- down and up
@njit(**JIT)
def set_halt(L, S, n, column, delta):
    """Count a cause of halting (down or off) in or out; pause or resume the node."""
    was_halted = halted(S, n)
    touch(L, S, n)
    S.node_i[n, NI_HALTS] += delta
    count(S, n, column, delta)
    if halted(S, n) and not was_halted:
        interrupt(L, S, n)
        sync_clocks(L, S, n)
    elif was_halted and not halted(S, n):
        resume(L, S, n)
        sync_clocks(L, S, n)
        if general(L) and L.node[n, N_LOAD_RES] >= 0:
            serve(L, S, L.node[n, N_LOAD_RES])
        if general(L) and L.node[n, N_UNLOAD_RES] >= 0:
            serve(L, S, L.node[n, N_UNLOAD_RES])
        append_agenda(S, TRY_OUT, n)
        append_agenda(S, TRY_IN, n)


@njit(**SMALL)
def running_part(L, S, n, k):
    """The part in server (or FIFO position) k if its load, setup, processing, unload or
    travel is under way, else -1."""
    if has_servers(L, n):
        cell = server_cell(L, n, k)
        phase = S.cell[cell, CE_PHASE]
        if S.cell[cell, CE_PART] >= 0 and (phase == PH_LOAD or phase == PH_SETUP
                                           or phase == PH_WORKING or phase == PH_UNLOAD):
            return S.cell[cell, CE_PART]
        return NONE
    if not general(L):  # only conveyors' parts travel
        return NONE
    p = fifo_at(L, S, n, k)
    return p if S.part_i[p, PI_TRAVELING] != 0 else -1


@njit(**ONCE)
def interrupt(L, S, n):
    """Preempt: keep the remaining time of every running timer (its event goes stale)."""
    size = servers(L, n) if has_servers(L, n) else S.node_i[n, NI_OCCUPIED]
    for k in range(size):
        p = running_part(L, S, n, k)
        if p >= 0:
            S.part_f[p, PF_REMAINING] = S.part_f[p, PF_DUE] - S.floats[F_NOW]
            S.part_i[p, PI_TOKEN] = new_token(S)


@njit(**ONCE)
def resume(L, S, n):
    has = has_servers(L, n)
    size = servers(L, n) if has else S.node_i[n, NI_OCCUPIED]
    for k in range(size):
        p = running_part(L, S, n, k)
        if p >= 0:
            start_timer(L, S, n, k if has else NONE, p, S.part_f[p, PF_REMAINING])


@njit(**JIT)
def start_timer(L, S, n, server, p, delay):
    S.part_f[p, PF_DUE] = S.floats[F_NOW] + delay
    token = new_token(S)
    S.part_i[p, PI_TOKEN] = token
    if not general(L):
        kind = E_PROCESS_END
    elif L.node[n, N_KIND] == K_CONVEYOR:
        kind = E_TRAVEL_END
    else:
        phase = S.cell[server_cell(L, n, server), CE_PHASE]
        if phase == PH_WORKING:
            kind = E_PROCESS_END
        elif phase == PH_SETUP:
            kind = E_SETUP_END
        elif phase == PH_LOAD:
            kind = E_LOAD_END
        else:
            kind = E_UNLOAD_END
    S.part_i[p, PI_EVENT] = schedule(S, delay, kind, n, p, token, S.part_i[p, PI_EVENT])


@njit(**JIT)
def sync_clocks(L, S, n):
    """Start or pause each failure clock as SPEC §3.6.4 says it runs.

    A started clock schedules its failure event unless `pauses_first`: an event that
    would only ever come up stale changes nothing but the time spent on the heap.
    A clock takes a new token only for an event: when it schedules one, and when it
    pauses with one pending (which goes stale). A running clock always has its
    remaining time (a failed mode has none, NaN, until its repair draws the next).
    """
    up = not halted(S, n)
    working = S.node_i[n, NI_PROCESSING] > 0
    for m in range(L.node[n, N_MODE], L.node[n, N_MODE_END]):
        should_run = up and (working or L.mode[m, MO_BASIS] == B_CALENDAR)
        if S.mode_i[m, MI_RUNNING] != 0:
            if not should_run:
                S.mode_i[m, MI_RUNNING] = 0
                S.mode_f[m, MF_REMAINING] = S.mode_f[m, MF_DUE] - S.floats[F_NOW]
                if S.mode_i[m, MI_EVENT] >= 0:  # its pending fail event is stale now
                    S.mode_i[m, MI_TOKEN] = new_token(S)
        elif should_run and not math.isnan(S.mode_f[m, MF_REMAINING]):
            S.mode_i[m, MI_RUNNING] = 1
            S.mode_f[m, MF_DUE] = S.floats[F_NOW] + S.mode_f[m, MF_REMAINING]
            if not pauses_first(L, S, n, m):
                token = new_token(S)
                S.mode_i[m, MI_TOKEN] = token
                S.mode_i[m, MI_EVENT] = schedule(S, S.mode_f[m, MF_REMAINING], E_FAIL, n, m,
                                                 token, S.mode_i[m, MI_EVENT])


@njit(**SMALL)
def pauses_first(L, S, n, m):
    """Whether operating-basis clock `m`, just started, surely pauses before it runs out.

    On a one-server node the clock runs only while that server processes; the
    part's process end is pending (scheduled before the clock started, so it
    also comes first at the same instant) and pauses the clock, as does any
    halt before it. So if the clock runs out no earlier than that process end,
    its failure event would come up stale: it need not be scheduled. This
    keeps the usual failure event, rescheduled at every part, off the heap.
    """
    if L.mode[m, MO_BASIS] == B_CALENDAR or servers(L, n) != 1 or not has_servers(L, n):
        return False
    p = S.cell[server_cell(L, n, 0), CE_PART]
    return S.part_f[p, PF_DUE] <= S.mode_f[m, MF_DUE]


# ---------------------------------------------------------------------- decisions
@njit(**SMALL)
def can_take(L, S, n, pred):
    """Whether `n` can take a part from `pred` now: not halted, and a free place
    (sinks always; an assembly while its kit lacks parts from `pred`)."""
    kind = L.node[n, N_KIND]
    if kind == K_SOURCE or halted(S, n):
        return False
    return kind == K_SINK or free_places(L, S, n, pred) > 0


@njit(**SMALL)
def free_places(L, S, n, pred):
    kind = L.node[n, N_KIND]
    if kind == K_SINK:
        return UNLIMITED
    if general(L) and kind == K_ASSEMBLY:
        r = input_rank(L, n, pred)
        return L.in_edge[r, IE_NEED] - S.kit_len[r]
    return L.places[n] - S.node_i[n, NI_OCCUPIED]


@njit(**ONCE)
def choose_successor(L, S, n, p):
    """The out-edge position the part leaves through now, or -1 to wait (SPEC §3.2)."""
    route = L.node[n, N_ROUTE]
    first = L.node[n, N_OUT]
    n_out = L.node[n, N_OUT_END] - first
    product = S.part_i[p, PI_PRODUCT]
    if general(L) and route == R_PROBABILITY:
        if S.part_i[p, PI_TARGET] < 0:
            S.part_i[p, PI_TARGET] = pick_by_probability(L, S, n, product)
            if S.part_i[p, PI_TARGET] < 0:
                return NONE
        k = S.part_i[p, PI_TARGET]
        return k if can_take(L, S, L.out_target[first + k], n) else -1
    best = -1
    best_key = 0
    for k in range(n_out):  # the open eligible edges, in edge order
        e = first + k
        if (general(L) and not L.out_admit[e, product]) or not can_take(L, S, L.out_target[e], n):
            continue
        if not general(L) or route == R_ORDER:
            return k
        if route == R_SHORTEST_QUEUE:  # most free places; ties: lowest position
            key = free_places(L, S, L.out_target[e], n)
            if best < 0 or key > best_key:
                best, best_key = k, key
        else:  # round robin: first open edge at or after the pointer
            key = (k - S.node_i[n, NI_RR] + n_out) % n_out
            if best < 0 or key < best_key:
                best, best_key = k, key
    return best


@njit(**ONCE)
def pick_by_probability(L, S, n, product):
    """Draw one eligible edge with weights p renormalised over them (SPEC §3.6.5)."""
    first = L.node[n, N_OUT]
    n_out = L.node[n, N_OUT_END] - first
    total = 0.0
    for k in range(n_out):
        if L.out_admit[first + k, product]:
            total += L.out_p[first + k]
    u = uniform(S.keys, S.counters, stream(L, n, S_ROUTING)) * total
    cumulative = 0.0
    for k in range(n_out):
        if L.out_admit[first + k, product]:
            cumulative += L.out_p[first + k]
            if u < cumulative:
                return k
    for k in range(n_out - 1, -1, -1):
        if L.out_admit[first + k, product] and L.out_p[first + k] > 0:
            return k
    S.ints[I_ERROR] = ERR_NO_EDGE  # the reference raises StopIteration here
    return NONE


@njit(**SMALL)
def may_go(L, S, pred, p, target):
    """Whether a ready part on `pred` (not halted) waits for, and may be pulled by, `target`.
    On a plain line it always may: there is an edge, it admits the only product, and
    routing is `order`."""
    if not general(L):
        return True
    first = L.node[pred, N_OUT]
    product = S.part_i[p, PI_PRODUCT]
    for k in range(L.node[pred, N_OUT_END] - first):
        if L.out_target[first + k] == target and L.out_admit[first + k, product]:
            if L.node[pred, N_ROUTE] != R_PROBABILITY or S.part_i[p, PI_TARGET] == k:
                return True
    return False


@njit(**ONCE)
def longest_waiting(L, S, n):
    """The blocked part `n` pulls: longest waiting; ties by in-edge order, then server.

    Returns (in-edge row, part slot), part -1 if none. The candidates come in
    in-edge order, then server order, so a tie on the waiting time keeps the
    earlier one.
    """
    best_edge, best_part = NONE, NONE
    best_time = 0.0
    per_input = general(L) and L.node[n, N_KIND] == K_ASSEMBLY  # room depends on the input
    if not per_input and not can_take(L, S, n, NONE):
        return best_edge, best_part
    for r in range(L.node[n, N_IN], L.node[n, N_IN_END]):
        pred = L.in_edge[r, IE_PRED]
        if halted(S, pred) or (per_input and not can_take(L, S, n, pred)):
            continue
        has = has_servers(L, pred)
        for k in range(servers(L, pred) if has else 1):
            p = S.cell[server_cell(L, pred, k), CE_PART] if has else ready_head(L, S, pred)
            if p < 0 or not is_ready(S, p) or not may_go(L, S, pred, p, n):
                continue
            t = S.part_f[p, PF_READY]
            if best_part < 0 or t < best_time:
                best_edge, best_part, best_time = r, p, t
    return best_edge, best_part


@njit(**SMALL)
def ready_head(L, S, n):
    """The head of FIFO node n if it could leave now, else -1."""
    if S.node_i[n, NI_OCCUPIED] > 0:
        head = fifo_head(L, S, n)
        if is_ready(S, head):
            return head
    return NONE


@njit(**JIT)
def ready_parts(L, S, n):
    """Put the parts of n that could leave now in `S.scratch`, oldest first (ties: lowest
    server); returns their count."""
    if not has_servers(L, n):
        head = ready_head(L, S, n)
        S.scratch[0] = head
        return 0 if head < 0 else 1
    found = 0
    for k in range(servers(L, n)):  # servers in order, insertion sort on ready_since
        p = S.cell[server_cell(L, n, k), CE_PART]
        if p < 0 or not is_ready(S, p):
            continue
        i = found
        while i > 0 and S.part_f[S.scratch[i - 1], PF_READY] > S.part_f[p, PF_READY]:
            S.scratch[i] = S.scratch[i - 1]
            i -= 1
        S.scratch[i] = p
        found += 1
    return found


# ---------------------------------------------------------------------- movement
@njit(**ONCE)
def try_out(L, S, n):
    if halted(S, n):
        return
    if not has_servers(L, n):  # only the head of a FIFO node may leave
        head = ready_head(L, S, n)
        if head >= 0:
            offer(L, S, n, head)
        return
    for i in range(ready_parts(L, S, n)):
        offer(L, S, n, S.scratch[i])


@njit(**SMALL)
def offer(L, S, n, p):
    """The ready part p leaves n by n's routing policy, or stays, blocked."""
    k = choose_successor(L, S, n, p)
    if k < 0:
        if general(L):
            S.ints[I_BLOCKED] = 1
    else:
        move(L, S, n, p, k)


@njit(**ONCE)
def try_in(L, S, n):
    """Pull waiting parts while the node can take them (an assembly first assembles)."""
    kind = L.node[n, N_KIND]
    if kind == K_SOURCE:  # a sink pulls only when its own calendar turns it back on
        return
    if general(L) and kind == K_ASSEMBLY:
        assemble(L, S, n)
    r, p = longest_waiting(L, S, n)
    while p >= 0:  # (the first search outside the loop: most find nothing)
        move(L, S, L.in_edge[r, IE_PRED], p, L.in_edge[r, IE_POS])  # (one edge per pair)
        r, p = longest_waiting(L, S, n)


@njit(**JIT)
def move(L, S, n, p, k):
    """The part leaves `n` through out-edge position k and enters its target."""
    first = L.node[n, N_OUT]
    target = L.out_target[first + k]
    if general(L) and L.node[n, N_ROUTE] == R_ROUND_ROBIN:
        S.node_i[n, NI_RR] = (k + 1) % (L.node[n, N_OUT_END] - first)
    leave(L, S, n, p)
    enter(L, S, target, p, n)
    kind = L.node[n, N_KIND]
    if (kind == K_BUFFER or (general(L) and kind == K_CONVEYOR)) and S.node_i[n, NI_OCCUPIED] > 0:
        head = fifo_head(L, S, n)
        if S.part_i[head, PI_TRAVELING] == 0:
            S.part_f[head, PF_READY] = S.floats[F_NOW]
            append_agenda(S, TRY_OUT, n)
    if kind != K_SOURCE:
        append_agenda(S, TRY_IN, n)


@njit(**ONCE)
def leave(L, S, n, p):
    kind = L.node[n, N_KIND]
    if kind != K_SOURCE:  # the accounting measures nothing of a source
        touch(L, S, n)
    count(S, n, acc.C_OCCUPIED, -1)
    S.part_f[p, PF_READY] = math.nan
    if general(L):  # a plain line routes by `order`: no part has a drawn target
        S.part_i[p, PI_TARGET] = -1
    if has_servers(L, n):
        cell = server_cell(L, n, S.part_i[p, PI_SERVER])
        S.cell[cell, CE_PART] = -1
        S.cell[cell, CE_PHASE] = PH_NONE
        S.node_i[n, NI_OCCUPIED] -= 1
        count(S, n, acc.C_BLOCKED, -1)
        return
    fifo_popleft(L, S, n)
    if general(L) and kind == K_CONVEYOR:
        count(S, n, acc.C_BLOCKED, -1)
    elif kind == K_SOURCE:
        release(L, S, n, p)


@njit(**ONCE)
def release(L, S, n, p):
    """A part leaves its source: it is in the line now; the source makes the next one."""
    touch_line(S)
    S.ints[I_WIP] += 1
    S.ints[I_RELEASED] += 1
    S.part_f[p, PF_RELEASED] = S.floats[F_NOW]
    d = L.node[n, N_ARRIVAL]
    delay = 0.0 if d < 0 else draw(L, S, d, stream(L, n, S_ARRIVAL))
    schedule(S, delay, E_CREATE, n, NONE, NO_TOKEN, NONE)


@njit(**ONCE)
def enter(L, S, n, p, pred):
    now = S.floats[F_NOW]
    kind = L.node[n, N_KIND]
    if general(L) and kind == K_ASSEMBLY:
        r = input_rank(L, n, pred)
        S.kit[L.in_edge[r, IE_KIT] + S.kit_len[r]] = p
        S.kit_len[r] += 1
        S.part_i[p, PI_SERVER] = -1
        record(L, S, T_ENTER, p, n, -1)
        if assemble(L, S, n):  # the kit's places are free again
            append_agenda(S, TRY_IN, n)
        return
    if kind == K_SINK:
        record(L, S, T_EXIT, p, n, -1)
        finish(S)
        if general(L) and S.ints[I_EXITS_ON] != 0:  # room checked before the event (lacks_room)
            S.exits[S.ints[I_N_EXITS]] = now
            S.ints[I_N_EXITS] += 1
        if in_window(S):
            S.ints[I_COMPLETED] += 1
            S.lead[S.ints[I_N_LEAD]] = now - S.part_f[p, PF_RELEASED]
            S.ints[I_N_LEAD] += 1
        free_part(S, p)
        return
    touch(L, S, n)  # (the accounting measures nothing of a sink; an assembly touches itself)
    count(S, n, acc.C_OCCUPIED, 1)
    if kind == K_MACHINE:
        server = free_server(L, S, n)
        S.cell[server_cell(L, n, server), CE_PART] = p
        S.node_i[n, NI_OCCUPIED] += 1
        S.part_i[p, PI_SERVER] = server
        record(L, S, T_ENTER, p, n, server)
        start_service(L, S, n, server, p)
        return
    S.part_i[p, PI_SERVER] = -1
    fifo_append(L, S, n, p)
    record(L, S, T_ENTER, p, n, -1)
    occupied = S.node_i[n, NI_OCCUPIED]
    if kind == K_BUFFER or not general(L):  # a plain line's only FIFO node entered: buffers
        if occupied == 1:
            S.part_f[p, PF_READY] = now
            append_agenda(S, TRY_OUT, n)
        return
    ahead = fifo_at(L, S, n, occupied - 2) if occupied > 1 else -1
    travel = draw(L, S, L.node[n, N_TRAVEL], stream(L, n, S_PROCESS))
    if ahead >= 0 and S.part_i[ahead, PI_TRAVELING] != 0:  # conveyor: no overtaking
        behind = S.part_f[ahead, PF_DUE] - now
        if behind > travel:
            travel = behind
    S.part_i[p, PI_TRAVELING] = 1
    S.node_i[n, NI_PROCESSING] += 1
    count(S, n, acc.C_WORKING, 1)
    start_timer(L, S, n, NONE, p, travel)
    sync_clocks(L, S, n)


@njit(**JIT)
def start_service(L, S, n, server, p):
    """A part took a server: loading by a resource if the node has `load`, then setup."""
    if general(L) and L.node[n, N_LOAD_RES] >= 0:
        request_resource(L, S, n, server, PH_WAIT_LOAD)
    else:
        start_setup(L, S, n, server, p)


@njit(**JIT)
def start_setup(L, S, n, server, p):
    """A due tool change, then a setup if the product changed on this server (SPEC §3.6.8),
    as one setup phase; then processing."""
    if not general(L):
        start_processing(L, S, n, server, p)
        return
    cell = server_cell(L, n, server)
    previous = S.cell[cell, CE_LAST]
    product = S.part_i[p, PI_PRODUCT]
    S.cell[cell, CE_LAST] = product
    delay, needed = 0.0, False
    every = L.node[n, N_TOOL_EVERY]
    if every >= 0 and S.cell[cell, CE_TOOL] >= every:
        delay += draw(L, S, L.node[n, N_TOOL], stream(L, n, S_TOOL))
        S.cell[cell, CE_TOOL] = 0
        needed = True
    setup = L.setup_dist[n, previous, product] if previous >= 0 else -1
    if setup >= 0:
        delay += draw(L, S, setup, stream(L, n, S_SETUP))
        needed = True
    if not needed:
        start_processing(L, S, n, server, p)
        return
    S.cell[cell, CE_PHASE] = PH_SETUP
    count(S, n, acc.C_SETUP, 1)
    record(L, S, T_SETUP, p, n, server)
    start_timer(L, S, n, server, p, delay)


@njit(**JIT)
def start_processing(L, S, n, server, p):
    cell = server_cell(L, n, server)
    S.cell[cell, CE_PHASE] = PH_WORKING
    S.cell[cell, CE_TOOL] += 1
    S.node_i[n, NI_PROCESSING] += 1
    count(S, n, acc.C_WORKING, 1)
    record(L, S, T_START, p, n, server)
    delay = draw(L, S, L.process_dist[n, S.part_i[p, PI_PRODUCT]], stream(L, n, S_PROCESS))
    start_timer(L, S, n, server, p, delay)
    sync_clocks(L, S, n)


# ---------------------------------------------------------------------- resources
@njit(**JIT)
def request_resource(L, S, n, server, phase):
    """The part on `server` waits for the load or unload resource (FIFO requests)."""
    res = L.node[n, N_LOAD_RES] if phase == PH_WAIT_LOAD else L.node[n, N_UNLOAD_RES]
    S.cell[server_cell(L, n, server), CE_PHASE] = phase
    count(S, n, acc.C_WAITRES, 1)
    i = RS_QUEUE + 2 * S.res[res, RS_QUEUE_LEN]  # requests are (node, server) pairs
    S.res[res, i] = n
    S.res[res, i + 1] = server
    S.res[res, RS_QUEUE_LEN] += 1
    serve(L, S, res)


@njit(**JIT)
def serve(L, S, res):
    """Grant free units to the oldest requests of nodes that are not halted."""
    while S.res[res, RS_IN_USE] < L.resource_capacity[res]:
        size = S.res[res, RS_QUEUE_LEN]
        i = 0
        while i < size and halted(S, S.res[res, RS_QUEUE + 2 * i]):
            i += 1
        if i == size:
            return
        n, server = S.res[res, RS_QUEUE + 2 * i], S.res[res, RS_QUEUE + 2 * i + 1]
        for j in range(RS_QUEUE + 2 * i, RS_QUEUE + 2 * size - 2):  # remove it, keeping the order
            S.res[res, j] = S.res[res, j + 2]
        S.res[res, RS_QUEUE_LEN] = size - 1
        S.res[res, RS_IN_USE] += 1
        grant(L, S, n, server)


@njit(**ONCE)
def grant(L, S, n, server):
    cell = server_cell(L, n, server)
    p = S.cell[cell, CE_PART]
    loading = S.cell[cell, CE_PHASE] == PH_WAIT_LOAD
    touch(L, S, n)
    count(S, n, acc.C_WAITRES, -1)
    count(S, n, acc.C_SETUP, 1)
    S.cell[cell, CE_PHASE] = PH_LOAD if loading else PH_UNLOAD
    record(L, S, T_LOAD if loading else T_UNLOAD, p, n, server)
    if loading:
        delay = draw(L, S, L.node[n, N_LOAD], stream(L, n, S_LOAD))
    else:
        delay = draw(L, S, L.node[n, N_UNLOAD], stream(L, n, S_UNLOAD))
    start_timer(L, S, n, server, p, delay)


@njit(**SMALL)
def release_resource(L, S, res):
    S.res[res, RS_IN_USE] -= 1
    serve(L, S, res)


# ---------------------------------------------------------------------- assembly
@njit(**JIT)
def assemble(L, S, n):
    """With a full kit and a free server, the kit's parts become one part of `output`;
    returns whether they did."""
    first, last = L.node[n, N_IN], L.node[n, N_IN_END]
    for r in range(first, last):
        if S.kit_len[r] < L.in_edge[r, IE_NEED]:
            return False
    server = free_server(L, S, n)
    if server < 0 or halted(S, n):
        return False
    released = math.inf
    for r in range(first, last):  # the components leave the system, in kit order
        for i in range(S.kit_len[r]):
            c = S.kit[L.in_edge[r, IE_KIT] + i]
            finish(S)
            released = min(released, S.part_f[c, PF_RELEASED])
            free_part(S, c)
        S.kit_len[r] = 0
    p = new_part(S, L.node[n, N_OUTPUT])
    if p < 0:
        return False
    S.part_f[p, PF_RELEASED] = released
    touch_line(S)
    S.ints[I_WIP] += 1
    S.ints[I_RELEASED] += 1
    touch(L, S, n)
    count(S, n, acc.C_OCCUPIED, 1)
    S.cell[server_cell(L, n, server), CE_PART] = p
    S.node_i[n, NI_OCCUPIED] += 1
    S.part_i[p, PI_SERVER] = server
    record(L, S, T_ASSEMBLE, p, n, server)
    start_service(L, S, n, server, p)
    return True


@njit(**JIT)
def scrap_part(L, S, n, server, p):
    record(L, S, T_SCRAP, p, n, server)
    cell = server_cell(L, n, server)
    S.cell[cell, CE_PART] = -1
    S.cell[cell, CE_PHASE] = PH_NONE
    S.node_i[n, NI_OCCUPIED] -= 1
    count(S, n, acc.C_OCCUPIED, -1)
    if in_window(S):
        S.scrapped_at[n] += 1
        S.ints[I_SCRAPPED] += 1
    finish(S)
    free_part(S, p)
    append_agenda(S, TRY_IN, n)


@njit(**SMALL)
def finish(S):
    """A part leaves the system (sink, scrap, or consumed by an assembly)."""
    touch_line(S)
    S.ints[I_WIP] -= 1
    S.ints[I_FINISHED] += 1


# ---------------------------------------------------------------------- deadlock
@njit(**ONCE)
def check_deadlock(L, S):
    """Stop if blocked parts wait on each other in a circle (SPEC §5 `deadlock`).

    The stuck set shrinks to its fixpoint (the same set whatever the order
    nodes are dropped in); its nodes are left in `S.stuck`.
    """
    n_nodes = L.node.shape[0]
    stuck = S.stuck
    changed = False
    for n in range(n_nodes):
        stuck[n] = is_stuck(L, S, n)
        changed = changed or stuck[n]
    while changed:
        changed = False
        for n in range(n_nodes):
            if stuck[n] and waits_outside(L, S, n):
                stuck[n] = False
                changed = True
    for n in range(n_nodes):
        if stuck[n]:
            S.ints[I_DEADLOCK] = 1
            S.floats[F_DEADLOCK_TIME] = S.floats[F_NOW]
            record(L, S, T_DEADLOCK, -1, -1, -1)
            return


@njit(**ONCE)
def is_stuck(L, S, n):
    """Full, and every place held by a part that is done but cannot leave."""
    kind = L.node[n, N_KIND]
    if kind == K_SOURCE or kind == K_SINK or S.node_i[n, NI_OCCUPIED] < L.places[n]:
        return False
    if has_servers(L, n):
        for k in range(L.places[n]):
            p = S.cell[server_cell(L, n, k), CE_PART]
            if p < 0 or not is_ready(S, p):
                return False
        return True
    return is_ready(S, fifo_head(L, S, n))


@njit(**ONCE)
def waits_outside(L, S, n):
    """Whether a ready part of n waits for some node that is not stuck."""
    first = L.node[n, N_OUT]
    for i in range(ready_parts(L, S, n)):
        p = S.scratch[i]
        target = S.part_i[p, PI_TARGET]
        if L.node[n, N_ROUTE] == R_PROBABILITY and target >= 0:
            if not S.stuck[L.out_target[first + target]]:
                return True
            continue
        for e in range(first, L.node[n, N_OUT_END]):
            if L.out_admit[e, S.part_i[p, PI_PRODUCT]] and not S.stuck[L.out_target[e]]:
                return True
    return False
