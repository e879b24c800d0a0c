"""The nightly HTML in a real headless Chromium (Debian's `chromium`, driven by Playwright):
it loads with nothing fetched and no script error, lays out without sideways scrolling,
draws the trend, sorts and filters; a full-page screenshot is kept as a CI artifact
(`$GITOPS_CHECKER_ARTIFACTS`, default `.artifacts/` at the repository root)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.nightly.history import History, Observation

REPO_ROOT = Path(__file__).resolve().parents[2]
ESTATE = REPO_ROOT / "fixtures" / "estates" / "odoo-finance"
LIVE = REPO_ROOT / "fixtures" / "live" / "odoo-finance" / "prod-eu-central-1"
CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes advise: no background traffic, no first-run, no sandbox as root.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of nights: six recorded in the history directly (varying counts, so the trend
    has a shape), then tonight's real run."""
    out = tmp_path_factory.mktemp("browser") / "bundle"
    history = History(out / "history.sqlite")
    for day, (policy, drift) in zip(range(20, 26), [(18, 9), (17, 8), (17, 6), (16, 7),
                                                     (15, 5), (15, 6)], strict=True):
        seen = [Observation(f"p{i}", "RES001", "high", "resources", "x") for i in range(policy)]
        seen += [Observation(f"d{i}", "DRF003", "high", "drift", "y") for i in range(drift)]
        history.record("odoo-finance@prod-eu-central-1",
                       dt.datetime(2026, 11, day, 2, 30, tzinfo=dt.UTC), "0.1", seen,
                       drift=drift, errors=0)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["report", str(ESTATE), "--cluster", "prod-eu-central-1", "--live", str(LIVE),
              "--out", str(out), "--at", "2026-11-26T02:30:00Z"])
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), ("Debian's chromium is needed (apt-get install chromium; "
                               ".ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, bundle: Path) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text)
            if message.type in ("error", "warning") else None)
    page.goto((bundle / "report.html").as_uri())
    page.wait_for_load_state("load")
    yield page
    assert problems == []
    assert requests == [(bundle / "report.html").as_uri()]  # nothing else fetched
    page.close()


def _artifacts() -> Path:
    directory = Path(os.environ.get("GITOPS_CHECKER_ARTIFACTS") or REPO_ROOT / ".artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_layout_fits_the_window_and_summary_is_above_the_fold(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    cards = page.locator("#summary .card")
    assert cards.count() == 5
    for index in range(cards.count()):
        box = cards.nth(index).bounding_box()
        assert box is not None and box["y"] + box["height"] < 900
    assert page.locator("#summary").bounding_box()["y"] < page.locator(  # type: ignore[index]
        "#details").bounding_box()["y"]  # type: ignore[index]


def test_summary_tables_do_not_overlap(page: Any) -> None:
    boxes = [page.locator(f"#{name}").bounding_box()
             for name in ("by-tier", "by-category", "by-namespace")]
    for index, a in enumerate(boxes):
        for b in boxes[index + 1:]:
            assert a is not None and b is not None
            apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                     or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert apart, (a, b)


def test_the_trend_chart_is_drawn(page: Any) -> None:
    chart = page.locator("#trend svg")
    box = chart.bounding_box()
    assert box is not None and box["width"] >= 600 and box["height"] >= 200
    assert page.locator("#trend circle.dot.findings").count() == 7
    assert page.locator("#trend circle.dot.drift").count() == 7
    # The lines are really painted: non-zero length and a visible stroke.
    length = page.evaluate("document.querySelector('#trend polyline.drift').getTotalLength()")
    assert length > 300
    stroke = page.evaluate("getComputedStyle(document.querySelector('#trend polyline.drift'))"
                           ".stroke")
    assert stroke not in ("none", "rgba(0, 0, 0, 0)")


def test_tables_sort_by_a_click(page: Any) -> None:
    table = page.locator("section.namespace table.findings").nth(1)  # erp-prod: several rows
    header = table.locator("thead th").nth(2)  # object
    header.click()
    ascending = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert ascending == sorted(ascending, key=str.lower)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    descending = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert descending == sorted(ascending, key=str.lower, reverse=True)
    severity = table.locator("thead th").nth(0)
    severity.click()
    ranks = [int(r) for r in table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-severity'))")]
    assert ranks == sorted(ranks)


def test_filters_hide_what_does_not_match(page: Any) -> None:
    rows = page.locator("section.namespace tbody tr")
    total = rows.count()
    page.fill("#filter", "kubectl-edit")
    visible = page.locator("section.namespace tbody tr:not(.hidden)")
    assert visible.count() == 1
    assert "12Gi" in visible.first.inner_text()
    assert page.locator("section.namespace:not(.hidden)").count() == 1
    page.fill("#filter", "")
    page.check("#only-drift")
    assert page.locator("section.namespace tbody tr:not(.hidden)").count() == 5
    page.uncheck("#only-drift")
    page.select_option("#min-severity", label="critical")
    shown = page.locator("section.namespace tbody tr:not(.hidden)").count()
    assert 0 < shown < total


def test_full_page_screenshot_is_kept(page: Any, bundle: Path) -> None:
    target = _artifacts() / "nightly-report.png"
    page.screenshot(path=str(target), full_page=True)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width == 1280 and height > 2000
    assert len(data) > 100_000  # a page of text, tables and a chart, not a blank canvas
    shutil.copy(bundle / "report.html", _artifacts() / "nightly-report.html")
