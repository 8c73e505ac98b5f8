"""Loading the sheets with python-calamine, where a reader failure of any kind becomes a reason.

calamine is a Rust library: on input it did not foresee it may panic, and pyo3 turns the panic into
``PanicException``, a ``BaseException`` that ``except Exception`` lets through.  Here every failure of
the reader — error or panic — becomes an "unreadable" rejection with a Ukrainian reason, and the panic
message Rust writes to the process's stderr (with a backtrace when RUST_BACKTRACE is set) is captured
into the finding's developer detail instead of reaching the clerk's terminal.  The sheets' cells are
counted as they arrive, so a workbook of many moderate sheets stops at the workbook's cell limit.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

import python_calamine

from . import reasons
from .common import ENCRYPTED_MESSAGE, Reading
from .sheets import Sheet

_STDERR: dict[int, tuple[int, int, int]] = {}  # process id → (fd, device, inode) of the file stderr goes to


def _stderr_fd() -> int:
    """A temporary file of this process (reader processes are forked: each makes its own), as a raw descriptor.

    The descriptor is checked to be still that file before each use: a descriptor closed by other code and
    reused for another file is never written over; a new temporary file is made instead.
    """
    pid = os.getpid()
    known = _STDERR.get(pid)
    if known is not None:
        fd, dev, ino = known
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (dev, ino):
                return fd
        except OSError:
            pass
    fd, path = tempfile.mkstemp(prefix="consolidate-stderr-")
    os.unlink(path)
    st = os.fstat(fd)
    _STDERR.clear()
    _STDERR[pid] = (fd, st.st_dev, st.st_ino)
    return fd


@contextlib.contextmanager
def captured_stderr():
    """File descriptor 2 redirected to a temporary file; yields a function returning what was written."""
    if os.name != "posix":  # an open file cannot be unlinked there: read without capturing
        yield lambda: ""
        return
    try:
        fd = _stderr_fd()
        saved = os.dup(2)
    except OSError:  # no usable stderr or temporary directory: read without capturing
        yield lambda: ""
        return
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.dup2(fd, 2)

    def written() -> str:
        return os.pread(fd, 4000, 0).decode("utf-8", "replace")

    try:
        yield written
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_sheets(rd: Reading) -> None:
    """Every worksheet's values, from calamine (formulas are never evaluated)."""
    limit, total = rd.limits.max_workbook_cells, 0
    known = {sheet: rows * cols for sheet, rows, cols in (rd.xlsx.areas if rd.xlsx is not None else ())}
    with captured_stderr() as written:
        try:  # the very bytes that were checked (or their normalised copy), whatever the file on disk does meanwhile
            with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(rd.source)) as wb:
                for i, meta in enumerate(wb.sheets_metadata):
                    if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                        continue
                    if total + known.get(meta.name, 0) > limit:
                        raise rd.reject(
                            "too-large",
                            f"Аркуші книги разом займають понад {limit} клітинок: файл "
                            f"не прочитано до кінця. Видаліть зайві аркуші чи далекі "
                            f"клітинки і надішліть файл знову.",
                            found=f"> {limit}",
                            expected=f"≤ {limit} клітинок",
                        )
                    rows = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
                    total += sum(map(len, rows))
                    rd.sheets.append(Sheet(i, meta.name, rows))
        except python_calamine.PasswordError as exc:
            raise rd.reject("encrypted", ENCRYPTED_MESSAGE) from exc
        except BaseException as exc:  # the parser's boundary with untrusted bytes: any failure means unreadable
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)) or hasattr(exc, "finding"):
                raise
            rd.sheets.clear()
            raise reasons.from_exception(rd.name, exc, written().strip()) from None
        leftover = written()
    if leftover.strip():  # something calamine said without failing: not swallowed
        sys.stderr.write(leftover)
