"""The nightly report as one self-contained HTML file: no network at view time (inline CSS,
inline SVG, a few lines of inline script for sorting and filtering; everything readable
with scripts off).

Summary first — counts by tier, category and namespace, what could not be checked, the
trend — then the night's changes, then every finding per namespace with its drift fields,
who changed them and when, its age and its remediation. Every input-derived text is
escaped; Secret values never reach this module (masked or redacted upstream).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from checker.model import Finding, Severity, ToolError
from checker.nightly.history import RunSummary
from checker.nightly.run import Nightly

TIERS = ("critical", "standard", "nonprod")
SEVERITIES = tuple(s.value for s in Severity)
_NO_NAMESPACE = "(cluster-wide)"


def render(nightly: Nightly) -> str:
    report = nightly.report
    active = report.active_findings
    title = f"Nightly report: {nightly.scope} — {nightly.at:%Y-%m-%d %H:%M} UTC"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may be fetched when the report is opened (it may sit on a share or in a
        # mail): no external source of any kind.
        ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"),
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">gitops-checker {escape(report.tool_version)} · '
        f"{report.files} files, {report.objects} objects · "
        + (f"live state: {escape(nightly.drift_source)}" if nightly.drift_source
           else "drift not compared (no live source)") + "</p>",
        "</header>",
        "<main>",
        _summary(nightly, active),
        _unchecked(report.errors),
        _changes(nightly, active),
        _details(nightly, active),
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# --- summary ---------------------------------------------------------------------------------

def _summary(nightly: Nightly, active: Sequence[Finding]) -> str:
    comparison = nightly.comparison
    drift = [f for f in active if f.category == "drift"]
    errors = len(nightly.report.errors)
    by_severity = Counter(f.severity.value for f in active)
    chips = "".join(f'<span class="chip sev-{s}">{by_severity[s]} {s}</span>'
                    for s in SEVERITIES if by_severity[s])
    previous = (f"since {comparison.previous.at:%Y-%m-%d %H:%M} UTC" if comparison.previous
                else "first run")
    cards = [
        _card("Findings", len(active), chips or "none", "findings"),
        _card("Drift", len(drift), f"{len({_subject(f) for f in drift})} objects", "drift"),
        _card("New", len(comparison.new), previous, "new"),
        _card("Fixed", len(comparison.fixed), previous, "fixed"),
        _card("Could not check", errors, "see below" if errors else "everything was checked",
              "errors" + (" alert" if errors else "")),
    ]
    return "\n".join([
        '<section id="summary">',
        "<h2>Summary</h2>",
        f'<div class="cards">{"".join(cards)}</div>',
        '<div class="grid">',
        _by_tier(nightly, active),
        _by_category(active),
        _by_namespace(nightly, active),
        "</div>",
        _trend(comparison.trend),
        "</section>",
    ])


def _card(label: str, value: int, note: str, kind: str) -> str:
    return (f'<div class="card {kind}"><div class="label">{escape(label)}</div>'
            f'<div class="value">{value}</div><div class="note">{note}</div></div>')


def _by_tier(nightly: Nightly, active: Sequence[Finding]) -> str:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    drift: Counter[str] = Counter()
    for f in active:
        tier = nightly.tiers.get(f.fingerprint, "standard")
        counts[tier][f.severity.value] += 1
        if f.category == "drift":
            drift[tier] += 1
    header = "".join(f"<th>{s}</th>" for s in SEVERITIES)
    rows = "".join(
        f'<tr><th scope="row">{escape(tier)}</th>'
        + "".join(f"<td>{counts[tier][s] or ''}</td>" for s in SEVERITIES)
        + f"<td>{drift[tier] or ''}</td></tr>"
        for tier in [*TIERS, *sorted(set(counts) - set(TIERS))])
    return (f'<table id="by-tier"><caption>By tier</caption><thead><tr><th>tier</th>{header}'
            f"<th>drift</th></tr></thead><tbody>{rows}</tbody></table>")


def _by_category(active: Sequence[Finding]) -> str:
    counts = Counter(f.category for f in active)
    worst: dict[str, Severity] = {}
    for f in active:
        if f.category not in worst or f.severity.rank > worst[f.category].rank:
            worst[f.category] = f.severity
    rows = "".join(f'<tr><th scope="row">{escape(c)}</th><td>{n}</td>'
                   f'<td><span class="chip sev-{worst[c].value}">{worst[c].value}</span></td>'
                   f"</tr>" for c, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])))
    return (f'<table id="by-category"><caption>By category</caption><thead><tr>'
            f"<th>category</th><th>findings</th><th>worst</th></tr></thead>"
            f"<tbody>{rows or _empty_row(3)}</tbody></table>")


def _by_namespace(nightly: Nightly, active: Sequence[Finding]) -> str:
    groups = _namespaces(nightly, active)
    rows = "".join(
        f'<tr><th scope="row"><a href="#ns-{_anchor(ns)}">{escape(ns)}</a></th>'
        f"<td>{escape(tier)}</td><td>{len(items)}</td>"
        f"<td>{sum(1 for f in items if f.category == 'drift') or ''}</td>"
        f"<td>{sum(1 for f in items if nightly.is_new(f)) or ''}</td></tr>"
        for (ns, tier), items in groups)
    return (f'<table id="by-namespace"><caption>By namespace</caption><thead><tr>'
            f"<th>namespace</th><th>tier</th><th>findings</th><th>drift</th><th>new</th>"
            f"</tr></thead><tbody>{rows or _empty_row(5)}</tbody></table>")


def _trend(trend: Sequence[RunSummary]) -> str:
    """Findings (policy) and drift over the recorded runs, as an inline SVG line chart."""
    width, height, left, right, top, bottom = 720, 240, 48, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    series = [("findings", [r.findings - r.drift for r in trend]),
              ("drift", [r.drift for r in trend])]
    peak = max([1, *(v for _, values in series for v in values)])
    step = _nice_step(peak)
    top_value = step * -(-peak // step)
    count = len(trend)

    def x(i: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * i / (count - 1))

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / top_value

    out = [(f'<figure id="trend"><svg xmlns="http://www.w3.org/2000/svg" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'aria-labelledby="trend-title"><title id="trend-title">Findings and drift over '
           f"the last {count} run{'s' if count != 1 else ''}</title>")]
    for tick in range(0, top_value + 1, step):
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}"/><text class="axis" x="{left - 6}" '
                   f'y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    labels = _label_indexes(count, 8)
    for i, run in enumerate(trend):
        if i in labels:
            out.append(f'<text class="axis" x="{x(i):.1f}" y="{height - bottom + 18}" '
                       f'text-anchor="middle">{run.at:%m-%d}</text>')
    for name, values in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline class="line {name}" points="{points}"/>')
        for i, v in enumerate(values):
            out.append(f'<circle class="dot {name}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5">'
                       f"<title>{trend[i].at:%Y-%m-%d %H:%M}: {v} {name}</title></circle>")
    legend_y = height - 10
    out.append(f'<rect class="key findings" x="{left}" y="{legend_y - 9}" width="12" '
               f'height="4"/><text class="legend" x="{left + 18}" y="{legend_y - 4}">policy '
               f'findings</text><rect class="key drift" x="{left + 140}" y="{legend_y - 9}" '
               f'width="12" height="4"/><text class="legend" x="{left + 158}" '
               f'y="{legend_y - 4}">drift</text>')
    out.append("</svg><figcaption>Active findings per run: policy findings and drift "
               "(fields, missing and extra objects).</figcaption></figure>")
    return "".join(out)


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if peak / step <= 5:
            return step
    return 10 ** len(str(peak))


def _label_indexes(count: int, most: int) -> set[int]:
    if count <= most:
        return set(range(count))
    every = -(-count // most)
    return {i for i in range(count) if i % every == 0} | {count - 1}


# --- what could not be checked, what changed ---------------------------------------------

def _unchecked(errors: Sequence[ToolError]) -> str:
    if not errors:
        return ('<section id="unchecked"><h2>Could not check</h2><p class="ok">Everything '
                "declared was read and checked.</p></section>")
    items = "".join(
        f"<li><code>{escape(e.path or '(input)')}{f':{e.line}' if e.line else ''}</code> "
        f'<span class="kind">{escape(e.kind)}</span> {escape(e.message)}</li>' for e in errors)
    return (f'<section id="unchecked" class="alert"><h2>Could not check</h2><p>What is '
            f"listed here went unchecked: the report is incomplete for it (exit code 2)."
            f"</p><ul>{items}</ul></section>")


def _changes(nightly: Nightly, active: Sequence[Finding]) -> str:
    comparison = nightly.comparison
    if comparison.previous is None:
        return ('<section id="changes"><h2>Since the previous run</h2><p>This is the first '
                "recorded run: every finding is new.</p></section>")
    new = sorted((f for f in active if nightly.is_new(f)),
                 key=lambda f: (-f.severity.rank, _subject(f), f.rule_id))
    new_rows = "".join(f"<tr>{_severity_cell(f.severity)}<td><code>{escape(f.rule_id)}</code>"
                       f"</td><td>{escape(_subject(f))}</td><td>{escape(f.message)}</td></tr>"
                       for f in new)
    fixed_rows = "".join(f'<tr>{_severity_cell(Severity(o.severity))}<td><code>'
                         f"{escape(o.rule_id)}</code></td><td>{escape(o.subject)}</td></tr>"
                         for o in comparison.fixed)
    return "\n".join([
        '<section id="changes">',
        f"<h2>Since the previous run ({comparison.previous.at:%Y-%m-%d %H:%M} UTC)</h2>",
        (f'<table id="new" class="sortable"><caption>New ({len(new)})</caption><thead><tr>'
        "<th>severity</th><th>rule</th><th>object</th><th>message</th></tr></thead>"
        f"<tbody>{new_rows or _empty_row(4)}</tbody></table>"),
        (f'<table id="fixed" class="sortable"><caption>Fixed ({len(comparison.fixed)})'
        "</caption><thead><tr><th>severity</th><th>rule</th><th>object</th></tr></thead>"
        f"<tbody>{fixed_rows or _empty_row(3)}</tbody></table>"),
        "</section>",
    ])


# --- details per namespace -------------------------------------------------------------------

def _details(nightly: Nightly, active: Sequence[Finding]) -> str:
    groups = _namespaces(nightly, active)
    out = ['<section id="details">', "<h2>Details by namespace</h2>",
           '<div class="filters"><label>Filter <input id="filter" type="search" '
           'placeholder="rule, object, message…"></label> <label>Severity at least '
           '<select id="min-severity">'
           + "".join(f'<option value="{Severity(s).rank}">{s}</option>'
                     for s in reversed(SEVERITIES))
           + '</select></label> <label><input id="only-drift" type="checkbox"> drift only'
           "</label></div>"]
    if not groups:
        out.append('<p class="ok">No active findings.</p>')
    for (namespace, tier), items in groups:
        drift = sum(1 for f in items if f.category == "drift")
        rows = "".join(_detail_row(nightly, f) for f in
                       sorted(items, key=lambda f: (-f.severity.rank, _subject(f), f.rule_id,
                                                    f.location.pointer)))
        out.append(
            f'<section class="namespace" id="ns-{_anchor(namespace)}">'
            f"<h3>{escape(namespace)} <span class=\"tier tier-{escape(tier)}\">"
            f"{escape(tier)}</span> <span class=\"count\">{len(items)} finding"
            f"{'s' if len(items) != 1 else ''}, {drift} drift</span></h3>"
            '<table class="sortable findings"><thead><tr><th>severity</th><th>rule</th>'
            "<th>object</th><th>location</th><th>finding</th><th>changed by</th>"
            f"<th>age</th><th>remediation</th></tr></thead><tbody>{rows}</tbody></table>"
            "</section>")
    out.append("</section>")
    return "\n".join(out)


def _detail_row(nightly: Nightly, f: Finding) -> str:
    location = f.location.path or ""
    if location and f.location.line:
        location += f":{f.location.line}"
    message = escape(f.message)
    field = f.details.get("path")
    if f.category == "drift" and isinstance(field, str):
        message = (f'<div class="field"><code>{escape(field)}</code></div>'
                   f'<div class="values">{_values(f.details)}</div>')
    age = nightly.age(f)
    remediation = nightly.remediation.get(f.rule_id, "")
    new = ' <span class="badge">new</span>' if nightly.is_new(f) else ""
    return (f'<tr data-severity="{f.severity.rank}" data-category="{escape(f.category)}">'
            f"{_severity_cell(f.severity)}"
            f'<td><code title="{escape(f.rule_name)}">{escape(f.rule_id)}</code>{new}</td>'
            f"<td>{escape(_subject(f))}</td><td><code>{escape(location)}</code></td>"
            f"<td>{message}</td><td>{_attribution(f.details)}</td>"
            f'<td data-sort="{int(age.total_seconds())}">{escape(_age(age))}</td>'
            f"<td>{_remediation(remediation)}</td></tr>")


def _values(details: Mapping[str, Any]) -> str:
    parts = []
    if "declared" in details:
        parts.append(f'<span class="declared">declared {escape(_short(details["declared"]))}'
                     "</span>")
    else:
        parts.append('<span class="declared">not declared</span>')
    if "live" in details:
        parts.append(f'<span class="live">live {escape(_short(details["live"]))}</span>')
    else:
        parts.append('<span class="live">absent in the cluster</span>')
    return " → ".join(parts)


def _attribution(details: Mapping[str, Any]) -> str:
    owner = details.get("changed_by")
    if not isinstance(owner, Mapping) or not owner.get("manager"):
        return ""
    text = f"<strong>{escape(str(owner['manager']))}</strong>"
    if owner.get("operation"):
        text += f" ({escape(str(owner['operation']))})"
    if owner.get("subresource"):
        text += f" via /{escape(str(owner['subresource']))}"
    if owner.get("time"):
        text += f'<br><time datetime="{escape(str(owner["time"]))}">' \
                f"{escape(str(owner['time']))}</time>"
    return text


def _remediation(text: str) -> str:
    if not text:
        return ""
    if len(text) <= 90:
        return escape(text)
    return f"<details><summary>{escape(text[:80])}…</summary>{escape(text)}</details>"


# --- helpers ---------------------------------------------------------------------------------

def _namespaces(nightly: Nightly, active: Iterable[Finding]
                ) -> list[tuple[tuple[str, str], list[Finding]]]:
    groups: dict[str, list[Finding]] = defaultdict(list)
    tiers: dict[str, str] = {}
    for f in active:
        namespace = _namespace_of(f)
        groups[namespace].append(f)
        tier = nightly.tiers.get(f.fingerprint, "standard")
        if namespace not in tiers or _tier_rank(tier) < _tier_rank(tiers[namespace]):
            tiers[namespace] = tier  # a namespace is as strict as its strictest finding
    return sorted((((ns, tiers[ns]), items) for ns, items in groups.items()),
                  key=lambda item: (_tier_rank(item[0][1]), item[0][0] == _NO_NAMESPACE,
                                    item[0][0]))


def _tier_rank(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else len(TIERS)


def _namespace_of(f: Finding) -> str:
    if f.resource is None:
        return _NO_NAMESPACE
    if f.resource.kind == "Namespace":
        return f.resource.name
    return f.resource.namespace or _NO_NAMESPACE


def _subject(f: Finding) -> str:
    return f.resource.display() if f.resource is not None else (f.location.path or "(estate)")


def _severity_cell(severity: Severity) -> str:
    return (f'<td data-sort="{severity.rank}"><span class="chip sev-{severity.value}">'
            f"{severity.value}</span></td>")


def _empty_row(columns: int) -> str:
    return f'<tr class="empty"><td colspan="{columns}">none</td></tr>'


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, (
        dict, list)) else _json(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _age(delta: dt.timedelta) -> str:
    if delta.days >= 1:
        return f"{delta.days} d"
    hours = delta.seconds // 3600
    return f"{hours} h" if hours else "new"


_CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d8dde6; --bg: #f6f7f9; --card: #fff;
  --critical: #7a0019; --high: #c62828; --medium: #e08a00; --low: #1f6fb2; --info: #6b7280;
  --findings: #3b5bdb; --drift: #d9480f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 20px 28px 8px; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { margin: 28px 0 10px; font-size: 18px; }
h3 { margin: 18px 0 8px; font-size: 15px; }
.meta, .note, figcaption, .count { color: var(--muted); }
main { padding: 0 28px 40px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px; min-width: 150px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; }
.card .value { font-size: 28px; font-weight: 600; }
.card.alert { border-color: var(--high); }
.card.alert .value { color: var(--high); }
.grid > * { min-width: 0; overflow-x: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
  gap: 16px; margin-top: 16px; align-items: start; }
table { border-collapse: collapse; background: var(--card); width: 100%; }
caption { text-align: left; font-weight: 600; padding: 6px 0; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
thead th { background: #eef1f5; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th[aria-sort="ascending"]::after { content: " ▲"; }
table.sortable thead th[aria-sort="descending"]::after { content: " ▼"; }
td code, li code { font-size: 12px; overflow-wrap: anywhere; }
table.findings { table-layout: fixed; }
table.findings th:nth-child(1) { width: 80px; } table.findings th:nth-child(2) { width: 90px; }
table.findings th:nth-child(3) { width: 16%; } table.findings th:nth-child(4) { width: 16%; }
table.findings th:nth-child(6) { width: 11%; } table.findings th:nth-child(7) { width: 56px; }
table.findings th:nth-child(8) { width: 16%; }
td { overflow-wrap: anywhere; }
.chip { display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff;
  font-size: 12px; margin-right: 4px; }
.sev-critical { background: var(--critical); } .sev-high { background: var(--high); }
.sev-medium { background: var(--medium); } .sev-low { background: var(--low); }
.sev-info { background: var(--info); }
.tier { font-size: 12px; border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; }
.tier-critical { border-color: var(--critical); color: var(--critical); }
.badge { background: #fff3bf; border: 1px solid #f0c000; border-radius: 4px; font-size: 11px;
  padding: 0 4px; }
.declared { color: var(--muted); } .live { font-weight: 600; }
figure { margin: 20px 0 0; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; padding: 12px; max-width: 760px; }
svg .grid { stroke: #e3e7ee; } svg .axis, svg .legend { font-size: 11px; fill: var(--muted); }
svg .line { fill: none; stroke-width: 2.5; }
svg .line.findings, svg .key.findings { stroke: var(--findings); fill: var(--findings); }
svg .line.drift, svg .key.drift { stroke: var(--drift); fill: var(--drift); }
svg .line.findings, svg .line.drift { fill: none; }
svg .dot.findings { fill: var(--findings); } svg .dot.drift { fill: var(--drift); }
#unchecked.alert { border-left: 4px solid var(--high); padding-left: 12px; }
.ok { color: #2b8a3e; }
.filters { margin-bottom: 8px; display: flex; gap: 16px; flex-wrap: wrap; }
.filters input[type=search] { width: 260px; }
tr.hidden, section.namespace.hidden { display: none; }
#changes table { margin-bottom: 16px; }
"""

_SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-sort');
    if (v !== null && v !== '' && !isNaN(v)) { return Number(v); }
    return cell.textContent.trim().toLowerCase();
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (th, index) {
      th.addEventListener('click', function () {
        var ascending = th.getAttribute('aria-sort') !== 'ascending';
        table.querySelectorAll('thead th').forEach(function (o) {
          o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
          return !r.classList.contains('empty'); });
        rows.sort(function (a, b) {
          var x = key(a.cells[index]), y = key(b.cells[index]);
          var c = x < y ? -1 : x > y ? 1 : 0;
          return ascending ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var text = document.getElementById('filter');
  var level = document.getElementById('min-severity');
  var drift = document.getElementById('only-drift');
  function apply() {
    var needle = text.value.trim().toLowerCase();
    var least = Number(level.value);
    document.querySelectorAll('section.namespace').forEach(function (section) {
      var shown = 0;
      section.querySelectorAll('tbody tr').forEach(function (row) {
        var keep = Number(row.getAttribute('data-severity')) >= least &&
          (!drift.checked || row.getAttribute('data-category') === 'drift') &&
          (needle === '' || row.textContent.toLowerCase().indexOf(needle) >= 0);
        row.classList.toggle('hidden', !keep);
        if (keep) { shown += 1; }
      });
      section.classList.toggle('hidden', shown === 0);
    });
  }
  if (text) { text.addEventListener('input', apply); level.addEventListener('change', apply);
              drift.addEventListener('change', apply); }
})();
"""
