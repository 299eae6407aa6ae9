"""Capture files: the inputs of large prediction requests, kept beside the database.

A request of many rows is one prediction-log row; its inputs (column-wise JSON, hundreds
of kilobytes for a thousand rows) would cost the database more to write than the service
spends predicting them. They are appended instead to a per-process capture file under the
artifact root, the way SageMaker Data Capture writes request payloads to S3, and the log
row keeps a small reference: ``{"capture": "capture/<YYYYMMDDHH>/<writer>.jsonl",
"offset": …, "length": …}``.

Each file has one writer (a service process: its name holds host and pid), which appends
and fsyncs a whole flush before the rows that point into it are committed, so a committed
row never points at bytes that are not on disk. Files are plain JSON lines, one payload per
line, readable with any tool. Several replicas on several machines share them through the
artifact root, as they share models.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^capture/\d{10}/[A-Za-z0-9._-]{1,80}\.jsonl$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class CaptureError(Exception):
    """A reference that does not point at a readable capture payload."""


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and "capture" in value and "offset" in value


class CaptureFiles:
    def __init__(self, root: Path):
        self.root = Path(root)   # the artifact root; files live under root/capture/

    def append(self, writer: str, payloads: list[bytes]) -> list[dict]:
        """Append ``payloads`` (JSON texts) to this writer's file for the current hour,
        fsync, and return one reference per payload."""
        if not payloads:
            return []
        name = _UNSAFE.sub("_", writer)[:80] or "writer"
        relative = f"capture/{time.strftime('%Y%m%d%H', time.gmtime())}/{name}.jsonl"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        refs = []
        with open(path, "ab") as handle:
            offset = handle.seek(0, os.SEEK_END)
            chunks = []
            for payload in payloads:
                refs.append({"capture": relative, "offset": offset, "length": len(payload)})
                chunks.append(payload)
                chunks.append(b"\n")
                offset += len(payload) + 1
            handle.write(b"".join(chunks))
            handle.flush()
            os.fsync(handle.fileno())
        return refs

    def read(self, ref: dict) -> bytes:
        """The payload a reference points at (checked: name, bounds, length)."""
        try:
            relative, offset, length = str(ref["capture"]), int(ref["offset"]), int(ref["length"])
        except (KeyError, TypeError, ValueError):
            raise CaptureError("not a capture reference") from None
        if not _NAME.match(relative) or offset < 0 or length < 0:
            raise CaptureError(f"not a capture reference: {relative!r}")
        try:
            with open(self.root / relative, "rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except OSError as exc:
            raise CaptureError(f"capture file {relative} cannot be read: {exc}") from None
        if len(data) != length:
            raise CaptureError(f"capture file {relative} is shorter than its log says")
        return data

    def prune(self, before: float) -> int:
        """Remove the hourly folders whose whole hour ended before ``before`` (epoch
        seconds); returns how many. Folders not named like ours are left alone."""
        import calendar
        import shutil

        removed = 0
        base = self.root / "capture"
        if not base.is_dir():
            return 0
        for folder in sorted(base.iterdir()):
            if not (folder.is_dir() and re.fullmatch(r"\d{10}", folder.name)):
                continue
            try:
                start = calendar.timegm(time.strptime(folder.name, "%Y%m%d%H"))
            except ValueError:
                continue
            if start + 3600 <= before:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def load(self, ref: dict) -> Any:
        """The decoded payload, or None when it is lost or damaged (the row still counts;
        its inputs are unknown)."""
        import orjson

        try:
            return orjson.loads(self.read(ref))
        except (CaptureError, orjson.JSONDecodeError):
            return None
