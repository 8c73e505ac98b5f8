"""Files written so that a crash never leaves half of one.

:func:`atomic_write` writes a whole file under a temporary name, flushes it and renames it over the
target (reports, status pages, letters); temporary files of killed writers are removed by the next
writer of the same name (:func:`process_alive` tells a live writer from a dead one, on POSIX and Windows).
"""

from __future__ import annotations

import os
from glob import escape as glob_escape
from pathlib import Path


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

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # access denied: it exists; 87 (invalid parameter): no such process
    try:
        code = wintypes.DWORD()
        return not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _remove_stale_temps(path: Path) -> None:
    """Remove temporary files of ``path`` left by writers that were killed (their process is gone)."""
    prefix, suffix = f".{path.name}.", ".tmp"
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(prefix):-len(suffix)]
        if not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # Windows: still open somewhere
            continue
