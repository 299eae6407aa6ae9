"""Content-addressed artifact files.

A file is named by the sha256 of its bytes, written atomically (temporary file,
fsync, rename) and checked against that hash before it is read. Rows in the
database hold the hash, never a path. A missing or altered file raises
:class:`ArtifactError` with a message a person can act on.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Protocol

_CHUNK = 1 << 20


class ArtifactError(Exception):
    """An artifact is missing or does not match its recorded sha256."""


class Artifacts(Protocol):
    def put_bytes(self, data: bytes) -> str: ...
    def put_file(self, path: Path) -> str: ...
    def path(self, sha256: str) -> Path: ...
    def read_bytes(self, sha256: str) -> bytes: ...
    def remove(self, sha256: str) -> None: ...


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _valid_hash(sha256: str) -> bool:
    return len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FileArtifacts:
    """Artifacts in a folder: ``root/ab/abcdef…``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # (sha, size, mtime_ns) already verified by this process: a hash is
        # checked once per file version, not on every read of a large file.
        self._verified: set[tuple[str, int, int]] = set()
        self._lock = threading.Lock()

    def _location(self, sha256: str) -> Path:
        if not _valid_hash(sha256):
            raise ArtifactError(f"'{sha256}' is not a sha256 artifact name")
        return self.root / sha256[:2] / sha256

    def _commit(self, tmp: Path, sha256: str) -> str:
        target = self._location(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and sha256_file(target) == sha256:
            tmp.unlink(missing_ok=True)
            return sha256
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return sha256

    def _tempfile(self) -> tuple[BinaryIO, Path]:
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir)
        return os.fdopen(fd, "wb"), Path(name)

    def put_bytes(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        fh, tmp = self._tempfile()
        try:
            with fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            return self._commit(tmp, sha)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(self, path: Path) -> str:
        """Copy a file in, hashing it as it streams."""
        digest = hashlib.sha256()
        fh, tmp = self._tempfile()
        try:
            with fh, open(path, "rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            return self._commit(tmp, digest.hexdigest())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def move_in(self, path: Path, sha256: str | None = None) -> str:
        """Take ownership of a file written elsewhere under root (no copy)."""
        sha = sha256 or sha256_file(path)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        if Path(path).resolve().parent.parent != self.root.resolve():
            fh2, tmp = self._tempfile()
            fh2.close()
            shutil.move(str(path), tmp)
            path = tmp
        return self._commit(Path(path), sha)

    def scratch_path(self, suffix: str = "") -> Path:
        """A temporary path under root for writers that need a file name."""
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def path(self, sha256: str) -> Path:
        """The verified path of an artifact; raises if missing or altered."""
        target = self._location(sha256)
        try:
            stat = target.stat()
        except FileNotFoundError:
            raise ArtifactError(
                f"artifact {sha256[:12]}… is missing from {self.root}; "
                "the store's files were moved or deleted"
            ) from None
        key = (sha256, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._verified:
                return target
        actual = sha256_file(target)
        if actual != sha256:
            raise ArtifactError(
                f"artifact {sha256[:12]}… does not match its recorded sha256 "
                f"(found {actual[:12]}…); it was altered on disk and will not be loaded"
            )
        with self._lock:
            self._verified.add(key)
        return target

    def read_bytes(self, sha256: str) -> bytes:
        target = self._location(sha256)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise ArtifactError(
                f"artifact {sha256[:12]}… is missing from {self.root}"
            ) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactError(
                f"artifact {sha256[:12]}… does not match its recorded sha256; "
                "it was altered on disk and will not be loaded"
            )
        return data

    def exists(self, sha256: str) -> bool:
        return self._location(sha256).exists()

    def remove(self, sha256: str) -> None:
        self._location(sha256).unlink(missing_ok=True)
