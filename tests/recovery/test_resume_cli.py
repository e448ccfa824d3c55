"""`yolo-hooks resume` refuses what it cannot verify, with a reason, and leaves no unverified checkpoint behind."""

from __future__ import annotations

import hashlib
import json

from yolo_hooks.cli import main


def test_a_mirror_without_last_json_says_how_to_get_one(tmp_path, capsys):
    (tmp_path / "mirror").mkdir()
    assert main(["resume", str(tmp_path / "mirror"), f"dir={tmp_path / 'run'}"]) == 1
    assert "last_every" in capsys.readouterr().err


def test_a_last_pt_that_does_not_match_its_sha256_is_not_resumed(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "last.pt").write_bytes(b"torn checkpoint")
    (mirror / "last.json").write_text(json.dumps({"file": "last.pt", "size": 15,
                                                  "sha256": hashlib.sha256(b"whole checkpoint").hexdigest()}))
    assert main(["resume", str(mirror), f"dir={tmp_path / 'run'}"]) == 1
    assert "does not match last.json" in capsys.readouterr().err
    assert not (tmp_path / "run" / "weights" / "last.pt").exists()
