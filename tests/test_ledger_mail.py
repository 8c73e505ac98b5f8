"""The mail log of the ledger (schema version 2) and the upgrade of a version-1 ledger."""

from __future__ import annotations

import sqlite3

import pytest

from consolidate import ledger as ledger_mod
from consolidate.ledger import SCHEMA_VERSION, Ledger
from consolidate.model import ACCEPTED

from .test_ledger import make_return, record

MAIL = dict(period="2024", recipients="mvs@example.org", subject="Шаблон звіту", attachment_name="Звіт.xlsx",
            attachment_sha256="ab" * 32, via="eml", location="out/mail/2024/template-MVS.eml",
            message_id="<1@example.org>")


def test_record_and_filter_mail(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        a = ledger.record_mail(executor="MVS", kind="template", sent_at="2025-01-05T09:00:00+02:00", **MAIL)
        ledger.record_mail(executor="MVS", kind="reminder", sent_at="2025-01-16T09:00:00+02:00", **MAIL)
        ledger.record_mail(executor="DMS", kind="template", sent_at="2025-01-05T09:01:00+02:00",
                           **{**MAIL, "period": "2024-Q3", "via": "smtp", "location": "127.0.0.1:2525"})
        assert a.id == 1 and a.executor == "MVS" and a.subject == "Шаблон звіту" and a.via == "eml"
        assert [m.kind for m in ledger.mails(executor="MVS")] == ["template", "reminder"]
        assert [m.executor for m in ledger.mails(kind="template")] == ["MVS", "DMS"]
        assert [m.location for m in ledger.mails(period="2024-Q3")] == ["127.0.0.1:2525"]
        assert ledger.mails(executor="MVS", period="2024", kind="reminder")[0].sent_at.startswith("2025-01-16")
        with pytest.raises(ValueError):
            ledger.record_mail(executor="MVS", kind="template", sent_at="x", **{**MAIL, "via": "fax"})
        assert len(ledger.mails()) == 3


def test_version_one_ledger_is_upgraded_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    with Ledger(path) as ledger:
        record(ledger, make_return(1, "MVS"), ACCEPTED)
    db = sqlite3.connect(path)  # turn it into what version 1 wrote: no mail table, user_version 1
    for table in ("mail", "reviews", "adjustments"):
        db.execute(f"DROP TABLE {table}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [s.executor for s in ledger.latest_submissions("2024")] == ["MVS"]
        assert ledger.mails() == []
        ledger.record_mail(executor="MVS", kind="template", sent_at="2025-01-05T09:00:00+02:00", **MAIL)
    with Ledger(path) as ledger:
        assert len(ledger.mails(executor="MVS")) == 1
        assert len(ledger.files()) == 1


def test_a_fresh_version_one_schema_gets_the_mail_table(tmp_path):
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    for statement in ledger_mod._SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        names = {r[0] for r in ledger.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"files", "submissions", "cell_values", "findings", "mail", "reviews", "adjustments"} <= names
