"""Durable file writes, torn-tail repair and the run directory's lock."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from ..exceptions import RunDirectoryBusyError

try:  # POSIX advisory locks; released by the OS when the holder dies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["write_atomic", "write_with", "fsync_dir", "repair_tail", "RunLock"]


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_with(path: Path, write) -> None:
    """Write a file through ``write(tmp_path)``, fsync it, then rename it into place.

    A reader (or a resumed run) sees the old file or the whole new one, never a
    half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"))
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` durably and atomically to ``path``."""

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    write_with(path, write)


def repair_tail(path: Path) -> int:
    """Cut a torn or corrupted last line off a JSON-lines file; returns the bytes removed.

    A process killed while appending leaves a line without its newline; a
    damaged disk block may leave a line that is not JSON.  Such lines at the
    end are dropped so that appending can go on; every complete line before
    them is kept.
    """
    path = Path(path)
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = len(data)
    while keep > 0:
        end = keep if data[keep - 1 : keep] == b"\n" else data.rfind(b"\n", 0, keep) + 1
        if end < keep:  # a torn line with no newline
            keep = end
            continue
        start = data.rfind(b"\n", 0, keep - 1) + 1
        if _is_json(data[start:keep]):
            break
        keep = start
    removed = len(data) - keep
    if removed:
        with open(path, "rb+") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    return removed


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


class RunLock:
    """An exclusive lock on a run directory, held while one process writes it.

    It is an OS advisory lock (``flock``): a crashed or killed holder releases
    it, so a stale lock never blocks ``resume``.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = None

    def acquire(self) -> "RunLock":
        self._file = open(self.path, "a+")
        if fcntl is None:  # pragma: no cover
            return self
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise RunDirectoryBusyError(
                f"run directory {self.path.parent} is in use by another evoens process "
                f"(pid {holder}); wait for it to finish, or use another run directory"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()
        return self

    def release(self) -> None:
        if self._file is None:
            return
        if fcntl is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None
