"""State-time and count accounting shared by both engines, on plain arrays.

Each engine keeps, per node, the counts below (`ns`) and calls :func:`touch`
*before* it changes any of them, so the time since the last change is credited
to the states the node was in. Only the part of that time inside the measured
window (W, E] counts: warm-up resets nothing, it is simply never credited.
Both engines call these same jitted functions in the same order, so their
sums are bit-identical.

Only what SPEC §5 reports is measured (`measures`): the states of a machine,
conveyor or assembly, the level of a buffer, nothing of a source or a sink;
the other times stay 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from twin.model.types import BUFFER, PROCESSING_KINDS

#: server states of SPEC §5, in the order of the state-time columns
STATES = ("working", "setup", "down", "blocked", "starved", "off", "waiting_resource")

# counts per node (int64 columns of `ns`)
C_SETUP, C_WORKING, C_BLOCKED, C_OCCUPIED, C_DOWN, C_OFF, C_WAITRES = range(7)
N_COUNTS = 7

# accumulated times per node (float64 columns of `nt`); state times are server-seconds
T_LAST = 0
T_WORKING, T_SETUP, T_DOWN, T_BLOCKED, T_STARVED, T_OFF, T_WAITRES = range(1, 8)
T_LEVEL, T_FULL, T_EMPTY, T_LEVEL_MAX = range(8, 12)
N_TIMES = 12

# line accumulators (float64 `la`)
L_LAST, L_WIP_AREA, L_WIP_MAX = range(3)
N_LINE = 3

# what `touch` measures of a node (int64 `measured`)
M_NOTHING, M_STATES, M_LEVEL = range(3)


def measures(kinds) -> np.ndarray:
    """What `touch` measures of each node, by station kind (the `twin.model.types` names)."""
    return np.array([M_STATES if kind in PROCESSING_KINDS else M_LEVEL if kind == BUFFER
                     else M_NOTHING for kind in kinds], np.int64)


def new_arrays(n_nodes: int, order: str = "C"):
    """Fresh (ns, nt, la) arrays for one replication (`order`: the tables' memory layout)."""
    return (np.zeros((n_nodes, N_COUNTS), np.int64, order=order),
            np.zeros((n_nodes, N_TIMES), np.float64, order=order), np.zeros(N_LINE, np.float64))


def time_fields(nt, la) -> dict:
    """The accumulated times as `ReplicationResult` fields (copies), for both engines."""
    return dict(state_time=nt[:, T_WORKING:T_WAITRES + 1].copy(), level_area=nt[:, T_LEVEL].copy(),
                level_max=nt[:, T_LEVEL_MAX].copy(), full_time=nt[:, T_FULL].copy(),
                empty_time=nt[:, T_EMPTY].copy(), wip_area=float(la[L_WIP_AREA]),
                wip_max=float(la[L_WIP_MAX]))


@njit(cache=True)
def _overlap(last, t, w_start, w_end):
    return min(t, w_end) - max(last, w_start)


@njit(cache=True)
def touch(ns, nt, places, measured, n, t, w_start, w_end, cell_features):
    """Credit node `n`'s states (or its level) since its last change up to time `t`.

    `cell_features` is False when no node can be in setup, off or waiting for a
    resource (those counts are 0): the fast kernel's plain variant passes the
    constant False, and the columns it would add 0 to are left out of it.
    """
    last = nt[n, T_LAST]
    if last == t:  # already credited up to t (the usual case: a node touched twice in an event)
        return
    what = measured[n]
    if what == M_NOTHING:
        return
    dt = _overlap(last, t, w_start, w_end)
    nt[n, T_LAST] = t
    if dt <= 0.0:
        return
    p = places[n]
    if what == M_STATES:
        if cell_features and ns[n, C_OFF] > 0:
            nt[n, T_OFF] += p * dt
        elif ns[n, C_DOWN] > 0:
            nt[n, T_DOWN] += p * dt
        else:
            nt[n, T_WORKING] += ns[n, C_WORKING] * dt
            nt[n, T_BLOCKED] += ns[n, C_BLOCKED] * dt
            nt[n, T_STARVED] += (p - ns[n, C_OCCUPIED]) * dt
            if cell_features:
                nt[n, T_SETUP] += ns[n, C_SETUP] * dt
                nt[n, T_WAITRES] += ns[n, C_WAITRES] * dt
        return
    level = ns[n, C_OCCUPIED]
    nt[n, T_LEVEL] += level * dt
    if level >= p:
        nt[n, T_FULL] += dt
    if level == 0:
        nt[n, T_EMPTY] += dt
    if level > nt[n, T_LEVEL_MAX]:
        nt[n, T_LEVEL_MAX] = level


@njit(cache=True)
def touch_line(la, wip, t, w_start, w_end):
    """Credit the line's work in process since its last change up to time `t`."""
    dt = _overlap(la[L_LAST], t, w_start, w_end)
    la[L_LAST] = t
    if dt <= 0.0:
        return
    la[L_WIP_AREA] += wip * dt
    if wip > la[L_WIP_MAX]:
        la[L_WIP_MAX] = wip


@njit(cache=True)
def close(ns, nt, la, places, measured, wip, w_start, w_end):
    """Credit every node and the line up to the end of the window (state held, SPEC §3.6.10)."""
    for n in range(ns.shape[0]):
        touch(ns, nt, places, measured, n, w_end, w_start, w_end, True)
    touch_line(la, wip, w_end, w_start, w_end)


@njit(cache=True)
def in_window(t, w_start, w_end):
    """Whether an instant counts for the window (W, E] (SPEC §3.6.11)."""
    return w_start < t <= w_end
