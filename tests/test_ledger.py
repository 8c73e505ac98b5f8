from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from consolidate.errors import ConsolidateError
from consolidate.ledger import SCHEMA_VERSION, Ledger
from consolidate.model import (ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, WARNING, CellValue,
                               Finding, Return)


def make_return(n: int, executor: str | None = "MVS", period: str | None = "2024", values=None, findings=None) -> Return:
    return Return(
        file=f"file{n}.xlsx", sha256=f"{n:064x}", executor=executor, period=period, template_version="2024.1+abc",
        values=values if values is not None else [CellValue("T2.6.1", "actual", 5.0, "5", "II. Виконання", "E7")],
        findings=findings or [], identified_by="meta")


def record(ledger: Ledger, ret: Return, status: str = ACCEPTED):
    return ledger.record(ret, status=status, original_name=ret.file, size=100, received_at="2025-01-10T10:00:00+02:00",
                         archive_path=f"archive/{ret.sha256[:2]}/{ret.sha256}.xlsx", fmt="xlsx")


def test_schema_wal_and_round_trip(tmp_path):
    finding = Finding("file1.xlsx", WARNING, "percent-over-100", "Відсоток понад 100", "II. Виконання", "E9", "T2.3.2",
                      "120", "0–100")
    values = [CellValue("F.T2.6.LOC.UA-21", "financed", 8814.5, "8 814,5", "I. Фінансування", "G5"),
              CellValue("T2.6", "narrative", None, "Проведено навчання", "II. Виконання", "I6")]
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        receipt = record(ledger, make_return(1, "UA-21", values=values, findings=[finding]), ACCEPTED_WARNINGS)
    assert not receipt.duplicate and receipt.superseded is None
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.sync()  # a durability barrier changes nothing
        assert ledger.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
        (sub,) = ledger.submissions()
        assert (sub.executor, sub.period, sub.status, sub.template_version) == ("UA-21", "2024", ACCEPTED_WARNINGS,
                                                                               "2024.1+abc")
        assert sub.archive_path == f"archive/00/{1:064x}.xlsx"
        assert sub.original_name == "file1.xlsx" and sub.superseded_by is None
        assert ledger.values(sub.id) == values
        assert ledger.findings(sub.id) == [finding]
        assert ledger.has_file(f"{1:064x}") and not ledger.has_file(f"{2:064x}")
        assert ledger.file(f"{1:064x}").submission_id == sub.id


def test_values_of_many_submissions_read_together_equal_each_read_alone(tmp_path):
    executors = [f"UA-{k:02d}" for k in range(1, 1200, 2)]  # more than one chunk of the IN (…) query
    with Ledger(tmp_path / "l.sqlite") as ledger:
        for n, code in enumerate(executors):
            values = [CellValue(f"T{n % 7}.1", "actual", float(n), str(n), "II. Виконання", f"E{5 + n % 3}"),
                      CellValue("T2.6", "narrative", None, f"Текст виконавця {code} " * (n % 3), "II. Виконання", "I6")]
            record(ledger, make_return(n + 1, code, values=values))
        subs = ledger.submissions()
        together = ledger.values_of([s.id for s in reversed(subs)] + [subs[0].id])
        assert set(together) == {s.id for s in subs}
        for sub in subs:
            assert together[sub.id] == ledger.values(sub.id)
        cells = [v.cell for vs in together.values() for v in vs if v.field == "actual"]
        assert len({id(c) for c in cells}) == 3  # one string per distinct cell reference
        assert ledger.values_of([]) == {}


def test_findings_of_many_submissions_equal_each_read_alone(tmp_path):
    executors = [f"UA-{k:02d}" for k in range(1, 1900, 2)]  # more than one chunk of the IN (…) query
    with Ledger(tmp_path / "l.sqlite") as ledger:
        for n, code in enumerate(executors):
            findings = [Finding(f"file{n + 1}.xlsx", (ERROR, WARNING)[k % 2], "code", f"Зауваження {k}", "II. Виконання",
                                f"E{k + 5}") for k in range(n % 4)]
            record(ledger, make_return(n + 1, code, findings=findings), ACCEPTED_ERRORS if findings else ACCEPTED)
        subs = ledger.submissions()
        together = ledger.findings_of([s.id for s in reversed(subs)] + [subs[0].id])
        assert set(together) == {s.id for s in subs}
        assert all(together[s.id] == ledger.findings(s.id) for s in subs)
        assert sum(len(v) for v in together.values()) == sum(n % 4 for n in range(len(executors)))
        assert ledger.findings_of([]) == {}


def test_same_bytes_twice_is_recorded_once(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = record(ledger, make_return(1))
        again = record(ledger, make_return(1, executor="NPU"))
        assert again.duplicate and again.file == first.file
        assert len(ledger.files()) == 1 and len(ledger.submissions()) == 1
        assert ledger.submissions()[0].executor == "MVS"


def test_newer_return_supersedes_older_and_history_keeps_both(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        a = record(ledger, make_return(1, "MVS"))
        other = record(ledger, make_return(2, "MVS", period="2024-Q3"))
        b = record(ledger, make_return(3, "MVS"), ACCEPTED_ERRORS)
        c = record(ledger, make_return(4, "DMS"))
        assert b.superseded == a.file.submission_id
        assert other.superseded is None and c.superseded is None
        history = ledger.submissions(executor="MVS")
        assert [s.sha256 for s in history] == [f"{1:064x}", f"{2:064x}", f"{3:064x}"]
        assert history[0].superseded_by == b.file.submission_id and history[2].superseded_by is None
        latest = ledger.latest_submissions("2024")
        assert [(s.executor, s.sha256) for s in latest] == [("DMS", f"{4:064x}"), ("MVS", f"{3:064x}")]
        assert [s.sha256 for s in ledger.latest_submissions("2024-Q3")] == [f"{2:064x}"]
        assert ledger.submissions(period="2024-Q3")[0].id == other.file.submission_id


def test_quarantined_file_has_findings_but_no_submission(tmp_path):
    reason = Finding("file2.xlsx", ERROR, "not-identified", "Не вдалося визначити виконавця")
    with Ledger(tmp_path / "l.sqlite") as ledger:
        good = record(ledger, make_return(1, "MVS"))
        bad = record(ledger, make_return(2, executor="MVS", values=[], findings=[reason]), QUARANTINED)
        assert bad.file.submission_id is None and bad.superseded is None
        assert [f.sha256 for f in ledger.quarantined()] == [f"{2:064x}"]
        assert ledger.file_findings(bad.file.id) == [reason]
        assert [s.id for s in ledger.latest_submissions("2024")] == [good.file.submission_id]
        assert [f.status for f in ledger.files(executor="MVS")] == [ACCEPTED, QUARANTINED]


def test_failed_record_leaves_nothing_behind(tmp_path):
    broken = CellValue("T2.6.1", "actual", 5.0, None, "II. Виконання", "E7")  # text NOT NULL
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = record(ledger, make_return(1))
        with pytest.raises(sqlite3.IntegrityError):
            record(ledger, make_return(2, values=[broken], findings=[Finding("x", ERROR, "c", "m")]))
        assert [f.sha256 for f in ledger.files()] == [f"{1:064x}"]
        assert ledger.db.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
        assert ledger.db.execute("SELECT count(*) FROM cell_values").fetchone()[0] == 1
        assert ledger.submissions()[0].superseded_by is None
        assert ledger.latest_submissions("2024")[0].id == first.file.submission_id


def test_one_current_submission_per_executor_and_period_is_enforced(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        record(ledger, make_return(1))
        file_id = record(ledger, make_return(2, "DMS")).file.id
        with pytest.raises(sqlite3.IntegrityError):
            ledger.db.execute("UPDATE submissions SET executor = 'MVS' WHERE file_id = ?", (file_id,))


def test_accepted_return_needs_identity(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        with pytest.raises(ValueError):
            record(ledger, make_return(1, executor=None))
        assert ledger.files() == []


def test_newer_schema_and_garbage_are_clear_errors(tmp_path):
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConsolidateError, match="новішою версією"):
        Ledger(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConsolidateError, match="пошкоджено"):
        Ledger(junk)


def test_a_group_shares_transactions_and_a_failed_record_is_rolled_back_alone(tmp_path):
    path = tmp_path / "l.sqlite"
    broken = CellValue("T2.6.1", "actual", 5.0, None, "II. Виконання", "E7")  # text NOT NULL
    with Ledger(path) as ledger, Ledger(path) as other:
        with ledger.group():
            a = record(ledger, make_return(1, "MVS"))
            assert ledger.uncommitted_since is not None
            with pytest.raises(sqlite3.IntegrityError):
                record(ledger, make_return(2, "DMS", values=[broken], findings=[Finding("x", ERROR, "c", "m")]))
            b = record(ledger, make_return(3, "MVS"))
            assert b.superseded == a.file.submission_id  # the group sees its own records
            assert ledger.has_file(f"{1:064x}") and not ledger.has_file(f"{2:064x}")
            assert other.files() == []  # nothing committed yet
            ledger.commit()
            assert ledger.uncommitted_since is None
            assert [f.sha256 for f in other.files()] == [f"{1:064x}", f"{3:064x}"]
            c = record(ledger, make_return(4, "DMS"))  # a new transaction of the group
            assert other.submissions(executor="DMS") == []
        assert [s.id for s in other.latest_submissions("2024")] == [c.file.submission_id, b.file.submission_id]
        assert other.db.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
        assert other.db.execute("SELECT count(*) FROM cell_values").fetchone()[0] == 3
        assert ledger.uncommitted_since is None and not ledger.db.in_transaction


@pytest.mark.slow  # kill -9
def test_a_process_killed_inside_a_group_loses_the_uncommitted_records_whole(tmp_path):
    path = tmp_path / "l.sqlite"
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from consolidate.ledger import Ledger
from tests.test_ledger import make_return, record
with Ledger({str(path)!r}) as ledger, ledger.group():
    record(ledger, make_return(1, "MVS"))
    ledger.sync()
    record(ledger, make_return(2, "MVS"))
    record(ledger, make_return(3, "DMS"))
    os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Ledger(path) as ledger:
        assert ledger.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [f.sha256 for f in ledger.files()] == [f"{1:064x}"]
        (sub,) = ledger.submissions()
        assert sub.superseded_by is None and len(ledger.values(sub.id)) == 1
