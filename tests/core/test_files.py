"""State files are rewritten in place every epoch: always whole JSON, whatever the length, even after a SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

from yolo_hooks.core.files import PAGE, read_json, read_json_text, rewrite_json_text


def state(size: int) -> str:
    return json.dumps({"epoch": size, "state": {"history": "x" * size}})


def test_a_state_file_is_rewritten_in_place_and_a_shorter_state_still_parses(tmp_path):
    path = tmp_path / "early_stop.state.json"
    rewrite_json_text(path, state(300))
    inode = path.stat().st_ino
    rewrite_json_text(path, state(10))
    assert path.stat().st_ino == inode  # the same file, no new inode and rename
    assert read_json(path) == json.loads(state(10))
    assert path.stat().st_size == len(state(300))  # padded with spaces: it never shrinks, so no stale tail
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_new_state_file_or_one_over_a_page_is_replaced_atomically(tmp_path):
    path = tmp_path / "new" / "notify.state.json"
    rewrite_json_text(path, state(10))  # the folder and the file are made through a temporary file and a rename
    assert read_json(path) == json.loads(state(10))
    inode = path.stat().st_ino
    rewrite_json_text(path, state(PAGE))
    assert path.stat().st_ino != inode and read_json(path) == json.loads(state(PAGE))
    rewrite_json_text(path, state(10))  # padded to over a page: replaced again, back to its own length
    assert path.stat().st_size == len(state(10)) and read_json(path) == json.loads(state(10))


WRITER = """
import json, sys
from yolo_hooks.core.files import rewrite_json_text
path, i = sys.argv[1], 0
print("ready", flush=True)
while True:
    i += 1
    rewrite_json_text(path, json.dumps({"epoch": i, "state": {"history": "x" * (i * 37 % 3000)}}))
"""


def test_a_state_file_rewritten_when_the_process_is_killed_still_parses(tmp_path):
    path = tmp_path / "val_loss_alert.state.json"
    for attempt in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.03 * attempt)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        saved = read_json(path)
        assert isinstance(saved, dict) and saved["epoch"] >= 1, (attempt, path.read_bytes()[:80])
        assert len(saved["state"]["history"]) == saved["epoch"] * 37 % 3000  # one version, not a mix of two


def test_a_reader_during_the_run_gets_one_version_whole(tmp_path):
    path = tmp_path / "lr_on_plateau.state.json"
    rewrite_json_text(path, state(1))
    stop = threading.Event()

    def rewrite():
        i = 0
        while not stop.is_set():
            i += 1
            rewrite_json_text(path, state(i * 31 % 2000))

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        reads = [read_json_text(path) for _ in range(10000)]
    finally:
        stop.set()
        writer.join()
    whole = [json.loads(data) for data in reads if data is not None]
    assert whole and all(len(s["state"]["history"]) == s["epoch"] for s in whole)
    (tmp_path / "torn.state.json").write_text('{"epoch": 3, "sta')
    assert read_json_text(tmp_path / "torn.state.json") is None
    assert read_json_text(tmp_path / "missing.state.json") is None
