"""Render the reporting-status page (out/status.html) in headless Chromium and save docs/status.png.

    python3 tools/render_status_picture.py [--out docs/status.png]

The ledger is made up for the picture, two days after the 2024 deadline: most executors have
reported, some with warnings, two with errors, one late, three not at all (one of them sent a
file that could not be accepted).  Needs Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate.ledger import Ledger  # noqa: E402
from consolidate.model import (ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED,  # noqa: E402
                               WARNING, Finding, Return)
from consolidate.status import status_from_ledger, status_html  # noqa: E402
from consolidate.workspace import init_workspace  # noqa: E402

PERIOD = "2024"
AS_OF = dt.date(2025, 1, 22)
NOT_REPORTED = ("MKIP", "NAN", "UA-14")
REJECTED = "UA-14"
ERRORS = {"MON": 3, "UA-21": 1}
WARNINGS = {"NPU": 1, "UA-07": 2, "UA-46": 1, "DMS": 1}
LATE = "MINTSYFRY"


def _received(n: int) -> str:
    return f"2025-01-{8 + n % 12:02d}T{9 + n % 8:02d}:{(n * 7) % 60:02d}:00+02:00"


def build(ws) -> None:
    cat = ws.catalogue
    with Ledger(ws.ledger_path) as ledger:
        for n, code in enumerate(cat.expected_executors()):
            ledger.record_mail(executor=code, period=PERIOD, kind="template",
                               recipients=", ".join(cat.registry[code].emails), subject="Шаблон звіту",
                               attachment_name=f"{code}.xlsx", attachment_sha256="0" * 64, via="eml",
                               location=f"out/mail/{PERIOD}/template-{code}.eml", message_id=f"<t{n}@example.org>",
                               sent_at="2025-01-03T10:00:00+02:00")
            if code in NOT_REPORTED:
                continue
            findings = [Finding(f"{code}.xlsx", ERROR, "text-in-number", "Текст замість числа", "II. Виконання",
                                f"E{10 + i}") for i in range(ERRORS.get(code, 0))]
            findings += [Finding(f"{code}.xlsx", WARNING, "percent-over-100", "Відсоток понад 100", "II. Виконання",
                                 f"E{30 + i}") for i in range(WARNINGS.get(code, 0))]
            status = ACCEPTED_ERRORS if code in ERRORS else ACCEPTED_WARNINGS if code in WARNINGS else ACCEPTED
            sha = hashlib.sha256(code.encode()).hexdigest()
            name = f"Звіт {PERIOD} — {cat.registry[code].short_name}.xlsx"
            ret = Return(name, sha, code, PERIOD, cat.template_version, [], findings, "meta")
            received = "2025-01-21T16:40:00+02:00" if code == LATE else _received(n)
            ledger.record(ret, status=status, original_name=name, size=20000, received_at=received,
                          archive_path=f"archive/{sha[:2]}/{sha}.xlsx", fmt="xlsx")
        sha = hashlib.sha256(b"scan").hexdigest()
        reject = Finding("скан звіту.pdf", ERROR, "not-a-workbook", "Файл не є книгою Excel/Calc")
        ledger.record(Return("скан звіту.pdf", sha, REJECTED, PERIOD, None, [], [reject], "title"), status=QUARANTINED,
                      original_name="скан звіту.pdf", size=900000, received_at="2025-01-17T11:05:00+02:00",
                      archive_path=f"quarantine/{sha}.pdf", fmt="")
        for n, code in enumerate(NOT_REPORTED + tuple(ERRORS)):
            ledger.record_mail(executor=code, period=PERIOD, kind="reminder",
                               recipients=", ".join(cat.registry[code].emails), subject="Нагадування",
                               attachment_name=f"{code}.xlsx", attachment_sha256="0" * 64, via="smtp",
                               location="smtp.example.org:587", message_id=f"<r{n}@example.org>",
                               sent_at="2025-01-21T09:30:00+02:00")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "status.png")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = init_workspace(tmp / "ws")
        build(ws)
        with Ledger(ws.ledger_path) as ledger:
            rows, summary = status_from_ledger(ws.catalogue, ledger, PERIOD, AS_OF)
        page = tmp / "status.html"
        page.write_text(status_html(rows, summary, programme=ws.catalogue.programme.title,
                                    generated_at=dt.datetime(2025, 1, 22, 9, 0)), encoding="utf-8")
        shot = tmp / "status.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp / 'profile'}", f"--screenshot={shot}", "--window-size=1400,1000",
                        "--hide-scrollbars", page.as_uri()], check=True, capture_output=True, timeout=120)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, args.out)
    print(f"{args.out}: {summary.text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
