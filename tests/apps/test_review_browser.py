"""End to end in a real Chromium: `medtl review` on a small scoring output, driven with Playwright."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from medtl.review.sample import write_sample_scores
from medtl.review.scores import load_scores
from medtl.review.store import DecisionStore
from medtl.review.worklist import build_worklist

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REVIEWER = "Dr Playwright"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"medtl review exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"server not up after {timeout}s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` (bounded). While Streamlit reruns, old and new elements can coexist for a
    moment, so a Playwright error (e.g. two matches) just means "not yet"."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except PlaywrightError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _settle(page) -> None:
    """Wait until the current rerun has finished (no element marked stale)."""
    page.wait_for_timeout(300)
    _wait_for(lambda: page.locator('[data-stale="true"]').count() == 0, what="the rerun to finish")


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label`` (a click during a rerun may
    only focus the box: retry, bounded)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box, item = page.get_by_role("combobox", name=label), page.get_by_role("option", name=option, exact=True)
    for _ in range(5):
        _settle(page)
        if not item.is_visible():
            box.click()
        try:
            item.click(timeout=3_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"could not choose {option!r} in {label!r}")


def _caption(page) -> str:
    return page.get_by_test_id("stImageCaption").first.inner_text()


@contextlib.contextmanager
def _browser_on(out: Path, db: Path, tmp_path: Path):
    """``medtl review`` on ``out`` in its own session, and a Chromium page; yields (page, url)."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (`.ci/run` installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    log, port = tmp_path / "server.log", _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "medtl.cli.main", "review", "--scores", str(out), "--db", str(db), "--port", str(port)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(proc, url, log)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                yield page, url
            finally:
                browser.close()
    finally:
        _stop(proc)


def test_review_in_a_real_browser(tmp_path):
    out = write_sample_scores(tmp_path / "out", tmp_path / "inputs", task="classification", spatial_dims=3, n_cases=4)
    db = tmp_path / "review.sqlite"
    with _browser_on(out, db, tmp_path) as (page, url):
        _drive(page, url, tmp_path, out)
    decisions = DecisionStore(db).history()
    assert [(d.action, d.reviewer) for d in decisions] == [("accept", REVIEWER), ("correct", REVIEWER)]
    assert decisions[0].comment == "a rim artefact"


def _drive(page, url: str, tmp_path: Path, out: Path) -> None:
    page.goto(url)
    accept = page.get_by_role("button", name="Accept")
    accept.wait_for()
    assert accept.is_disabled()  # no reviewer name yet
    name = page.get_by_role("textbox", name="Reviewer name")
    name.fill(REVIEWER)
    name.press("Enter")
    _wait_for(accept.is_enabled, what="Accept to be enabled")
    db = DecisionStore(out.parent / "review.sqlite")

    # open the second case of the worklist, change window preset and slice
    # the worklist opens on the least certain case; click the third row of the table to open that case
    order = [r.case_id for r in build_worklist(load_scores(out).cases.values(), {})]
    case_box = page.get_by_role("combobox", name="Case")
    assert case_box.input_value() == order[0]
    _settle(page)
    grid = page.get_by_test_id("stDataFrame").first.bounding_box()
    page.mouse.click(grid["x"] + 15, grid["y"] + 35 * 3 + 17)  # the row-selection column, third row
    _wait_for(lambda: case_box.input_value() == order[2], what="the clicked case to open")
    _pick(page, "Case", order[1])  # and the case picker
    target = order[1]
    _wait_for(lambda: case_box.input_value() == target, what="the picked case to open")
    _pick(page, "Window preset", "CT bone")
    _wait_for(lambda: "window -770 to 1730" in _caption(page), what="the bone window")
    slider = page.get_by_test_id("stMain").get_by_role("slider").first
    before = int(_caption(page).split()[2])  # "axial slice 7 · window ..."
    _settle(page)
    slider.focus()
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    _wait_for(lambda: _caption(page).startswith(f"axial slice {before + 2} "), what="the slice to move")

    # the coronal plane of a 0.8 x 0.8 x 2.5 mm volume keeps its physical proportions (38.4 x 30 mm)
    _settle(page)
    page.get_by_text("coronal", exact=True).click()
    _wait_for(lambda: _caption(page).startswith("coronal"), what="the coronal plane")
    img = page.get_by_test_id("stImage").locator("img").first
    size = _wait_for(lambda: (wh := img.evaluate("e => e.complete ? [e.naturalWidth, e.naturalHeight] : [0, 0]"))[1]
                     and wh, what="the coronal image to load")
    assert size[0] / size[1] == pytest.approx(38.4 / 30.0, rel=0.03)

    # typing in the comment box must not trigger the shortcuts (A accept, X reject, N next)
    comment = page.get_by_role("textbox", name="Comment")
    comment.click()
    page.keyboard.type("a rim artefact")
    page.get_by_role("heading", name="medtl review").click()  # leave the box: the comment is kept
    _settle(page)
    assert db.count() == 0
    page.keyboard.press("a")  # accept, by keyboard
    _wait_for(lambda: db.count() == 1, what="the accept decision")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)

    # next case by keyboard, then correct it to the other class
    _settle(page)
    page.keyboard.press("n")
    _wait_for(lambda: page.get_by_role("combobox", name="Case").input_value() not in ("", target),
              what="the next case")
    correct = page.get_by_role("combobox", name="Correct class")
    _settle(page)
    other = "absent" if "present" in correct.input_value() else "present"
    _pick(page, "Correct class", other)
    _settle(page)
    page.get_by_role("button", name="Save correction").click()
    _wait_for(lambda: db.count() == 2, what="the correction")
    assert db.history()[-1].new_value == other
    # a browser refresh loses nothing: the worklist still counts both decisions
    page.reload()
    _wait_for(lambda: "2/4 reviewed" in page.get_by_test_id("stSidebar").inner_text(), what="the reloaded worklist")
    assert (tmp_path / "review.png").stat().st_size > 10_000


def test_segmentation_triage_in_a_real_browser(tmp_path):
    """Segmentation worklist: opens on the most uncertain case at its most uncertain slice; the
    flag filter narrows the case list; flags show as badges with their reason."""
    out = write_sample_scores(tmp_path / "out", tmp_path / "inputs", task="segmentation", spatial_dims=3, n_cases=6)
    cases = load_scores(out).cases
    order = [r.case_id for r in build_worklist(cases.values(), {})]
    assert [cases[c].uncertainty for c in order] == sorted((c.uncertainty for c in cases.values()), reverse=True)
    flagged = [c for c in order if any(code == "empty" for code, _ in cases[c].flags)]
    with _browser_on(out, tmp_path / "review.sqlite", tmp_path) as (page, url):
        page.goto(url)
        case_box = page.get_by_role("combobox", name="Case")
        _wait_for(lambda: case_box.input_value() == order[0], what="the most uncertain case")
        hot = cases[order[0]].uncertain_slices["axial"]
        _wait_for(lambda: _caption(page).startswith(f"axial slice {hot + 1} (highest model uncertainty)"),
                  what="the most uncertain slice")
        _pick(page, "Quality flag", "empty")
        page.keyboard.press("Escape")  # a multiselect stays open after a choice
        _settle(page)
        case_box.click()
        options = _wait_for(lambda: page.get_by_role("option").all_inner_texts(), what="the case list")
        page.keyboard.press("Escape")
        listed = [o for o in options if o in flagged or o != order[0]]
        assert listed == flagged  # only flagged cases, most uncertain first (the open case may lead)
        _pick(page, "Case", flagged[-1])
        _wait_for(lambda: case_box.input_value() == flagged[-1], what="the flagged case")
        main = page.get_by_test_id("stMain")
        _wait_for(lambda: "nothing segmented" in main.inner_text(), what="the flag's reason")
        hot = cases[flagged[-1]].uncertain_slices["axial"]
        _wait_for(lambda: _caption(page).startswith(f"axial slice {hot + 1} (highest model uncertainty)"),
                  what="the flagged case's most uncertain slice")
        assert page.get_by_text("Entropy map (model uncertainty, not a finding)").count() == 1
