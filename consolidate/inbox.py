"""Receiving returned files: archive, quarantine, ledger, and the inbox.

For every file, in order of modification time:

1. read its bytes and sha256; bytes already in the ledger are "вже отримано" (nothing recorded);
2. send the bytes to a reader process, which copies them into ``archive/<sha[:2]>/<sha>.<ext>``
   (temporary file, rename; made durable in step 6) and then reads them with
   :func:`consolidate.intake.read_return`;
3. a rejected file is also copied into ``quarantine/<sha>.<ext>`` with ``<sha>.<ext>.txt`` beside it giving the reasons;
4. record it in the ledger, atomically (:meth:`consolidate.ledger.Ledger.record`: a savepoint of a write
   transaction shared by the files recorded since the last commit; committed at least every
   ``GROUP_SECONDS`` and at every barrier);
5. only after a durability barrier (every ``BARRIER_EVERY`` files: the archive and quarantine files
   written or found since the last barrier are flushed to disk — one ``syncfs`` of the filesystem on
   Linux, an fsync per file elsewhere — then the folders that received them, then the ledger's open
   transaction is committed and made durable, :meth:`~consolidate.ledger.Ledger.sync`), take it out of
   the inbox: its bytes are durable in the archive and recorded, so the inbox copy is removed after
   checking it is still the same file.  The flush waits for the disk in a thread while the next files
   are read and recorded; the next barrier begins only after this one is complete.

Killed at any point (kill -9) and run again, intake loses no file and records none twice: until the
barrier, every file of the group is still in the inbox and a transaction not committed is rolled back
whole, so those files are simply processed again (archive writes are idempotent); once committed, a
file is known by its sha256.  After a power cut, a file not yet through a
barrier is still in the inbox, and an archive copy that did not reach the disk is written again
when it is received again (its content is checked against its sha256).  Paths outside the workspace inbox are read
but never moved.  Archive and quarantine names come from the sha256 and the detected format only;
the original name is kept as data.

Reading runs in worker processes: a file that crashes the reader (python-calamine aborts the process
when a sheet claims an absurd size) costs that file, not the intake (this process then writes its
archive copy itself), and two cores read and archive in parallel while this process alone writes the
ledger.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import multiprocessing
import multiprocessing.connection
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import intake
from .errors import ConsolidateError
from .fileutil import Lock
from .fileutil import make_durable as _make_durable
from .fileutil import write_atomic as _write_atomic
from .ledger import FileRecord, Ledger
from .model import ACCEPTED_ERRORS, QUARANTINED, Finding, Return
from .vocabulary import FileStatus
from .workspace import Workspace

ALREADY = FileStatus.ALREADY  # the same bytes were received before
NOT_READ = FileStatus.NOT_READ  # the file could not be read from disk (permissions, vanished)
OUTCOME_LABELS: dict[str, str] = {
    state: state.label for state in FileStatus
}  # labels from consolidate.vocabulary, in that order
FAILED_STATES = (ACCEPTED_ERRORS, QUARANTINED, NOT_READ)

LOCK_FILE = ".intake.lock"
LOCK_WAIT = 15.0  # seconds to wait for another intake (or its exiting workers) to finish
IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
IN_FLIGHT_PER_WORKER = 4  # files handed to a reader and not yet recorded (readers never wait for the ledger)
BYTES_IN_FLIGHT = 64 * 1024 * 1024  # … and at most this many bytes of them (one bigger file is still taken)
MAX_WORKERS = 4
READ_ATTEMPTS = 2  # a file that crashes the reader twice is quarantined
POLL_SECONDS = 0.5  # how often an idle worker checks that intake is still alive
# fork on Linux: a reader starts in milliseconds with the catalogue already prepared; elsewhere the
# platform's default (spawn: the catalogue is sent to each reader) is the safe choice.
# Reader processes: forked on Linux (cheap, the catalogue inherited); spawned elsewhere (Windows has no fork; the
# catalogue is pickled to each reader).  CONSOLIDATE_START_METHOD=spawn runs Linux the Windows way (the tests do).
START_METHOD = os.environ.get("CONSOLIDATE_START_METHOD") or ("fork" if sys.platform.startswith("linux") else None)
BARRIER_EVERY = 100  # recorded files between two durability barriers (inbox removal waits for one)
GROUP_SECONDS = 1.0  # the ledger's write transaction is committed at least this often (other writers wait)


@dataclass
class Outcome:
    """What happened to one file."""

    path: Path
    name: str
    sha256: str = ""
    state: FileStatus | str = ""  # a FileStatus once the file is dealt with
    executor: str | None = None
    period: str | None = None
    findings: list[Finding] = field(default_factory=list)
    record: FileRecord | None = None
    superseded: int | None = None
    moved: bool = False  # removed from the inbox after recording
    note: str = ""  # why a file was not read from disk

    @property
    def label(self) -> str:
        return FileStatus.of(self.state).label


def collect(ws: Workspace, paths: list[Path] | None = None) -> list[tuple[Path, bool]]:
    """Files to receive, oldest first: (path, whether it lies in the workspace inbox)."""
    inbox = ws.inbox.resolve()
    roots = [Path(p) for p in paths] if paths else [ws.inbox]
    found: dict[Path, os.stat_result] = {}
    for root in roots:
        if not root.exists():
            raise ConsolidateError(f"Шлях «{root}» не існує.")
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            rel_parts = path.relative_to(root).parts if path != root else (path.name,)
            if any(_hidden(part) for part in rel_parts) or path.name.casefold() in IGNORED_NAMES:
                continue
            resolved = path.resolve()
            if resolved not in found:
                found[resolved] = path.stat()
    ordered = sorted(found.items(), key=lambda item: (item[1].st_mtime_ns, str(item[0])))
    return [(path, path.is_relative_to(inbox)) for path, _ in ordered]


def _hidden(name: str) -> bool:
    """Hidden files and editors' lock files (".~lock.Звіт.xlsx#", "~$Звіт.xlsx") are not returns.

    A name that starts with ".." ("..\\..\\звіт.xlsx" from a crafted attachment) is no hidden file: it is received.
    """
    return name.startswith("~$") or (name.startswith(".") and not name.startswith(".."))


def original_name(path: Path) -> str:
    """A file's name as data: bytes that are not UTF-8 and control characters shown as U+FFFD.

    The name is the sender's text; it is kept in the ledger and shown, never used as a path.
    """
    raw = os.fsencode(path.name).decode("utf-8", "replace")
    return _CONTROL.sub("\ufffd", raw)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def archive_suffix(data: bytes) -> str:
    """Extension of the archive copy, from the content (cheap checks; the reader decides what it reads)."""
    if data.startswith(b"PK\x03\x04"):
        # ODF puts an uncompressed "mimetype" entry first; zip entry names are stored in the clear.
        if data[30:38] == b"mimetype" and data[38 : 38 + len(intake.ODS_MIME)] == intake.ODS_MIME:
            return "ods"
        if b"xl/workbook.xml" in data:
            return "xlsm" if b"xl/vbaProject.bin" in data else "xlsx"
        fmt = intake.sniff_format(data)
        return fmt if fmt in intake.FORMATS else "zip"
    fmt = intake.sniff_format(data)
    if fmt in intake.FORMATS:
        return fmt
    return "pdf" if data.startswith(b"%PDF") else "bin"


def run_intake(
    ws: Workspace,
    paths: list[Path] | None = None,
    *,
    workers: int | None = None,
    on_start: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    received_at: dt.datetime | None = None,
    names: dict[Path, str] | None = None,
) -> list[Outcome]:
    """Receive every file of ``paths`` (default: the workspace inbox, recursively).

    ``received_at`` pins the time recorded as "received" (the demo replays 2025 dates); default: now.
    ``names`` gives the original name of a file saved under another one (an upload through the web
    console is stored under a random name; the sender's name is data, never a path).
    """
    files = collect(ws, paths)
    if not files:
        if on_start:
            on_start(0)
        return []
    ws.ensure_dirs()
    catalogue = ws.catalogue
    from .history import attach_years

    attach_years(ws, catalogue)  # the workspace's other years; what older template versions differ in
    intake.prepare(catalogue)  # computed once here, inherited by the workers
    count = _worker_count(workers, len(files))
    # Workers start before the lock, the ledger and any thread exist: they inherit none of them.
    pool = _ReaderPool(catalogue, count) if count else None
    try:
        if on_start:
            on_start(len(files))
        with (
            _Lock(ws.root / LOCK_FILE),
            Ledger(ws.ledger_path) as ledger,
            ledger.group(),
            ThreadPoolExecutor(1, thread_name_prefix="consolidate-flush") as flusher,
        ):
            return _Intake(ws, ledger, catalogue, pool, flusher, on_outcome, received_at, names).run(files)
    finally:
        if pool is not None:
            pool.close()


def _worker_count(workers: int | None, files: int) -> int:
    if workers is None:
        workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    return max(0, min(workers, files))


# ---------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------


@dataclass
class _Job:
    index: int
    outcome: Outcome
    from_inbox: bool
    stat: os.stat_result
    size: int
    archive_rel: str
    suffix: str
    received_at: str
    data: bytes | None  # kept only until its archive copy is known to exist; None for a repeat


class _Intake:
    def __init__(
        self,
        ws: Workspace,
        ledger: Ledger,
        catalogue,
        pool,
        flusher: ThreadPoolExecutor,
        on_outcome,
        received_at: dt.datetime | None = None,
        names: dict[Path, str] | None = None,
    ):
        self.received_at = received_at
        self.names = {Path(p).resolve(): name for p, name in (names or {}).items()}
        self.ws, self.ledger, self.catalogue, self.pool = ws, ledger, catalogue, pool
        self.on_outcome = on_outcome
        self.outcomes: list[Outcome] = []
        self.results: dict[int, tuple[Return, bool]] = {}  # index → (what was read, archive copy written)
        self.recorded: list[tuple[Outcome, bool, os.stat_result]] = []  # waiting for the durability barrier
        self.unsynced: set[Path] = set()  # archive, quarantine files to flush
        self.flusher = flusher  # the thread that flushes them
        self.flushing: tuple[Future, list] | None = None  # a barrier's flush, and its files
        self.inflight: set[str] = set()  # sha256 read or archived, not yet recorded

    def run(self, files: list[tuple[Path, bool]]) -> list[Outcome]:
        waiting: deque[_Job] = deque()
        limit = IN_FLIGHT_PER_WORKER * (len(self.pool.workers) if self.pool else 1)
        in_flight = 0  # bytes of the waiting files
        for index, (path, from_inbox) in enumerate(files):
            job = self._prepare(index, path, from_inbox)
            if job is not None:
                waiting.append(job)
                in_flight += job.size
            while len(waiting) >= limit or (len(waiting) > 1 and in_flight > BYTES_IN_FLIGHT):
                done = waiting.popleft()
                in_flight -= done.size
                self._finish(done)
            if len(self.recorded) >= BARRIER_EVERY:
                self._barrier()
            else:
                if self.flushing is not None and self.flushing[0].done():
                    self._complete_barrier()
                began = self.ledger.uncommitted_since
                if began is not None and time.monotonic() - began > GROUP_SECONDS:
                    self.ledger.commit()
        while waiting:
            self._finish(waiting.popleft())
        self._barrier()
        self._complete_barrier()
        return self.outcomes

    def _emit(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)

    def _copy(self, path: Path, data: bytes, sha: str) -> None:
        _ensure_copy(path, data, sha)
        self._touched(path)

    def _touched(self, path: Path) -> None:
        """A file written, or found already written, since the last barrier: the barrier makes it durable.

        One found already written may be the unsynced copy of a run that was killed: it is synced all the same.
        """
        self.unsynced.add(path)

    def _barrier(self) -> None:
        """Start making the archive and quarantine files written so far durable; see :meth:`_complete_barrier`.

        The flush (a syncfs, or an fsync per file) runs in a thread, waiting for the disk while this thread goes
        on feeding the readers and recording; the previous barrier is completed first, so barriers stay in order.
        """
        self._complete_barrier()
        files, self.unsynced = self.unsynced, set()
        batch, self.recorded = self.recorded, []
        self.flushing = (self.flusher.submit(_make_durable, files), batch)

    def _complete_barrier(self) -> None:
        """Wait for the barrier's flush, make the ledger durable, then take the barrier's files out of the inbox.

        The ledger's open transaction is committed here (if not before): the files' archive copies are on disk by then.
        """
        if self.flushing is None:
            return
        flushed, batch = self.flushing
        self.flushing = None
        flushed.result()
        if batch:
            self.ledger.sync()
        for outcome, from_inbox, stat in batch:
            if from_inbox:
                outcome.moved = _retire(outcome.path, stat)
            self._emit(outcome)

    def _prepare(self, index: int, path: Path, from_inbox: bool) -> _Job | None:
        given = self.names.get(path.resolve())
        outcome = Outcome(path, _CONTROL.sub("\ufffd", given) if given else original_name(path))
        try:
            stat = path.stat()
            data = path.read_bytes()
        except OSError as exc:
            outcome.state, outcome.note = NOT_READ, exc.strerror or str(exc)
            self._emit(outcome)
            return None
        outcome.sha256 = sha = hashlib.sha256(data).hexdigest()
        known = self.ledger.file(sha) if self.ledger.has_file(sha) else None
        if known is not None:
            self._copy(self.ws.root / known.archive_path, data, sha)  # restores an archive copy gone missing
            self._already(outcome, known, from_inbox, stat)
            return None
        if sha in self.inflight:  # the same bytes earlier in this run: recorded by then, nothing to read or write
            return _Job(index, outcome, from_inbox, stat, len(data), "", "", "", None)
        self.inflight.add(sha)
        suffix = archive_suffix(data)
        archive_rel = f"archive/{sha[:2]}/{sha}.{suffix}"
        if self.pool is None:
            _ensure_copy(self.ws.root / archive_rel, data, sha)
            self.results[index] = (read_guarded(data, outcome.name, sha, self.catalogue), True)
        else:  # the worker archives and reads these very bytes
            self.pool.submit(index, data, outcome.name, sha, str(self.ws.root / archive_rel))
        received_at = (self.received_at or dt.datetime.now()).astimezone().isoformat(timespec="seconds")
        return _Job(index, outcome, from_inbox, stat, len(data), archive_rel, suffix, received_at, data)

    def _already(self, outcome: Outcome, known: FileRecord, from_inbox: bool, stat: os.stat_result) -> None:
        outcome.state, outcome.record = ALREADY, known
        outcome.executor, outcome.period = known.executor, known.period
        self.recorded.append((outcome, from_inbox, stat))

    def _finish(self, job: _Job) -> None:
        outcome = job.outcome
        if job.data is None:
            known = self.ledger.file(outcome.sha256)
            assert known is not None  # a repeat: the job with these bytes was finished (and recorded) before it
            self._already(outcome, known, job.from_inbox, job.stat)
            return
        while job.index not in self.results:
            index, ret, copied = self.pool.next_result()
            self.results[index] = (ret, copied)
        ret, copied = self.results.pop(job.index)
        archived = self.ws.root / job.archive_rel
        if not copied:  # the reader crashed or could not write it: the archive copy exists before the ledger says so
            _ensure_copy(archived, job.data, outcome.sha256)
        self._touched(archived)
        status = intake.status_of(ret)
        if status == QUARANTINED:
            self._quarantine(job, ret)
        job.data = None
        receipt = self.ledger.record(
            ret,
            status=status,
            original_name=outcome.name,
            size=job.size,
            received_at=job.received_at,
            archive_path=job.archive_rel,
            fmt=job.suffix,
        )
        self.inflight.discard(outcome.sha256)
        if receipt.duplicate:  # recorded meanwhile by another intake
            self._already(outcome, receipt.file, job.from_inbox, job.stat)
            return
        outcome.state, outcome.record, outcome.superseded = status, receipt.file, receipt.superseded
        outcome.executor, outcome.period, outcome.findings = ret.executor, ret.period, ret.findings
        self.recorded.append((outcome, job.from_inbox, job.stat))

    def _quarantine(self, job: _Job, ret: Return) -> None:
        target = self.ws.quarantine / f"{ret.sha256}.{job.suffix}"
        assert job.data is not None  # _finish holds the bytes until the file is recorded
        self._copy(target, job.data, ret.sha256)
        note = quarantine_note(job.outcome.name, job.received_at, ret, job.size, target.name).encode("utf-8")
        _write_atomic(target.with_name(target.name + ".txt"), note)
        self._touched(target.with_name(target.name + ".txt"))


def quarantine_note(name: str, received_at: str, ret: Return, size: int, kept_as: str) -> str:
    lines = [
        "Файл не прийнято (карантин).",
        "",
        f"Файл: {name}",
        f"Отримано: {received_at}",
        f"Розмір: {size} байт",
        f"SHA-256: {ret.sha256}",
        f"Збережено без змін: {kept_as}",
    ]
    if ret.executor:
        lines.append(f"Виконавець (за файлом): {ret.executor}")
    if ret.period:
        lines.append(f"Звітний період (за файлом): {ret.period}")
    lines += ["", "Причини:"]
    for f in ret.findings:
        where = ", ".join(
            x for x in (f"аркуш «{f.sheet}»" if f.sheet else "", f"клітинка {f.cell}" if f.cell else "") if x
        )
        lines.append(f"  • [{f.severity}] {f.message}" + (f" ({where})" if where else ""))
        if f.found or f.expected:
            lines.append(f"      знайдено: {f.found or '—'}; очікується: {f.expected or '—'}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------


def _ensure_copy(path: Path, data: bytes, sha: str) -> bool:
    """Make ``path`` hold exactly ``data`` (named by its sha256); True if it had to be written."""
    try:
        if path.stat().st_size == len(data) and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
            return False
    except FileNotFoundError:
        pass
    _write_atomic(path, data)
    return True


def _retire(path: Path, seen: os.stat_result) -> bool:
    """Remove a recorded file from the inbox, unless it changed since it was read (then the next run takes it).

    Any write to the file changes its size, modification or change time (the change time cannot be set by
    programs), and a replaced file has another inode.
    """
    try:
        now = path.stat()
        if _identity(now) != _identity(seen):
            return False
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _identity(st: os.stat_result) -> tuple:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


class _Lock(Lock):
    """One intake per workspace at a time (fileutil.Lock: an OS lock, released when the process dies)."""

    def __init__(self, path: Path):
        super().__init__(
            path, f"У робочій теці вже триває прийом звітів (заблоковано {path}); дочекайтеся його завершення."
        )

    def __enter__(self):
        self.wait = LOCK_WAIT  # read when taken: other intakes' exiting workers may hold it a moment
        return super().__enter__()


def intake_lock(ws) -> _Lock:
    """The workspace's intake lock (for other operations that change what intake writes: quarantine assign)."""
    return _Lock(ws.root / LOCK_FILE)


# ---------------------------------------------------------------------------------
# reader processes
# ---------------------------------------------------------------------------------

RETIRE_GROWTH_BYTES = 64 * 1024 * 1024  # a reader this much larger than it started, after a file, is replaced
RETIRE = "retire"  # what a reader says after its last answer


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def _should_retire(start: int) -> bool:
    """After a large file: the freed heap handed back to the system; a reader still much larger than it started
    (``start``: its size after the fork, the parent's pages included) retires.

    Memory freed by Python's and the C allocator often stays with the process, so a reader that read a large
    file would otherwise carry it into the next one (two large files in a row took one reader to ~280 MB).
    """
    if not start or _resident_bytes() <= start + RETIRE_GROWTH_BYTES:
        return False
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return _resident_bytes() > start + RETIRE_GROWTH_BYTES


def read_guarded(data: bytes, name: str, sha: str, catalogue) -> Return:
    """:func:`consolidate.intake.read_return`, and any failure it did not foresee — an exception or a Rust panic
    (a ``BaseException``) — a quarantined return with a Ukrainian reason instead of a traceback."""
    try:
        return intake.read_return(data, name, catalogue)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # one untrusted file must not stop the intake
        finding = intake.reasons.from_exception(name, exc).finding
        return Return(name, sha, None, None, None, [], [finding])


def _worker_main(conn, catalogue, parent_pid: int) -> None:
    """Read files sent by the intake process until told to stop or orphaned."""
    gc.freeze()  # objects inherited from the parent: never scanned by this process's collector
    start = _resident_bytes()
    # Not niced: readers do most of the work, and a niced reader loses its core to every other program of the
    # machine (the intake process itself mostly waits for them).
    while True:
        try:
            if not conn.poll(POLL_SECONDS):
                if os.getppid() != parent_pid:
                    return
                continue
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        index, data, name, sha, archive = job
        copied = False
        if archive:  # first the archive copy (intake writes it itself if this fails or the process dies reading)
            try:
                _ensure_copy(Path(archive), data, sha)
                copied = True
            except OSError:
                pass
        ret = read_guarded(data, name, sha, catalogue)
        # The values travel as plain tuples (a named tuple pickles through a Python call per value); only the
        # ledger reads them, and it takes any sequence of CellValue's fields.
        ret.values = [tuple(v) for v in ret.values]  # type: ignore[misc]  # plain tuples of CellValue's fields
        conn.send((index, ret, copied))
        del ret, data, job
        if _should_retire(start):
            try:
                conn.send(RETIRE)
            except OSError:
                pass
            return


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: multiprocessing.connection.Connection
    jobs: deque = field(default_factory=deque)  # (index, bytes, name, sha, archive path) sent, not yet answered


class _ReaderPool:
    def __init__(self, catalogue, size: int):
        self.ctx: Any = multiprocessing.get_context(START_METHOD)  # a context of START_METHOD (has Process)
        self.catalogue = catalogue
        self.attempts: dict[int, int] = {}
        self.workers = [self._start() for _ in range(size)]

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(
            target=_worker_main, args=(child, self.catalogue, os.getpid()), daemon=True, name="consolidate-reader"
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, index: int, data: bytes, name: str, sha: str, archive: str) -> None:
        worker = min(self.workers, key=lambda w: len(w.jobs))
        if not worker.jobs and not worker.process.is_alive():  # died idle (killed from outside): replace it
            worker = self._restart(worker)
        job = (index, data, name, sha, archive)
        worker.jobs.append(job)
        try:
            worker.conn.send(job)
        except OSError:  # it died meanwhile: next_result() sees the death and sends its jobs again
            pass

    def next_result(self) -> tuple[int, Return, bool]:
        """The next answer of any worker (index, what was read, archive copy written); a worker that died is
        replaced and its jobs sent again."""
        while True:
            busy = [w for w in self.workers if w.jobs]
            ready: list = [w.conn for w in busy if w.conn.poll()]  # an answer already waiting: no need to block
            if not ready:
                ready = multiprocessing.connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    try:
                        if worker.conn.poll():
                            answer = worker.conn.recv()
                            if answer == RETIRE:  # it has answered its last job and exits: a fresh one reads the rest
                                self._retire(worker)
                                break
                            worker.jobs.popleft()
                            return answer
                    except (EOFError, OSError):  # its end of the pipe is gone: it is dying or dead
                        worker.process.join(timeout=5)
                        if worker.process.is_alive():
                            worker.process.kill()
                            worker.process.join()
                    if not worker.process.is_alive():
                        crashed = self._replace(worker)
                        if crashed is not None:
                            return crashed

    def _restart(self, dead: _Worker) -> _Worker:
        dead.conn.close()
        dead.process.join()
        self.workers.remove(dead)
        fresh = self._start()
        self.workers.append(fresh)
        return fresh

    def _retire(self, worker: _Worker) -> None:
        """A reader that retired: joined, replaced, and the jobs it had not answered sent again (not attempts)."""
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        self._restart(worker)
        for job in list(worker.jobs):
            self.submit(*job)

    def _replace(self, dead: _Worker) -> tuple[int, Return, bool] | None:
        """Restart a worker that died; its first job crashed it: retried once, then reported as crashing."""
        self._restart(dead)
        jobs = list(dead.jobs)
        index, _, name, sha, _ = jobs[0]
        self.attempts[index] = self.attempts.get(index, 0) + 1
        crashed = None
        if self.attempts[index] >= READ_ATTEMPTS:
            crashed = (index, Return(name, sha, None, None, None, [], [intake.crash_finding(name)]), False)
            jobs = jobs[1:]
        for job in jobs:
            self.submit(*job)
        return crashed

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
