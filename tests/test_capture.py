"""Capture files: large request payloads kept beside the database, read back by reference."""
from __future__ import annotations

import orjson
import pytest

from storage.capture import CaptureError, CaptureFiles, is_reference


def test_payloads_are_appended_and_read_back_by_reference(tmp_path):
    files = CaptureFiles(tmp_path)
    first = files.append("host:123", [b'{"columns": {"a": [1, 2]}}', b'{"columns": {"a": [3]}}'])
    second = files.append("host:123", [b'{"columns": {"a": [4]}}'])
    assert all(is_reference(r) for r in first + second)
    assert first[0]["capture"] == first[1]["capture"] == second[0]["capture"]
    assert first[0]["capture"].endswith("/host_123.jsonl")
    assert [files.load(r) for r in first + second] == [
        {"columns": {"a": [1, 2]}}, {"columns": {"a": [3]}}, {"columns": {"a": [4]}}]
    # plain JSON lines, readable with any tool
    lines = (tmp_path / first[0]["capture"]).read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines][2] == {"columns": {"a": [4]}}
    assert files.append("w", []) == []


@pytest.mark.parametrize("ref", [
    {"capture": "capture/../../etc/passwd", "offset": 0, "length": 10},
    {"capture": "/etc/passwd", "offset": 0, "length": 10},
    {"capture": "capture/2026120500/x.jsonl", "offset": -1, "length": 10},
    {"capture": "capture/2026120500/x.jsonl", "offset": "zero", "length": 10},
    {"offset": 0, "length": 1},
])
def test_references_outside_the_capture_folder_are_refused(tmp_path, ref):
    files = CaptureFiles(tmp_path)
    with pytest.raises(CaptureError):
        files.read(ref)
    assert files.load(ref) is None


def test_a_truncated_or_missing_file_reads_as_unknown_inputs(tmp_path):
    files = CaptureFiles(tmp_path)
    ref = files.append("w", [b'{"columns": {"a": [1, 2, 3]}}'])[0]
    path = tmp_path / ref["capture"]
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(CaptureError, match="shorter"):
        files.read(ref)
    assert files.load(ref) is None
    path.unlink()
    assert files.load(ref) is None
