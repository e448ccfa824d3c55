"""The run folder's inbox: whole lines, each read once, from any number of writers."""

from __future__ import annotations

import json
import multiprocessing

from yolo_hooks.control.commands import from_request, new_id
from yolo_hooks.control.inbox import INBOX, InboxReader, post


def write_many(folder: str, writer: int, count: int) -> None:
    for i in range(count):
        post(folder, from_request({"command": "stop", "reason": f"writer {writer} line {i} " + "x" * 200},
                                  id=new_id(), sender=f"w{writer}"))


def test_lines_from_several_processes_are_read_whole_and_once(tmp_path):
    reader = InboxReader(tmp_path / INBOX)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    writers = [context.Process(target=write_many, args=(str(tmp_path), w, 200))
               for w in range(4)]
    for p in writers:
        p.start()
    seen = []
    while any(p.is_alive() for p in writers):
        seen += reader.read()
    for p in writers:
        p.join()
    seen += reader.read()
    assert len(seen) == 800 and all(isinstance(line, dict) for line in seen)
    assert len({line["id"] for line in seen}) == 800
    assert reader.offset == (tmp_path / INBOX).stat().st_size


def test_a_line_still_being_written_waits_and_a_bad_line_is_shown_as_text(tmp_path):
    path = tmp_path / INBOX
    reader = InboxReader(path)
    assert reader.read() == [] and reader.size() == 0  # no inbox yet
    path.write_bytes(b'{"id": "a", "name": "save"}\nnot json\n{"id": "b", "na')
    assert reader.read() == [{"id": "a", "name": "save"}, "not json"]
    with open(path, "ab") as f:
        f.write(b'me": "status"}\n')
    assert reader.read() == [{"id": "b", "name": "status"}] and reader.read() == []


def test_a_new_run_starts_after_what_the_folder_held_and_a_replaced_file_is_read_again(tmp_path):
    path = tmp_path / INBOX
    path.write_text(json.dumps({"id": "old", "name": "stop"}) + "\n")
    reader = InboxReader(path)
    reader.skip_to_end()
    assert reader.read() == []
    path.write_text(json.dumps({"id": "n", "name": "save"}) + "\n")  # truncated and written again by hand
    assert [line["id"] for line in reader.read()] == ["n"]
