"""The review page as data (events grouped and ordered, nothing that could close its script element) and
`yolo-hooks review DIR` serving it on loopback. The page in a real browser: tests/scene/test_review_page.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from yolo_hooks.detection.review import events_of, render

ROOT = Path(__file__).resolve().parents[2]


def summaries() -> list[dict]:
    return [
        {"kind": "detection", "event_id": "e1", "rule": "gate", "camera": "a", "class": "person", "wall": 10.0,
         "time": "2026-12-01T10:00:00Z", "image": "/x/e1_frame3.jpg", "sheet": "/x/e1_frame3_sheet.jpg",
         "sheet_tiles": 5},
        {"kind": "detection", "event_id": "e2", "rule": "yard", "camera": "b", "class": "car", "wall": 20.0,
         "time": "2026-12-01T10:00:10Z", "image": "/x/e2_frame9.jpg", "message": "</script><b>"},
        {"kind": "detection_end", "event_id": "e1", "rule": "gate", "camera": "a", "wall": 30.0, "duration": 4.5,
         "frames": 40, "best_conf": 0.91, "image": "/x/e1_best.jpg", "first_image": "/x/e1_frame3.jpg"},
    ]  # fmt: skip


def test_events_are_grouped_newest_first_with_their_best_frame_once_they_end():
    first, second = events_of(summaries())[::-1]
    assert (first["id"], first["duration"], first["thumb"], first["image"], first["tiles"]) == \
        ("e1", 4.5, "e1_best.jpg", "e1_frame3.jpg", 5)  # fmt: skip
    assert [r["kind"] for r in first["records"]] == ["detection", "detection_end"]
    assert (second["id"], second["duration"], second["thumb"]) == ("e2", None, "e2_frame9.jpg")  # still going on


def test_the_embedded_events_cannot_close_the_script_element():
    page = render(summaries(), "alerts")
    assert page.count("</script>") == 2 and "<\\/script><b>" in page
    data = page.split('<script id="events" type="application/json">')[1].split("</script>")[0]
    assert [e["id"] for e in json.loads(data)] == ["e2", "e1"]


def test_yolo_hooks_review_writes_the_page_and_serves_the_folder_on_loopback(tmp_path):
    folder = tmp_path / "run" / "alerts"
    folder.mkdir(parents=True)
    (folder / "e1_frame3.jpg").write_bytes(b"jpeg bytes")
    (folder / "alerts.jsonl").write_text("".join(json.dumps({**s, "time": "2026-12-01T10:00:00Z"}) + "\n"
                                                 for s in summaries()))  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "yolo_hooks.cli", "review", str(tmp_path), "port=0"],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        line = process.stdout.readline()
        assert f"2 events in {folder}" in line
        url = line.split(": ", 2)[2].split()[0]
        assert url.startswith("http://127.0.0.1:")
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert '"id": "e1"' in page and "Detection alerts" in page
        assert urllib.request.urlopen(url + "e1_frame3.jpg", timeout=10).read() == b"jpeg bytes"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    assert (folder / "index.html").exists()


def test_yolo_hooks_review_says_when_there_is_no_alerts_folder(tmp_path, capsys):
    from yolo_hooks import cli

    assert cli.main(["review", str(tmp_path)]) == 1
    assert "no alerts.jsonl in or below" in capsys.readouterr().err
