"""LibreOffice headless conversions and poppler helpers.

Every LibreOffice run is bounded by ``timeout`` (with a kill after 5 s more), uses its own
throw-away user profile (so it never collides with a desktop LibreOffice or another run),
reads nothing from stdin and runs one at a time in this process.  ``recalc=True`` makes
LibreOffice recalculate every formula on load (``OOXMLRecalcMode``/``ODFRecalcMode`` = 0,
"always"); without it LibreOffice keeps the cached values written by xlsxwriter.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .errors import ConsolidateError

SOFFICE_NAMES = ("soffice", "libreoffice")
KILL_AFTER = 5  # seconds between SIGTERM (timeout) and SIGKILL
_LOCK = threading.Lock()

_RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
</oor:items>
"""

INSTALL_HINT = "встановіть LibreOffice (наприклад: apt-get install libreoffice-calc-nogui libreoffice-writer-nogui)"
POPPLER_HINT = "встановіть poppler-utils (наприклад: apt-get install poppler-utils)"


def find_soffice() -> str | None:
    """Path of the LibreOffice executable, or None when LibreOffice is not installed."""
    for name in SOFFICE_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _tail(text: bytes | str | None, limit: int = 400) -> str:
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[-limit:]


def _run(cmd: list[str], what: str, timeout: int) -> subprocess.CompletedProcess:
    """Run a bounded command; a missing program, a timeout or a failure become ConsolidateError."""
    timeout_bin = shutil.which("timeout")
    full = [timeout_bin, "-k", str(KILL_AFTER), str(int(timeout)), *cmd] if timeout_bin else cmd
    try:
        proc = subprocess.run(
            full, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + KILL_AFTER + 10, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ConsolidateError(f"{what}: перевищено час очікування ({timeout} с)") from exc
    except OSError as exc:
        raise ConsolidateError(f"{what}: не вдалося запустити «{cmd[0]}» ({exc.strerror})") from exc
    if timeout_bin and proc.returncode in (124, 137):
        raise ConsolidateError(f"{what}: перевищено час очікування ({timeout} с), процес зупинено")
    return proc


def convert(src: Path, fmt: str, outdir: Path, timeout: int = 120, recalc: bool = False) -> Path:
    """Convert ``src`` with LibreOffice into ``outdir``; return the path of the converted file.

    ``fmt`` is a LibreOffice ``--convert-to`` target: "pdf", "xlsx", "ods", "xls",
    or with a filter ("xlsx:Calc MS Excel 2007 XML").  The result is named like ``src``
    with the new extension; when that is ``src`` itself, convert into another folder.
    """
    soffice = find_soffice()
    if soffice is None:
        raise ConsolidateError(f"LibreOffice не знайдено: {INSTALL_HINT}")
    src = Path(src).resolve()
    if not src.is_file():
        raise ConsolidateError(f"Файл для перетворення не знайдено: {src}")
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    ext = fmt.split(":", 1)[0].strip().lower()
    target = outdir / f"{src.stem}.{ext}"
    if target == src:
        raise ConsolidateError(f"Перетворення «{src.name}» у {ext} перезаписало б сам файл: вкажіть іншу теку")
    what = f"LibreOffice, перетворення «{src.name}» у {ext}"
    with _LOCK, tempfile.TemporaryDirectory(prefix="consolidate-lo-") as profile:
        profile_dir = Path(profile)
        if recalc:
            user = profile_dir / "user"
            user.mkdir(parents=True, exist_ok=True)
            (user / "registrymodifications.xcu").write_text(_RECALC_XCU, encoding="utf-8")
        if target.exists():
            target.unlink()
        cmd = [
            soffice,
            f"-env:UserInstallation={profile_dir.as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(src),
        ]
        proc = _run(cmd, what, timeout)
        if not target.is_file() or target.stat().st_size == 0:
            detail = _tail(proc.stderr) or _tail(proc.stdout)
            raise ConsolidateError(f"{what}: не вдалося (код {proc.returncode}){': ' + detail if detail else ''}")
    return target


def pdf_to_png(
    pdf: Path, png_prefix: Path, first_page: int = 1, last_page: int = 1, dpi: int = 80, timeout: int = 60
) -> list[Path]:
    """Render pages of a PDF to PNG with pdftoppm; return the PNG paths in page order.

    With a single page the file is ``<png_prefix>.png``; with several, pdftoppm's
    ``<png_prefix>-<n>.png``.
    """
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise ConsolidateError(f"pdftoppm не знайдено: {POPPLER_HINT}")
    pdf = Path(pdf)
    if not pdf.is_file():
        raise ConsolidateError(f"PDF не знайдено: {pdf}")
    png_prefix = Path(png_prefix)
    png_prefix.parent.mkdir(parents=True, exist_ok=True)
    single = first_page == last_page
    cmd = [pdftoppm, "-png", "-r", str(int(dpi)), "-f", str(int(first_page)), "-l", str(int(last_page))]
    if single:
        cmd.append("-singlefile")
    cmd += [str(pdf), str(png_prefix)]
    what = f"pdftoppm, «{pdf.name}»"
    proc = _run(cmd, what, timeout)
    if proc.returncode != 0:
        raise ConsolidateError(f"{what}: не вдалося (код {proc.returncode}): {_tail(proc.stderr)}")
    if single:
        out = [png_prefix.with_name(png_prefix.name + ".png")]
    else:
        out = sorted(png_prefix.parent.glob(png_prefix.name + "-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        out = [p for p in out if first_page <= int(p.stem.rsplit("-", 1)[1]) <= last_page]
    missing = [p for p in out if not p.is_file()]
    if not out or missing:
        raise ConsolidateError(f"{what}: зображення сторінок не створено")
    return out


def pdf_text(pdf: Path, timeout: int = 60) -> str:
    """The text of a PDF (pdftotext, UTF-8, reading order)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        raise ConsolidateError(f"pdftotext не знайдено: {POPPLER_HINT}")
    pdf = Path(pdf)
    if not pdf.is_file():
        raise ConsolidateError(f"PDF не знайдено: {pdf}")
    what = f"pdftotext, «{pdf.name}»"
    proc = _run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], what, timeout)
    if proc.returncode != 0:
        raise ConsolidateError(f"{what}: не вдалося (код {proc.returncode}): {_tail(proc.stderr)}")
    return proc.stdout.decode("utf-8", "replace")
