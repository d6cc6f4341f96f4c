"""The self-contained HTML report of an evidence bundle, in one language.

:func:`render` reads only the evidence document, the incidents and the PNG
bytes of the plots, and returns one HTML page: no external CSS, scripts or
images (plots are base64 data URIs), so the file can be mailed, archived and
opened offline. Every fixed text comes from the language's catalog
(:mod:`twin.evidence.i18n`); numbers are formatted by the kind of KPI
(fractions as percent, times with a unit).

Order on the page: the verdict, the criteria, line KPIs, station KPIs,
plots, incidents (and deadlocks), inputs and hashes, how to verify.
"""

from __future__ import annotations

import base64
from html import escape

from twin.evidence.i18n import Text
from twin.evidence.timeline import Incident
from twin.kpis import criterion_key
from twin.scenario import PAIRED_KPIS

#: plot file stems in page order (plots/<stem>.png)
PLOTS = ("state_timeline", "buffer_levels", "throughput", "state_breakdown", "lead_time_histogram")
FRACTION_KEYS = frozenset(("working", "setup", "down", "blocked", "starved", "off", "waiting_resource",
                           "availability", "technical_availability", "performance", "quality", "oee",
                           "full", "empty", "scrap_rate"))
TIME_KEYS = frozenset(("lead_time_mean", "lead_time_p50", "lead_time_p95", "lead_time_max",
                       "recovery_time"))
RATE_KEYS = frozenset(("throughput",))
#: station KPI columns of the report, in order (machines and conveyors)
STATION_COLUMNS = ("availability", "technical_availability", "performance", "quality", "oee",
                   "working", "setup", "blocked", "starved", "down", "produced", "good", "scrapped")
BUFFER_COLUMNS = ("occupancy_mean", "occupancy_max", "full", "empty")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","PingFang SC","Microsoft YaHei",
sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#212121;line-height:1.4}
h1{font-size:1.4rem;margin:0}h2{font-size:1.15rem;border-bottom:1px solid #ccc;margin-top:2rem}
.verdict{border-radius:8px;padding:1rem 1.5rem;color:#fff;display:flex;gap:2rem;align-items:center}
.verdict.pass{background:#2e7d32}.verdict.fail{background:#c62828}
.verdict .big{font-size:3.5rem;font-weight:800;letter-spacing:.05em}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.pass{color:#2e7d32;font-weight:700}td.fail{color:#c62828;font-weight:700}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}pre{background:#f5f5f5;padding:.6rem;overflow-x:auto}
.note{color:#555;font-size:.85rem}
"""


def render(doc: dict, plots: dict[str, bytes], incidents: list[Incident], bundle_name: str,
           lang: str = "en") -> str:
    """The report page of evidence document `doc` in `lang` (see the module docstring).

    Parameters
    ----------
    doc : the evidence document (:func:`twin.evidence.document.build_document`).
    plots : PNG bytes by plot stem (:data:`PLOTS`); missing ones are left out.
    incidents : downtimes of replication 0 (:func:`twin.evidence.timeline.replay`).
    bundle_name : the bundle's folder name, for the verify commands.
    """
    t = Text(lang)
    f = _Formatter(t)
    parts = [
        _verdict(doc, t),
        _criteria(doc, t, f),
        _line_kpis(doc, t, f),
        _station_kpis(doc, t, f),
        _plots(plots, t),
        _incidents(doc, incidents, t, f),
        _inputs(doc, t, f),
        _verify(bundle_name, t),
    ]
    title = f"{t('report.title')}: {doc['scenario']['id']}"
    return (f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(parts)
            + f'\n<footer class="note">{escape(t("report.footer", version=doc["engine"]["version"]))}'
            f"</footer>\n</body>\n</html>\n")


# ---------------------------------------------------------------------------- formatting
class _Formatter:
    """Numbers by KPI kind: fractions as percent, times with a unit, rates per hour."""

    def __init__(self, t: Text):
        self.t = t

    def value(self, key: str, v, signed: bool = False) -> str:
        if v is None:
            return "–"
        sign = "+" if signed and v > 0 else ""
        if key in FRACTION_KEYS:
            return f"{sign}{100 * v:.1f} %"
        if key in TIME_KEYS:
            return sign + self.duration(v)
        if key in RATE_KEYS:
            return f"{sign}{v:.2f} {self.t('unit.per_h')}"
        return sign + self.number(v)

    def number(self, v: float) -> str:
        if float(v).is_integer() and abs(v) < 1e15:
            return f"{int(v)}"
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"

    def duration(self, seconds: float) -> str:
        a = abs(seconds)
        if a >= 3600:
            return f"{seconds / 3600:.2f} {self.t('unit.h')}"
        if a >= 60:
            return f"{seconds / 60:.2f} {self.t('unit.min')}"
        return f"{seconds:.1f} {self.t('unit.s')}"

    def interval(self, key: str, ci) -> str:
        lo, hi = ci
        if lo is None:
            return "–"
        return f"[{self.value(key, lo)}, {self.value(key, hi)}]"


def _table(head: list[str], rows: list[list[tuple[str, str]]], cls: str = "") -> str:
    """A table; each cell is (css class, already-escaped html)."""
    out = [f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f'<td class="{c}">{h}</td>' if c else f"<td>{h}</td>"
                                    for c, h in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ---------------------------------------------------------------------------- sections
def _verdict(doc: dict, t: Text) -> str:
    verdict = doc["verdict"]
    passed = sum(c["verdict"] == "pass" for c in doc["criteria"])
    sc = doc["scenario"]
    requirement = (f'<div>{escape(t("scenario.requirement"))}: {escape(sc["requirement"])}</div>'
                   if sc.get("requirement") else "")
    return (f'<header class="verdict {verdict}" id="verdict" data-verdict="{verdict}">'
            f'<div class="big">{escape(t("verdict." + verdict))}</div>'
            f'<div><h1>{escape(t("report.title"))}: {escape(sc["id"])}</h1>{requirement}'
            f'<div>{escape(t("verdict.summary", passed=passed, total=len(doc["criteria"])))}</div>'
            f"</div></header>")


def _criteria(doc: dict, t: Text, f: _Formatter) -> str:
    rows = []
    for c in doc["criteria"]:
        key = criterion_key(c["kpi"], c.get("station"), c.get("stat"))  # as Criterion.key
        kind, bound = next(iter(c["bound"].items()))
        what = _kpi_label(key, t)
        if c.get("station") and c["kpi"] not in PAIRED_KPIS:
            what = t("kpi.at_station", kpi=what, station=c["station"])
        if c["kpi"] in ("lost_output", "recovery_time"):
            what = t("kpi.of_injection", kpi=what, index=c.get("injection"))
        rows.append([
            ("", f'<span id="criterion-{escape(c["id"])}">{escape(c["id"])}</span>'),
            ("", f"{escape(what)} <code>{escape(key)}</code>"),
            ("num", escape(t(f"bound.{kind}", value=f.value(key, bound)))),
            ("num", escape(f.value(key, c["measured"]))),
            ("num", escape(f.interval(key, c["ci95"]))),
            ("num", escape(f.value(key, c["margin"], signed=True))),
            (c["verdict"], escape(t("verdict." + c["verdict"]))),
        ])
    head = [t(f"col.{k}") for k in ("criterion", "kpi", "bound", "measured", "interval", "margin",
                                    "verdict")]
    note = t("criteria.note", n=doc["replications"])
    return (f'<section id="criteria"><h2>{escape(t("section.criteria"))}</h2>'
            f'<p class="note">{escape(note)}</p>{_table(head, rows, "criteria")}</section>')


def _kpi_label(key: str, t: Text) -> str:
    """The catalog's name of a KPI key; a key no catalog knows (not a SPEC §5 KPI) as itself.

    Every KPI key of SPEC §5 is in every catalog (tests check it), so this
    never hides a missing translation.
    """
    return t(f"kpi.{key}") if f"kpi.{key}" in t.messages else key


def _kpi_row(key: str, kpi: dict, t: Text, f: _Formatter) -> list[tuple[str, str]]:
    return [("", f"{escape(_kpi_label(key, t))} <code>{escape(key)}</code>"),
            ("num", escape(f.value(key, kpi["mean"]))),
            ("num", escape(f.interval(key, kpi["ci95"])))]


def _line_kpis(doc: dict, t: Text, f: _Formatter) -> str:
    rows = [_kpi_row(k, v, t, f) for k, v in doc["kpis"]["line"].items()]
    head = [t("col.kpi"), t("col.mean"), t("col.interval")]
    return (f'<section id="line-kpis"><h2>{escape(t("section.line_kpis"))}</h2>'
            f"{_table(head, rows)}</section>")


def _station_kpis(doc: dict, t: Text, f: _Formatter) -> str:
    stations = doc["kpis"]["stations"]
    machines = {s: k for s, k in stations.items() if "availability" in k}
    buffers = {s: k for s, k in stations.items() if "occupancy_mean" in k}
    out = [f'<section id="station-kpis"><h2>{escape(t("section.station_kpis"))}</h2>',
           f'<p class="note">{escape(t("station_kpis.note"))}</p>']
    for group, columns in ((machines, STATION_COLUMNS), (buffers, BUFFER_COLUMNS)):
        if not group:
            continue
        head = [t("col.station")] + [_kpi_label(c, t) for c in columns]
        rows = [[("", escape(sid))] + [("num", escape(f.value(c, kpis[c]["mean"]) if c in kpis
                                                      else "–")) for c in columns]
                for sid, kpis in group.items()]
        out.append(_table(head, rows, "stations"))
    out.append("</section>")
    return "".join(out)


def _plots(plots: dict[str, bytes], t: Text) -> str:
    out = [f'<section id="plots"><h2>{escape(t("section.plots"))}</h2>']
    for stem in PLOTS:
        if stem not in plots:
            continue
        data = base64.b64encode(plots[stem]).decode("ascii")
        caption = escape(t(f"caption.{stem}"))
        out.append(f'<figure id="plot-{stem}"><img src="data:image/png;base64,{data}" '
                   f'alt="{caption}"><figcaption>{caption}</figcaption></figure>')
    out.append("</section>")
    return "".join(out)


def _incidents(doc: dict, incidents: list[Incident], t: Text, f: _Formatter) -> str:
    out = [f'<section id="incidents"><h2>{escape(t("section.incidents"))}</h2>']
    if incidents:
        out.append(f'<p class="note">{escape(t("incidents.note"))}</p>')
        head = [t(f"col.{k}") for k in ("station", "cause", "start", "end", "duration", "reason",
                                        "attribution")]
        rows = []
        for i in incidents:
            cause = (t("cause.injection", index=i.cause.split(":", 1)[1]) if i.kind == "injection"
                     else t("cause.failure", mode=i.cause))
            reason = i.reason if i.kind == "injection" else t("reason.failure")
            attribution = t(f"attribution.{i.attribution}") if i.attribution else "–"
            rows.append([("", escape(i.station)), ("", escape(cause)),
                         ("num", escape(f.duration(i.start))), ("num", escape(f.duration(i.end))),
                         ("num", escape(f.duration(i.duration))), ("", escape(reason)),
                         ("", escape(attribution))])
        out.append(_table(head, rows, "incidents"))
    else:
        out.append(f"<p>{escape(t('incidents.none'))}</p>")
    if doc["deadlocks"]:
        head = [t("col.replication"), t("col.time"), t("col.nodes")]
        rows = [[("num", str(d["replication"])), ("num", escape(f.duration(d["time"]))),
                 ("", escape(" → ".join(d["nodes"])))] for d in doc["deadlocks"]]
        out.append(f"<h3>{escape(t('section.deadlocks'))}</h3>{_table(head, rows, 'deadlocks')}")
    out.append("</section>")
    return "".join(out)


def _inputs(doc: dict, t: Text, f: _Formatter) -> str:
    inputs, prov, window = doc["inputs"], doc.get("provenance", {}), doc["window"]
    engine = doc["engine"]
    packages = ", ".join(f"{k} {v}" for k, v in sorted((prov.get("packages") or {}).items()) if v)
    rows = [
        (t("inputs.line"), f"<code>{escape(inputs['line']['file'])}</code>"),
        (t("inputs.line_sha256"), f'<span class="hash">{escape(inputs["line"]["sha256"])}</span>'),
        (t("inputs.scenario"), f"<code>{escape(inputs['scenario']['file'])}</code>"),
        (t("inputs.scenario_sha256"),
         f'<span class="hash">{escape(inputs["scenario"]["sha256"])}</span>'),
        (t("inputs.engine"), escape(f"{engine['name']} {engine['version']} ({engine['kernel']})")),
        (t("inputs.seed"), escape(str(doc["seed"]))),
        (t("inputs.replications"), escape(str(doc["replications"]))),
        (t("inputs.window"), escape(t("inputs.window_value", warmup=f.duration(window["warmup"]),
                                      duration=f.duration(window["duration"])))),
        (t("inputs.results_sha256"),
         f'<span class="hash" id="results-sha256">{escape(doc["hashes"]["results_sha256"])}</span>'),
        (t("inputs.generated"), escape(str(prov.get("time_utc", "")))),
        (t("inputs.host"), escape(f"{prov.get('host', '')} ({prov.get('platform', '')})")),
        (t("inputs.python"), escape(str(prov.get("python", "")))),
        (t("inputs.packages"), escape(packages)),
    ]
    table = _table([t("col.item"), t("col.value")], [[("", escape(k)), ("", v)] for k, v in rows])
    return (f'<section id="inputs"><h2>{escape(t("section.inputs"))}</h2>'
            f'<p class="note">{escape(t("inputs.note"))}</p>{table}</section>')


def _verify(bundle_name: str, t: Text) -> str:
    name = escape(bundle_name)
    return (f'<section id="verify"><h2>{escape(t("section.verify"))}</h2>'
            f"<p>{escape(t('verify.hashes'))}</p><pre>twin verify {name}</pre>"
            f"<p>{escape(t('verify.replay'))}</p><pre>twin verify {name} --replay</pre>"
            f"<p>{escape(t('verify.signature'))}</p><pre>twin verify {name} --pubkey PUBLIC_KEY.pem</pre>"
            f"<p class=\"note\">{escape(t('verify.install'))}</p></section>")
