"""Uploads: multipart bodies streamed to disk under random names, and one intake at a time.

A browser's files arrive as ``multipart/form-data``.  :func:`receive` parses the body as it streams
(python-multipart's push parser), writing each file part into ``.uploads/<random>/<n>.part`` inside
the workspace; the sender's file name is kept as data only.  The size cap counts every byte of the
body while it streams: past it the staging folder is removed and nothing else is written.

:class:`IntakeQueue` runs the intake in one thread.  Uploads that arrive while an intake runs wait
and are then received together in the next run (twenty clerks' files cost one intake, not twenty);
the intake's own workspace lock still guards against other processes (the CLI, a second console).
The status files are rewritten once the queue has been quiet for a moment, not after every run.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

STAGING = ".uploads"
MAX_FILES = 200
GATHER_SECONDS = 0.05  # an intake waits this long for uploads sent at the same moment to join it
QUIET_SECONDS = 0.5  # the status files are rewritten once no upload has arrived for this long


class UploadError(Exception):
    """A body that cannot be received; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Staged:
    path: Path
    name: str  # the sender's file name: data, never a path
    size: int = 0


@dataclass
class Upload:
    folder: Path
    files: list[Staged] = field(default_factory=list)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class _Parsing:
    """What the parser's callbacks share: the headers of the current part, the file it is written to."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytes = b""
    header_value: bytes = b""
    out: BinaryIO | None = None  # open while a file part streams, with current its Staged
    current: Staged | None = None


def display_name(raw: bytes) -> str:
    """The file name a browser sent, as text: the last component of any path, never empty."""
    text = raw.decode("utf-8", "replace")
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text[:255] or "без назви"


def _cap_message(cap: int) -> str:
    return (
        f"Завантаження більше за дозволені {cap // (1024 * 1024)} МБ за один раз: нічого не прийнято. "
        f"Надішліть файли меншими частинами або попросіть адміністратора змінити [web] upload_limit_mb."
    )


async def receive(request, root: Path, cap: int) -> Upload:
    """Stream the request's multipart body into a fresh staging folder of ``root``; the upload's files."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadError("Очікується форма з файлами (multipart/form-data).", 415)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise UploadError(_cap_message(cap), 413)
    folder = Path(root) / STAGING / secrets.token_hex(16)
    folder.mkdir(parents=True)
    upload = Upload(folder)
    state = _Parsing()

    def on_header_field(data, start, end):
        state.header_name += data[start:end]

    def on_header_value(data, start, end):
        state.header_value += data[start:end]

    def on_header_end():
        state.headers[state.header_name.lower()] = state.header_value
        state.header_name, state.header_value = b"", b""

    def on_headers_finished():
        _, opts = parse_options_header(state.headers.get(b"content-disposition", b""))
        if b"filename" in opts and opts[b"filename"]:
            if len(upload.files) >= MAX_FILES:
                raise UploadError(f"Забагато файлів за один раз (більше {MAX_FILES}).", 413)
            staged = Staged(folder / f"{len(upload.files):04d}.part", display_name(opts[b"filename"]))
            upload.files.append(staged)
            state.current = staged
            state.out = open(staged.path, "wb")

    def on_part_data(data, start, end):
        if state.out is not None and state.current is not None:
            state.out.write(data[start:end])
            state.current.size += end - start

    def on_part_end():
        if state.out is not None:
            state.out.close()
        state.out, state.current, state.headers = None, None, {}

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > cap:
                raise UploadError(_cap_message(cap), 413)
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        _close(state)
        upload.discard()
        raise
    except Exception as exc:  # a malformed body (python-multipart raises its own errors) or a broken connection
        _close(state)
        upload.discard()
        raise UploadError(f"Не вдалося прийняти завантаження: {exc.__class__.__name__}.") from None
    _close(state)
    if not upload.files:
        upload.discard()
        raise UploadError("Не вибрано жодного файлу.")
    return upload


def _close(state: _Parsing) -> None:
    if state.out is not None:
        state.out.close()
        state.out = None


class IntakeQueue:
    """One intake thread; uploads waiting while it works are received together in its next run.

    ``run(paths, names)`` is the intake workflow; it returns the outcomes, each with ``.path``.
    """

    def __init__(self, run: Callable, after: Callable | None = None):
        self._run = run
        self._after = after  # after each run, once its uploads have their results (the status files)
        self._cond = threading.Condition()
        self._pending: list[tuple[Upload, Future]] = []
        self._thread = threading.Thread(target=self._loop, name="consolidate-intake", daemon=True)
        self._stopped = False
        self._dirty = False  # an intake ran and ``after`` has not run since
        self._thread.start()

    def submit(self, upload: Upload) -> Future:
        fut: Future = Future()
        with self._cond:
            self._pending.append((upload, fut))
            self._cond.notify()
        return fut

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _take(self) -> list[tuple[Upload, Future]] | None:
        """The uploads to receive next (None: stopped).  Runs ``after`` once the queue has been quiet."""
        dirty = False
        with self._cond:
            while not self._pending and not self._stopped:
                if dirty or self._dirty:
                    self._dirty = False
                    dirty = True
                    if not self._cond.wait(QUIET_SECONDS) and not self._pending and not self._stopped:
                        self._cond.release()
                        try:
                            self._run_after()
                        finally:
                            self._cond.acquire()
                        dirty = False
                else:
                    self._cond.wait()
            if self._stopped:
                return None
        time.sleep(GATHER_SECONDS)  # uploads sent together (several clerks, one drop of files) join one run
        with self._cond:
            batch, self._pending = self._pending, []
        return batch

    def _run_after(self) -> None:
        if self._after is not None:
            try:
                self._after()
            except Exception:  # noqa: BLE001 - a view of the ledger; the intake itself is done
                pass

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            paths = [f.path for upload, _ in batch for f in upload.files]
            names = {f.path: f.name for upload, _ in batch for f in upload.files}
            try:
                outcomes = self._run(paths, names)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting upload
                for _, fut in batch:
                    fut.set_exception(exc)
            else:
                by_path = {Path(o.path).resolve(): o for o in outcomes}
                for upload, fut in batch:
                    fut.set_result([by_path.get(f.path.resolve()) for f in upload.files])
            finally:
                for upload, _ in batch:
                    upload.discard()
                with self._cond:
                    self._dirty = True
