"""`gitops-checker report`: three nights of the example estate against its live snapshot,
through the real CLI; the bundle's structure, history and contents are checked as a person
reading it would (sections, tables, numbers), without a browser (see test_browser.py)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from checker.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
ESTATE = REPO_ROOT / "fixtures" / "estates" / "odoo-finance"
LIVE = REPO_ROOT / "fixtures" / "live" / "odoo-finance"
PROD, NONPROD = "prod-eu-central-1", "shared-nonprod"

pytestmark = pytest.mark.slow


def _report(out: Path, live: Path, cluster: str, at: str, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["report", str(ESTATE), "--cluster", cluster, "--live", str(live),
                     "--out", str(out), "--at", at, *extra])
    return code, err.getvalue()


def _live_copy(tmp: Path, cluster: str) -> Path:
    copy = tmp / "live" / cluster
    shutil.copytree(LIVE / cluster, copy)
    return copy


def _remove_item(path: Path, kind: str, name: str) -> None:
    document = yaml.safe_load(path.read_text())
    document["items"] = [i for i in document["items"]
                         if not (i["kind"] == kind and i["metadata"]["name"] == name)]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Night 1 and 2: the snapshot as it is. Night 3: the on-call NetworkPolicy was
    deleted (its drift is fixed)."""
    tmp = tmp_path_factory.mktemp("nights")
    live = _live_copy(tmp, PROD)
    out = tmp / "bundle"
    results = [_report(out, live, PROD, "2026-11-24T02:30:00Z"),
               _report(out, live, PROD, "2026-11-25T02:30:00Z")]
    _remove_item(live / "erp-prod.yaml", "NetworkPolicy", "oncall-psql-debug")
    results.append(_report(out, live, PROD, "2026-11-26T02:30:00Z"))
    return {"out": out, "results": results}


class _Page(HTMLParser):
    """What a reader sees: sections by id, tables by id with their rows, all attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "table":
            self._table = str(attributes.get("id") or f"table-{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _page(out: Path) -> _Page:
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    return page


def test_exit_codes_follow_the_findings(nights: dict[str, Any]) -> None:
    assert [code for code, _ in nights["results"]] == [1, 1, 1]
    assert "wrote" in nights["results"][-1][1]


def test_the_bundle_has_every_file(nights: dict[str, Any]) -> None:
    out = nights["out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "history.sqlite", "nightly.json", "report.html", "report.json", "summary.md"]


def test_report_json_is_the_report_contract(nights: dict[str, Any]) -> None:
    schema = json.loads((REPO_ROOT / "schemas" / "report.schema.json").read_text())
    report = json.loads((nights["out"] / "report.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    categories = {f["category"] for f in report["findings"]}
    assert "drift" in categories and len(categories) > 3  # policy and drift together


def test_history_says_what_changed_and_since_when(nights: dict[str, Any]) -> None:
    data = json.loads((nights["out"] / "nightly.json").read_text())
    assert data["scope"] == f"odoo-finance@{PROD}"
    assert [t["at"] for t in data["trend"]] == ["2026-11-24T02:30:00Z",
                                                "2026-11-25T02:30:00Z",
                                                "2026-11-26T02:30:00Z"]
    assert [t["drift"] for t in data["trend"]] == [5, 5, 4]
    assert data["new"] == [] and data["previous"] == "2026-11-25T02:30:00Z"
    [fixed] = data["fixed"]
    assert (fixed["rule_id"], fixed["subject"], fixed["last_seen"]) == \
        ("DRF002", "NetworkPolicy/erp-prod/oncall-psql-debug", "2026-11-25T02:30:00Z")
    assert set(data["since"].values()) == {"2026-11-24T02:30:00Z"}


def test_html_summary_comes_first_and_counts_add_up(nights: dict[str, Any]) -> None:
    page = _page(nights["out"])
    for section in ("summary", "unchecked", "changes", "details", "trend", "by-tier",
                    "by-category", "by-namespace", "new", "fixed", "filter"):
        assert section in page.ids, section
    html = (nights["out"] / "report.html").read_text()
    assert html.index('id="summary"') < html.index('id="unchecked"') < \
        html.index('id="changes"') < html.index('id="details"')
    report = json.loads((nights["out"] / "report.json").read_text())
    active = [f for f in report["findings"] if f["suppressed_by"] is None]
    tiers = page.tables["by-tier"]
    assert tiers[0][:6] == ["tier", "critical", "high", "medium", "low", "info"]
    total = sum(int(cell) for row in tiers[1:] for cell in row[1:6] if cell)
    assert total == len(active)
    drift_total = sum(int(row[6]) for row in tiers[1:] if row[6])
    assert drift_total == sum(1 for f in active if f["category"] == "drift") == 4
    namespaces = {row[0]: row for row in page.tables["by-namespace"][1:]}
    assert namespaces["erp-prod"][1] == "critical"
    fixed = page.tables["fixed"]
    assert fixed[1][1:] == ["DRF002", "NetworkPolicy/erp-prod/oncall-psql-debug"]


def test_html_details_show_drift_fields_attribution_and_age(nights: dict[str, Any]) -> None:
    page = _page(nights["out"])
    rows = [row for name, table in page.tables.items() if name.startswith("table-")
            for row in table[1:]]
    edit = next(r for r in rows if "limits.memory" in r[4])
    assert edit[0] == "high" and edit[1].startswith("DRF003")
    assert "declared 8Gi → live 12Gi" in edit[4]
    assert edit[5] == "kubectl-edit (Update)2026-11-26T02:13:00Z"
    assert edit[6] == "2 d"
    assert edit[7]  # remediation
    scale = next(r for r in rows if r[4].startswith("spec.replicas"))
    assert "kubectl-scale (Update) via /scale" in scale[5]


def test_the_trend_chart_is_inline_svg_with_one_point_per_night(nights: dict[str, Any]
                                                                 ) -> None:
    page = _page(nights["out"])
    circles = [a for tag, a in page.tags if tag == "circle"]
    assert len(circles) == 2 * 3  # policy findings and drift, three nights
    lines = [a for tag, a in page.tags if tag == "polyline"]
    assert {a["class"] for a in lines} == {"line findings", "line drift"}


def test_nothing_is_fetched_when_the_report_is_opened(nights: dict[str, Any]) -> None:
    page = _page(nights["out"])
    for tag, attributes in page.tags:
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag
        if tag == "script":
            assert "src" not in attributes
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            assert not value or value.startswith("#"), (tag, name, value)
    csp = next(a for t, a in page.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in str(csp["content"])


def test_markdown_summary(nights: dict[str, Any]) -> None:
    text = (nights["out"] / "summary.md").read_text()
    assert text.startswith(f"## Nightly report: odoo-finance@{PROD} — 2026-11-26 02:30 UTC")
    assert "of which **4 drift**; **0 new**, 1 fixed" in text
    assert "### Fixed since the previous run" in text
    assert "`DRF002` NetworkPolicy/erp-prod/oncall-psql-debug" in text
    assert "### Oldest drift" in text


def _secret_values() -> set[str]:
    values: set[str] = set()
    for path in sorted(LIVE.rglob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            if item["kind"] == "Secret":
                for value in (item.get("data") or {}).values():
                    values.update((value, base64.b64decode(value).decode()))
    declared = yaml.safe_load((ESTATE / "apps/odoo/overlays/staging/mailpit-ui-auth.yaml")
                              .read_text(encoding="utf-8"))
    for value in declared["stringData"].values():
        values.update((value, base64.b64encode(value.encode()).decode()))
    return {v for v in values if len(v) >= 12}


def test_no_secret_value_in_any_file_of_the_bundle(tmp_path: Path) -> None:
    """The nonprod cluster holds the patched Secret: its drift is in the report, its values
    are in no file of the bundle, history database included."""
    out = tmp_path / "bundle"
    code, err = _report(out, LIVE / NONPROD, NONPROD, "2026-11-26T02:30:00Z")
    assert code == 1 or code == 0
    assert "mailpit-ui-auth" in (out / "report.html").read_text()
    values = _secret_values()
    assert values
    for path in out.iterdir():
        content = path.read_bytes()
        leaked = [v for v in values if v.encode() in content]
        assert leaked == [], path.name
    assert not [v for v in values if v in err]
