"""Evidence bundles (SPEC §8): the document, plots, report, trace, manifest, signing and checks.

One concept per module:

| module | for |
|---|---|
| `document.py` | `evidence.json` and its `results_sha256` (canonical JSON) |
| `timeline.py` | replication 0's trace → station states, buffer levels, downtimes |
| `trace.py` | `trace.csv` (with OPC 40001 states) and `incidents.csv` |
| `plots.py` | the PNG plots |
| `i18n.py`, `locales/` | message catalogs of the report |
| `report.py` | the self-contained `report.html` |
| `manifest.py` | `manifest.json`: sha256 of every file |
| `signing.py` | optional Ed25519 signature of the manifest |
| `bundle.py` | writing a bundle, all or nothing |
| `verify.py` | checking a bundle, optionally by replay |
| `accept.py` | `twin accept`: check inputs, run scenarios, write bundles |

The layout and every field are documented in docs/evidence.md.
"""

from twin.evidence.bundle import write_bundle
from twin.evidence.document import build_document, results_sha256
from twin.evidence.verify import verify

__all__ = ["build_document", "results_sha256", "verify", "write_bundle"]
