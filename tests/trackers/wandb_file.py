"""What an offline W&B run recorded, read from its ``run-<id>.wandb`` file (wandb 0.31 writes no
``wandb-summary.json`` offline, and its Python reader of that file is gone: the Go core writes it).

The file is a 7-byte header (``:W&B``, a magic number, a version), then LevelDB-log framed ``wandb_internal_pb2
.Record`` messages: 32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type: full, first, middle,
last).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Iterator

BLOCK = 32768


def chunks(path: Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    position, pending = 7, b""
    while position + 7 <= len(data):
        left = BLOCK - position % BLOCK
        if left < 7:  # a block's trailer
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        position += 7
        if kind == 0 and length == 0:
            break
        chunk, position = data[position:position + length], position + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk
            pending = b""


def read_run(path: Path) -> dict[str, Any]:
    """``{"alerts": [{title, text, level, wait_duration}], "summary": {key: value}}`` of an offline run file."""
    from wandb.proto import wandb_internal_pb2

    alerts, summary = [], {}
    for chunk in chunks(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        if kind == "alert":
            alerts.append({"title": record.alert.title, "text": record.alert.text, "level": record.alert.level,
                           "wait_duration": record.alert.wait_duration})
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return {"alerts": alerts, "summary": summary}
