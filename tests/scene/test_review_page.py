"""The review page of a real run, in a real browser (headless chromium over the DevTools protocol): it shows every
event of the run, a filter narrows them (and goes into the address), an address with filters opens filtered, and
clicking an event shows its images and records."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, Browser

pytestmark = [pytest.mark.training,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")]

VISIBLE = "document.querySelectorAll('article.event:not([hidden])')"


def wait_for(browser: Browser, condition: str, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not browser.evaluate(condition):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def choose(browser: Browser, select: str, value: str) -> None:
    browser.evaluate(f"(() => {{ const s = document.getElementById('{select}'); s.value = '{value}'; "
                     "s.dispatchEvent(new Event('change')); })()")


def test_the_page_of_a_real_run_shows_its_events_and_a_filter_narrows_them(scene_runs, tmp_path):
    _, run = scene_runs[0]
    starts = [r for r in run["records"] if r["kind"] == "detection"]
    folder = Path(starts[0]["image"]).parent
    dwell = [r for r in starts if r["rule"] == "dwell"]
    assert len(starts) > len(dwell) > 0
    with Browser(tmp_path) as browser:
        browser.open(folder.joinpath("index.html").as_uri())
        assert browser.evaluate(f"{VISIBLE}.length") == len(starts)
        assert browser.evaluate("document.getElementById('count').textContent") == f"{len(starts)} of {len(starts)} events"
        thumbs = browser.evaluate(f"[...{VISIBLE}].map(a => a.querySelector('img').getAttribute('src'))")
        assert all((folder / name).is_file() for name in thumbs)  # loaded lazily: the files they point to
        assert wait_for(browser, f"{VISIBLE}[0].querySelector('img').naturalWidth > 0"), "the first thumbnail"
        newest = browser.evaluate(f"{VISIBLE}[0].dataset.id")
        assert newest == max(starts, key=lambda r: r["time"])["event_id"]  # newest first

        choose(browser, "f-rule", "dwell")
        assert browser.evaluate(f"{VISIBLE}.length") == len(dwell)
        assert browser.evaluate(f"[...{VISIBLE}].map(a => a.dataset.rule)") == ["dwell"] * len(dwell)
        assert browser.evaluate("location.hash") == "#rule=dwell"
        choose(browser, "f-camera", "no_such_camera")  # not an option: the select falls back to all cameras
        assert browser.evaluate(f"{VISIBLE}.length") == len(dwell)

        browser.open(folder.joinpath("index.html").as_uri() + f"#camera={starts[0]['camera']}&rule=enter")
        enter = [r for r in starts if r["rule"] == "enter"]
        assert browser.evaluate(f"{VISIBLE}.length") == len(enter) > 0

        browser.evaluate(f"{VISIBLE}[0].click()")
        assert browser.evaluate("document.getElementById('sheet').open")
        body = browser.evaluate("document.getElementById('sheet-body').textContent")
        shown = browser.evaluate(f"{VISIBLE}[0].dataset.id")
        assert shown in body and "detection_end" in body  # its records: the alert and its end
        assert wait_for(browser, "[...document.querySelectorAll('#sheet-body img')].every(i => i.naturalWidth > 0) "
                                 "&& document.querySelectorAll('#sheet-body img').length > 0")
