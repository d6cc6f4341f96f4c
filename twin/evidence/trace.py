"""`trace.csv` (replication 0's event log with OPC 40001 states) and `incidents.csv` (its downtimes).

Times are seconds from the start of the run (warm-up included), written as
Python's ``repr`` of the float so they read back exactly. Cells that do not
apply (no part for a `fail` row, no server on a buffer) are empty. The
`opc_state` column is the OPC 40001-1 MachineryItemState of the row's node
after the event (see :mod:`twin.evidence.timeline` and docs/evidence.md).
"""

from __future__ import annotations

import csv
from pathlib import Path

from twin.evidence.timeline import Incident

TRACE_HEADER = ("time", "event", "part", "product", "node", "server", "opc_state")
INCIDENT_HEADER = ("station", "cause", "start", "end", "duration", "reason", "attribution")


def write_trace(trace: list[tuple], opc_states: list[str], path: str | Path) -> Path:
    """Write the trace rows with their OPC states; returns the path written."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(TRACE_HEADER)
        for (time, event, part, product, node, server), opc in zip(trace, opc_states):
            writer.writerow((repr(float(time)), event, "" if part < 0 else part, product, node,
                             "" if server < 0 else server, opc))
    return path


def write_incidents(incidents: list[Incident], path: str | Path) -> Path:
    """Write one row per downtime, in order of start; returns the path written."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(INCIDENT_HEADER)
        for i in incidents:
            writer.writerow((i.station, i.cause, repr(float(i.start)), repr(float(i.end)),
                             repr(float(i.duration)), i.reason, i.attribution))
    return path
