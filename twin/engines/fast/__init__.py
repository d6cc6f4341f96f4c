"""The `fast` engine: a numba kernel over the arrays of `twin.compile`, event for event the reference.

:func:`run_replication` has the reference engine's signature and returns the
same `ReplicationResult` (SPEC §6). :func:`run_replications` runs several
replications on all cores: the kernel releases the GIL and each replication
owns its state and its random streams, so the results do not depend on the
number of cores.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numba
import numpy as np

from twin import accounting as acc
from twin.compile import CompiledLine, compile_line
from twin.engines import collect
from twin.engines.fast import codegen
from twin.engines.fast import kernel as k
from twin.engines.fast import state as st
from twin.lead_times import LeadTimeFolder
from twin.model.types import Injection, Line
from twin.results import ReplicationResult
from twin.streams import seed_key

__all__ = ["RunStopped", "run_replication", "run_replications"]

log = logging.getLogger(__name__)
#: a kernel variant still loading after this many seconds is being compiled: say so
COMPILE_NOTICE_AFTER = 3.0
#: the events one kernel call runs at most (about 0.1 s) before it returns to check for a stop
EVENTS_PER_CALL = 1 << 20
#: how often (seconds) a run waiting for its replications lets Python handle a signal
SIGNAL_CHECK_EVERY = 0.1


def run_replication(line: Line, warmup: float, duration: float, seed: int, replication: int,
                    trace: bool = False, injections: tuple[Injection, ...] = (),
                    exits: bool = False, stop: threading.Event | None = None) -> ReplicationResult:
    """Simulate one replication of `line` on the fast engine.

    `injections` are deterministic outages (scheduled at time 0, after the
    sources' first parts); with `exits` every sink arrival time is returned.
    Another thread may set `stop` to end the run within `EVENTS_PER_CALL`
    events: it raises `RunStopped`.
    """
    compiled = compile_line(line)
    arrays = _arrays(compiled, recording=trace or exits)
    outages = [(float(inj.at), float(inj.down_for), [line.index(s) for s in line.injected_stations(inj)])
               for inj in injections]
    agenda, trace_rows = 4 * (compiled.max_parts + compiled.n_nodes) + 256, 1 << 14
    key = seed_key(seed)
    while True:
        state = st.new_state(arrays, float(warmup), float(warmup + duration), outages, bool(trace),
                             bool(exits), agenda, trace_rows)
        folder = LeadTimeFolder()
        state = _run_to_end(arrays, state, folder, key, int(replication), stop)
        error = int(state.ints[st.I_ERROR])
        if error == k.ERR_AGENDA_FULL:  # deterministic: a rerun repeats the same events
            agenda *= 4
        elif error == k.ERR_TRACE_FULL:
            trace_rows *= 4
        else:
            break
    if error == k.ERR_NO_EDGE:
        raise ValueError(f"line {line.id!r}: a probability node has no eligible edge with p > 0 "
                         "for a part's product")
    if error != k.ERR_NONE:
        raise RuntimeError(f"fast engine: internal capacity error {error}")
    return _result(compiled, state, folder, trace, exits)


def run_replications(line: Line, warmup: float, duration: float, seed: int, replications: int,
                     trace: bool = False, injections: tuple[Injection, ...] = (),
                     exits: bool = False, workers: int | None = None,
                     progress: Callable[[int], None] | None = None) -> list[ReplicationResult]:
    """Replications 0 .. replications-1, on `workers` threads (default: every core).

    The kernel releases the GIL, and each replication has its own state and
    streams: the list is the same whatever the number of workers. With
    `trace`, replication 0 records its event log; `progress` is called with
    the number of replications finished so far, in order.

    The replications run on pool threads even with one worker, so that the
    calling thread stays free to take Ctrl-C or SIGTERM (Python runs signal
    handlers there only); when it is interrupted, or a replication fails,
    the replications under way stop within `EVENTS_PER_CALL` events.
    """
    compile_line(line)  # once, before the threads share it
    stop = threading.Event()

    def one(r: int) -> ReplicationResult:
        return run_replication(line, warmup, duration, seed, r, trace=trace and r == 0,
                               injections=injections, exits=exits, stop=stop)

    workers = max(1, min(workers or os.cpu_count() or 1, replications))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            return collect(_in_order(pool, one, range(replications), 2 * workers), progress)
        finally:  # (before the pool waits for its threads)
            stop.set()


def _in_order(pool: ThreadPoolExecutor, fn: Callable, items: Iterable, ahead: int) -> Iterator:
    """`fn` over `items` on the pool, results in order, with at most `ahead` items submitted
    and not yet collected. (`pool.map` submits every item at once: a million replications held
    a million futures, and an interrupted run went on with all of them.)"""
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield _when_done(pending.popleft())
        while pending:
            yield _when_done(pending.popleft())
    finally:  # an exception or Ctrl-C: what has not started is not run
        for future in pending:
            future.cancel()


def _when_done(future: Future):
    """The future's result, waited for in steps of `SIGNAL_CHECK_EVERY` seconds: a signal
    (SIGTERM from `kill`) may be delivered to any thread, but Python runs its handler on the
    main thread only, when that thread is not blocked (a wait for ever would hold it back)."""
    while not future.done():
        wait((future,), timeout=SIGNAL_CHECK_EVERY)
    return future.result()


class RunStopped(Exception):
    """A replication ended early because its run was asked to stop (`run_replication`'s `stop`)."""


_first_call = threading.Lock()
_packed: weakref.WeakKeyDictionary[CompiledLine, dict[bool, st.LineArrays]] = weakref.WeakKeyDictionary()
_ready: set[int] = set()  # the kernel variants (`LineArrays.variant.ndim`) ready in this process


def _arrays(compiled: CompiledLine, recording: bool) -> st.LineArrays:
    """The kernel's tables of a compiled line (packed once per compiled line and variant).

    The plain variant (`state.is_plain`) records neither the trace nor the exit
    times: a run that records them takes the general variant (the same results).
    """
    plain = st.is_plain(compiled) and not recording
    packed = _packed.setdefault(compiled, {})
    if plain not in packed:
        packed[plain] = st.line_arrays(compiled, plain=plain)
    return packed[plain]


def _run_to_end(arrays: st.LineArrays, state: st.State, folder: LeadTimeFolder, key,
                replication: int, stop: threading.Event | None) -> st.State:
    """Run the kernel until it is done or fails, `EVENTS_PER_CALL` events per call: between
    calls, give the state more room when it lacks it (first by folding lead times, once
    there are many: `twin.lead_times`), and raise `RunStopped` if `stop` is set (the kernel
    cannot see a Python object; a run of days stops within a fraction of a second)."""
    while True:
        state.ints[st.I_PAUSE_AT] = state.ints[st.I_EVENTS] + EVENTS_PER_CALL
        status = _run_kernel(arrays, state, key, replication)
        if status == k.NEED_ROOM:
            _fold_lead_times(state, folder)
            state = st.grow(state)
        elif status != k.PAUSED:
            return state
        if stop is not None and stop.is_set():
            raise RunStopped(f"replication {replication} stopped after {state.ints[st.I_EVENTS]} events")


def _fold_lead_times(state: st.State, folder: LeadTimeFolder) -> None:
    """Fold what `folder` folds of the state's lead times; the rest moves to the front."""
    n = int(state.ints[st.I_N_LEAD])
    if n <= folder.room():
        return
    folded = folder.fold(state.lead[:n])
    state.lead[:n - folded] = state.lead[folded:n]
    state.ints[st.I_N_LEAD] = n - folded


def _run_kernel(arrays: st.LineArrays, state: st.State, key, replication: int) -> int:
    """Call the kernel; the first call of each variant (`state.is_plain`) in a process
    compiles it (or loads it from the cache) with the settings of :mod:`.codegen`, and logs
    a notice if that takes long (a compile: a silent minute looks like a hang)."""
    variant = arrays.variant.ndim
    if variant in _ready:
        return k.run_kernel(arrays, state, key, replication)
    with _first_call:
        if variant in _ready:
            return k.run_kernel(arrays, state, key, replication)
        int64, line_type, state_type = numba.types.int64, numba.typeof(arrays), numba.typeof(state)
        notice = threading.Timer(COMPILE_NOTICE_AFTER, log.info, (
            "compiling the fast engine's kernel (the first run on a machine: a few minutes; "
            "later runs load it from the cache)",))
        notice.daemon = True
        notice.start()
        try:
            with codegen.without_wraparound(), codegen.noalias_arguments():
                k.fire.compile((line_type, state_type, int64, int64, int64, int64))
                k.start.compile((line_type, state_type, numba.typeof(key), int64))
                with codegen.inline_threshold(codegen.KERNEL_INLINE_THRESHOLD):
                    k.run_kernel.compile((line_type, state_type, numba.typeof(key), int64))
        finally:
            notice.cancel()
        _ready.add(variant)
    return k.run_kernel(arrays, state, key, replication)


def _result(c: CompiledLine, s: st.State, folder: LeadTimeFolder, trace: bool,
            exits: bool) -> ReplicationResult:
    ints = s.ints
    deadlock = bool(ints[st.I_DEADLOCK])
    nodes = tuple(c.node_ids[n] for n in np.flatnonzero(s.stuck)) if deadlock else ()
    return ReplicationResult(
        **acc.time_fields(s.nt, s.la), produced=s.produced, scrapped_at=s.scrapped_at,
        completed=int(ints[st.I_COMPLETED]), scrapped=int(ints[st.I_SCRAPPED]),
        lead_times=folder.result(s.lead[:ints[st.I_N_LEAD]]),
        released=int(ints[st.I_RELEASED]), finished=int(ints[st.I_FINISHED]),
        in_process=int(ints[st.I_WIP]), events=int(ints[st.I_EVENTS]), deadlock=deadlock,
        deadlock_time=float(s.floats[st.F_DEADLOCK_TIME]) if deadlock else math.nan,
        deadlock_nodes=nodes, trace=_trace(c, s, nodes) if trace else None,
        exit_times=s.exits[:ints[st.I_N_EXITS]].copy() if exits else None)


def _trace(c: CompiledLine, s: st.State, deadlock_nodes: tuple[str, ...]) -> list[tuple]:
    """The kernel's trace rows as the reference's tuples (time, event, part, product, node, server)."""
    n = int(s.ints[st.I_N_TRACE])
    rows = []
    for t, (code, part, product, node, server) in zip(s.trace_time[:n].tolist(),
                                                      s.trace_data[:n].tolist()):
        if code == k.T_DEADLOCK:
            rows.append((t, "deadlock", -1, "", "+".join(deadlock_nodes), -1))
        else:
            rows.append((t, k.TRACE_EVENTS[code], part, "" if product < 0 else c.product_ids[product],
                         c.node_ids[node], server))
    return rows
