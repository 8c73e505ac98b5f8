"""Files written so that a crash never leaves half of one, and the one lock of a workspace operation.

* :func:`atomic_write` writes a whole file under a temporary name, flushes it and renames it over the
  target (reports, status pages, letters, the mailbox's copies); temporary files of killed writers are
  removed by the next writer of the same name (:func:`process_alive`, on POSIX and Windows);
* :func:`write_atomic` renames without flushing, for a caller that flushes many files at once with
  :func:`make_durable` (one syncfs per filesystem on Linux, else an fsync per file, then the folders);
* :class:`Lock` — one process at a time (intake, the mailbox): an OS lock released when the process dies.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from glob import escape as glob_escape
from pathlib import Path
from typing import BinaryIO

from .errors import ConsolidateError


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # hidden: a clerk never sees a half-written report
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def process_alive(pid: int) -> bool:
    """Whether a process runs: os.kill(pid, 0) on POSIX; OpenProcess + GetExitCodeProcess on Windows."""
    if os.name == "posix":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # alive, another user's
            return True
        return True
    import ctypes  # pragma: no cover - Windows
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]  # Windows only
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # type: ignore[attr-defined]  # access denied: it exists; 87 (invalid parameter): no such process
    try:
        code = wintypes.DWORD()
        return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _remove_stale_temps(path: Path) -> None:
    """Remove temporary files of ``path`` left by writers that were killed (their process is gone)."""
    prefix, suffix = f".{path.name}.", ".tmp"
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(prefix) : -len(suffix)]
        if not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # Windows: still open somewhere
            continue


def fsync_dir(path: Path) -> None:
    if os.name != "posix":  # Windows cannot open a directory; NTFS journals the rename itself
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows flushes only a handle open for writing
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_syncfs():
    """Linux's syncfs(2) (flush one filesystem), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


_SYNCFS = _load_syncfs()


def syncfs(folders: Iterable[Path]) -> bool:
    """Flush the filesystem of every folder (once per filesystem); False if syncfs is unavailable or failed."""
    if _SYNCFS is None:
        return False
    done: set[int] = set()
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            dev = os.fstat(fd).st_dev
            if dev not in done:
                if _SYNCFS(fd) != 0:
                    return False
                done.add(dev)
        finally:
            os.close(fd)
    return True


def make_durable(files: set[Path]) -> None:
    """Flush written files, and the renames that named them, to disk.

    One syncfs per filesystem flushes every file written since the last barrier at the cost of a couple of
    fsyncs (an fsync per file cost more than reading the file); without it, an fsync per file.  Then an
    fsync per folder (cheap once the filesystem is flushed).
    """
    folders = sorted({f.parent for f in files})
    if not syncfs(folders):
        for path in sorted(files):
            fsync_file(path)
    for folder in folders:
        fsync_dir(folder)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file under its name by a rename, so the name never shows a half-written file.

    Not flushed here: the caller makes it durable with :func:`make_durable` (the intake's barrier)
    before anything depends on it surviving a power cut.
    """
    tmp = path.with_name(f".{path.name}.tmp")  # one writer per name (the lock, one job per sha256): a crash
    try:  # leaves it to be overwritten
        fh = open(tmp, "wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(tmp, "wb")
    with fh:
        fh.write(data)
    os.replace(tmp, path)


class Lock:
    """An exclusive OS lock on ``path`` (fcntl on POSIX, msvcrt on Windows), released when the process dies.

    Waits up to ``wait`` seconds for another holder, then raises ``ConsolidateError(message)``.
    """

    def __init__(self, path: Path, message: str, wait: float | None = 0.0):
        self.path, self.message = Path(path), message
        self.fh: BinaryIO | None = None  # open while held
        if wait is not None:
            self.wait = wait

    def __enter__(self):
        self.fh = fh = open(self.path, "a+b")
        deadline = time.monotonic() + float(self.wait)
        while True:
            try:
                _try_lock(fh)
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise ConsolidateError(self.message) from None
                time.sleep(0.1)

    def __exit__(self, *exc):
        assert self.fh is not None  # opened by __enter__
        self.fh.close()
        return False


def _try_lock(fh) -> None:
    if os.name == "posix":
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only
