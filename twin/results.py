"""What one replication of either engine returns: state times and counts, before KPIs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.lead_times import LeadTimeSketch


@dataclass
class ReplicationResult:
    """Raw outputs of one replication over the measured window (W, E].

    Arrays are indexed by node in file order (and product in line order).
    `state_time` is server-seconds per state of `accounting.STATES`.
    """

    state_time: np.ndarray  # (nodes, 7)
    level_area: np.ndarray  # (nodes,) part-seconds held
    level_max: np.ndarray  # (nodes,)
    full_time: np.ndarray  # (nodes,)
    empty_time: np.ndarray  # (nodes,)
    produced: np.ndarray  # (nodes, products) processing (or travel) ends in the window
    scrapped_at: np.ndarray  # (nodes,)
    completed: int
    scrapped: int
    #: seconds, parts reaching a sink in the window, in order; a sketch of them when there are
    #: more than `lead_times.EXACT_MAX` (`twin.lead_times`)
    lead_times: np.ndarray | LeadTimeSketch
    wip_area: float
    wip_max: float
    released: int  # parts that left a source, whole run
    finished: int  # parts that reached a sink or were scrapped, whole run
    in_process: int  # parts between sources and sinks at the end
    events: int
    deadlock: bool = False
    deadlock_time: float = float("nan")
    deadlock_nodes: tuple[str, ...] = ()
    trace: list[tuple] | None = field(default=None, repr=False)
    #: times of every part reaching a sink, whole run (only when asked for: paired comparisons)
    exit_times: np.ndarray | None = field(default=None, repr=False)
