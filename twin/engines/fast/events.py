"""The fast engine's event list: a binary heap of events ordered by (time, sequence).

Ordering rule (SimPy's, so the reference engine's): an event with an earlier
time comes first; events at the same time come in the order they were
scheduled. Every :func:`push` takes the next value of a sequence counter, so
the key (time, seq) is unique and the pop order is fully determined.

Events live in *slots*: the key ``time[slot]``, ``seq[slot]`` and the row
``data[slot]`` (kind, node, argument, token, heap position, next free slot).
The heap holds slot numbers, and each slot remembers its heap position, so an
event can also be removed from the middle (:func:`cancel`).

Cancellation is lazy, as in the reference engine: an event carries the token
its owner (a part's timer, a failure clock) had when it was scheduled; when
the owner takes a new token the event is stale, stays in the heap and is
ignored when it comes up. When the owner schedules again while its stale event
is still pending, :func:`reschedule` reuses that slot: giving it the new time
and the next sequence number is the same as pushing a new event (the heap
order depends on the keys only), costs one sift instead of a pop later plus a
push now, and keeps the heap at one slot per owner.

The kernel takes the next event (:func:`take`) instead of popping it: the
event stays at the root while it is handled, and the first event scheduled
meanwhile takes its slot and place, with one sift down from the root where a
pop and a push would sift twice (Python's ``heapreplace``); :func:`drop`
removes it if nothing was scheduled. The set of pending events, hence the
order they come in, is the same either way.

The functions are jitted without reference counting, like the kernel (they
never allocate); :func:`new_event_list` allocates, in Python.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from twin.engines.fast.codegen import JIT

# columns of EventList.data
EV_KIND, EV_NODE, EV_ARG, EV_TOKEN, EV_POS, EV_NEXT_FREE = range(6)
N_EV_COLUMNS = 6
# cells of EventList.meta; M_TAKEN: 1 while the root's event is taken (`take`)
M_SIZE, M_SEQ, M_FREE, M_TAKEN = range(4)
#: the heap's root as an argument (an int64, not a literal: numba would compile a variant)
ROOT = np.int64(0)


class EventList(NamedTuple):
    time: np.ndarray  # float64 (slots,)
    seq: np.ndarray  # int64 (slots,)  the insertion sequence number
    data: np.ndarray  # int64 (slots, N_EV_COLUMNS); EV_POS is -1 for a slot not in the heap
    heap: np.ndarray  # int64 (slots,)  slot numbers in heap order
    meta: np.ndarray  # int64 (4,)  heap size, next sequence number, first free slot (-1: none),
    #                                root taken


def new_event_list(capacity: int) -> EventList:
    """An empty event list holding at most `capacity` pending events."""
    data = np.zeros((capacity, N_EV_COLUMNS), np.int64, order="F")  # see `state`: column-major
    data[:, EV_POS] = -1
    data[:, EV_NEXT_FREE] = np.arange(1, capacity + 1)
    data[-1:, EV_NEXT_FREE] = -1
    return EventList(np.zeros(capacity, np.float64), np.zeros(capacity, np.int64), data,
                     np.zeros(capacity, np.int64), np.array([0, 0, 0 if capacity else -1, 0], np.int64))


@njit(**JIT)
def size(ev):
    return ev.meta[M_SIZE]


@njit(**JIT)
def full(ev):
    """Whether every slot holds a pending event (a taken one's slot is free for the next push)."""
    return ev.meta[M_FREE] < 0 and ev.meta[M_TAKEN] == 0


@njit(**JIT)
def _before(ev, a, b):
    """Whether slot a's event comes before slot b's: earlier time, then earlier scheduling."""
    ta = ev.time[a]
    tb = ev.time[b]
    return ta < tb or (ta == tb and ev.seq[a] < ev.seq[b])


@njit(**JIT)
def _place(ev, i, slot):
    ev.heap[i] = slot
    ev.data[slot, EV_POS] = i


@njit(**JIT)
def _sift_up(ev, i):
    slot = ev.heap[i]
    while i > 0:
        parent = (i - 1) >> 1
        other = ev.heap[parent]
        if not _before(ev, slot, other):
            break
        _place(ev, i, other)
        i = parent
    _place(ev, i, slot)


@njit(**JIT)
def _sift_down(ev, i):
    n = ev.meta[M_SIZE]
    slot = ev.heap[i]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        right = child + 1
        if right < n and _before(ev, ev.heap[right], ev.heap[child]):
            child = right
        other = ev.heap[child]
        if not _before(ev, other, slot):
            break
        _place(ev, i, other)
        i = child
    _place(ev, i, slot)


@njit(**JIT)
def _fill(ev, slot, time, kind, node, arg, token):
    ev.time[slot] = time
    ev.seq[slot] = ev.meta[M_SEQ]
    ev.meta[M_SEQ] += 1
    ev.data[slot, EV_KIND] = kind
    ev.data[slot, EV_NODE] = node
    ev.data[slot, EV_ARG] = arg
    ev.data[slot, EV_TOKEN] = token


@njit(**JIT)
def push(ev, time, kind, node, arg, token):
    """Schedule an event at `time`; returns its slot (valid until it is popped or cancelled).

    The list must not be :func:`full`.
    """
    if ev.meta[M_TAKEN] != 0:  # the taken event's slot, at the root
        ev.meta[M_TAKEN] = 0
        slot = ev.heap[0]
        _fill(ev, slot, time, kind, node, arg, token)
        _sift_down(ev, ROOT)
        return slot
    slot = ev.meta[M_FREE]
    ev.meta[M_FREE] = ev.data[slot, EV_NEXT_FREE]
    _fill(ev, slot, time, kind, node, arg, token)
    i = ev.meta[M_SIZE]
    ev.meta[M_SIZE] = i + 1
    ev.heap[i] = slot
    _sift_up(ev, i)
    return slot


@njit(**JIT)
def reschedule(ev, slot, time, kind, node, arg, token):
    """Schedule an event for an owner whose previous event sits (stale) in `slot`.

    `slot` is -1 or the slot of a pending event of the same owner; either way
    the result is the same as pushing a new event. Returns its slot.
    """
    if slot < 0:
        return push(ev, time, kind, node, arg, token)
    old_time = ev.time[slot]
    _fill(ev, slot, time, kind, node, arg, token)  # the largest sequence number so far
    if time < old_time:
        _sift_up(ev, ev.data[slot, EV_POS])
    else:
        _sift_down(ev, ev.data[slot, EV_POS])
    return slot


@njit(**JIT)
def peek_time(ev):
    """Time of the next event, +inf if there is none."""
    if ev.meta[M_SIZE] == 0:
        return np.inf
    return ev.time[ev.heap[0]]


@njit(**JIT)
def _remove_at(ev, i):
    meta = ev.meta
    slot = ev.heap[i]
    n = meta[M_SIZE] - 1
    meta[M_SIZE] = n
    ev.data[slot, EV_POS] = -1
    ev.data[slot, EV_NEXT_FREE] = meta[M_FREE]
    meta[M_FREE] = slot
    if i < n:
        last = ev.heap[n]
        _place(ev, i, last)
        if i > 0 and _before(ev, last, ev.heap[(i - 1) >> 1]):
            _sift_up(ev, i)
        else:
            _sift_down(ev, i)
    return slot


@njit(**JIT)
def take(ev):
    """The next event's slot, left at the root until the next :func:`push` reuses it or
    :func:`drop` removes it; its fields stay readable until then."""
    ev.meta[M_TAKEN] = 1
    return ev.heap[0]


@njit(**JIT)
def drop(ev):
    """Remove the taken event if no push has reused its slot."""
    if ev.meta[M_TAKEN] != 0:
        ev.meta[M_TAKEN] = 0
        _remove_at(ev, ROOT)


@njit(**JIT)
def cancel(ev, slot):
    """Remove a pending event (its slot as returned by :func:`push`); no-op if not pending."""
    i = ev.data[slot, EV_POS]
    if i >= 0:
        _remove_at(ev, i)
