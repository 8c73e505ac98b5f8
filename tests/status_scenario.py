"""A workspace whose ledger holds every reporting state (for the status, HTML and mail tests).

Returns are real workbooks: the executor's template (generated as «consolidate templates» does)
filled with consolidate.filler, archived by sha256 and recorded with the Ledger API (the findings
are given here, as intake would have found them).  Period 2024, deadline 20.01.2025.

    MSP    accepted                      received 10.01.2025
    NSSU   accepted with warnings        received 12.01.2025
    MVS    accepted 11.01, then a return with errors on 14.01   → «подано з помилками», 2 returns
    DMS    accepted, late                received 24.01.2025 (its file name is hostile HTML)
    UA-21  a file that was not accepted  received 13.01.2025 (quarantine), nothing accepted
    others nothing
Mail log: template letters to MSP and UA-21 on 05.01.2025, a reminder to UA-21 on 16.01.2025.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

from consolidate.filler import fill_workbook
from consolidate.ledger import Ledger
from consolidate.mail import template_contact
from consolidate.model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, WARNING, Finding, Return
from consolidate.simulate import simulate
from consolidate.template import write_templates

from .util import cell_values

PERIOD = "2024"
BEFORE = dt.date(2025, 1, 15)    # before the deadline (20.01.2025)
AFTER = dt.date(2025, 1, 31)     # after it
HOSTILE_NAME = "<b>ДМС</b><script>document.title='зламано'</script><img src=x onerror=alert(1)>.xlsx"
MVS_ERRORS = [
    Finding("МВС звіт (виправлений).xlsx", ERROR, "text-in-number", "У клітинці для числа записано текст",
            "II. Виконання", "E12", "T2.3.1", "багато", "число"),
    Finding("МВС звіт (виправлений).xlsx", ERROR, "cash-over-financed",
            "Касові видатки більші за фактичне фінансування", "I. Фінансування", "H7", "F.T2.6.SG.MVS", "120,0",
            "не більше 100,0"),
    Finding("МВС звіт (виправлений).xlsx", WARNING, "percent-over-100", "Відсоток понад 100", "II. Виконання",
            "E15", "T2.3.2", "120", "0–100"),
]
NSSU_WARNING = Finding("Нацсоцслужба.xlsx", WARNING, "empty-narrative", "Не заповнено текст про виконання заходу",
                       "II. Виконання", "I9", "T1.1")
UA21_REJECT = Finding("Закарпаття звіт.pdf", ERROR, "not-a-workbook",
                      "Файл не є книгою Excel/Calc (.xlsx, .xlsm, .xls, .ods)")
# executor, original name, received, status, findings (None: the second MVS return)
RETURNS = [
    ("MSP", "Мінсоцполітики звіт 2024.xlsx", "2025-01-10T10:00:00+02:00", ACCEPTED, []),
    ("MVS", "МВС звіт.xlsx", "2025-01-11T09:30:00+02:00", ACCEPTED, []),
    ("NSSU", "Нацсоцслужба.xlsx", "2025-01-12T15:45:00+02:00", ACCEPTED_WARNINGS, [NSSU_WARNING]),
    ("MVS", "МВС звіт (виправлений).xlsx", "2025-01-14T11:00:00+02:00", ACCEPTED_ERRORS, MVS_ERRORS),
    ("DMS", HOSTILE_NAME, "2025-01-24T08:15:00+02:00", ACCEPTED, []),
]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def populate(ws, sim=None) -> dict[str, Path]:
    """Fill, archive and record the returns above in ``ws``'s ledger; returns the filled files by executor."""
    cat = ws.catalogue
    sim = sim or simulate(cat)
    codes = sorted({r[0] for r in RETURNS})
    templates = {t.executor: t for t in write_templates(cat, ws.out / "templates", PERIOD, "496-r", codes,
                                                        contact=template_contact(ws))}
    filled: dict[str, Path] = {}
    with Ledger(ws.ledger_path) as ledger:
        for n, (code, name, received, status, findings) in enumerate(RETURNS):
            values = dict(sim.values[code])
            if n == 3:  # the corrected MVS return differs from the first one
                values = {**values, "proposals": {"P1": {"text": "Пропозиція після виправлення"}}}
            path = fill_workbook(templates[code].path, ws.root / "returns" / f"{n}-{code}.xlsx", values)
            data = path.read_bytes()
            sha = _sha(data)
            archive = ws.archive / sha[:2] / f"{sha}.xlsx"
            archive.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, archive)
            ret = Return(name, sha, code, PERIOD, cat.template_version, cell_values(values), list(findings), "meta")
            ledger.record(ret, status=status, original_name=name, size=len(data), received_at=received,
                          archive_path=archive.relative_to(ws.root).as_posix(), fmt="xlsx")
            filled[code] = path
        pdf = b"%PDF-1.4 not a workbook"
        bad = Return(UA21_REJECT.file, _sha(pdf), "UA-21", PERIOD, None, [], [UA21_REJECT], "title")
        ledger.record(bad, status=QUARANTINED, original_name=UA21_REJECT.file, size=len(pdf),
                      received_at="2025-01-13T12:00:00+02:00", archive_path=f"quarantine/{_sha(pdf)}.pdf", fmt="")
        for code, kind, when in (("MSP", "template", "2025-01-05T09:00:00+02:00"),
                                 ("UA-21", "template", "2025-01-05T09:00:00+02:00"),
                                 ("UA-21", "reminder", "2025-01-16T09:00:00+02:00")):
            ledger.record_mail(executor=code, period=PERIOD, kind=kind, recipients=", ".join(cat.registry[code].emails),
                               subject="тест", attachment_name="", attachment_sha256="", via="eml",
                               location=f"out/mail/{PERIOD}/{kind}-{code}.eml", message_id=f"<{code}{kind}@example.org>",
                               sent_at=when)
    return filled
