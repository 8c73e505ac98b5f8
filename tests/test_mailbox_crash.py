"""kill -9 aimed at each step of taking a message from the mailbox: nothing lost, never a second receipt.

As the intake's kill test aims its kills by progress, these are aimed by the run's own report of each step
(``on_step``): the run prints the step it has just reached and waits there, and the test kills it then.
The steps, in order: fetched (the message saved and recorded), archived (its files received by the intake),
recorded (the sender checked, the row updated), replying (the receipt sent up to its final dot, marked in the
ledger), replied (the server accepted the receipt; not yet recorded), moved (the message moved on the server;
not yet recorded).
"""

from __future__ import annotations

import email
import hashlib
import os
import signal
import subprocess
import sys
from email import policy

import pytest

from consolidate.ledger import Ledger
from consolidate.mailbox import UNCERTAIN, messages

from .conftest import ROOT
from .mail_util import PASSWORD, outlook, thunderbird, zip_windows
from .test_mailbox import ENV, Box, box, dovecot, smtp  # noqa: F401  (fixtures)

STEPS = ("fetched", "archived", "recorded", "replying", "replied", "moved")
RUNNER = ("import sys, time\n"
          "from consolidate.workspace import open_workspace\n"
          "from consolidate.workflows import mail as wf\n"
          "target = sys.argv[2]\n"
          "def step(name, key):\n"
          "    print(name, key, flush=True)\n"
          "    if name == target:\n"
          "        print('waiting', flush=True)\n"
          "        time.sleep(120)\n"
          "ws = open_workspace(sys.argv[1])\n"
          "settings, smtp = wf.settings_for(ws)\n"
          "wf.fetch(ws, settings=settings, smtp=smtp, on_step=step if target else None)\n"
          "print('end', flush=True)\n")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(box: Box, target: str) -> list[str]:
    env = {**os.environ, ENV: PASSWORD,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(box.ws.root), target], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line.strip())
        if line.strip() == "waiting":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=120)
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    if not target:
        assert proc.returncode == 0, err
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_loses_nothing_and_never_answers_twice(box, step):
    a, b = box.workbook("MVS", 21), box.workbook("NSSU", 22, error=True)
    m1 = box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("Звіт МВС.xlsx", a)]))
    m2 = box.append(thunderbird("nssu@example.org", box.user, "Звіт Нацсоцслужби",
                                [("Звіти.zip", zip_windows([("Звіт Нацсоцслужби.xlsx", b)]))]))
    ids = {email.message_from_bytes(m, policy=policy.default)["Message-ID"] for m in (m1, m2)}

    seen = run(box, step)
    assert "waiting" in seen, f"the run never reached «{step}»: {seen}"   # killed exactly there
    run(box, "")                                                           # then to the end, undisturbed
    assert run(box, "") == ["end"]                                         # and again: nothing to do

    with Ledger(box.ws.ledger_path) as ledger:
        files = {f.sha256: f for f in ledger.files()}
        assert set(files) == {sha(a), sha(b)}                              # every attachment, once
        for f in files.values():
            assert sha((box.ws.root / f.archive_path).read_bytes()) == f.sha256
        rows = messages(ledger)
        assert len(rows) == 2 and {r.message_id for r in rows} == ids
        assert all(r.state == "moved" for r in rows)
        replies = {r.message_id: r.reply for r in rows}
        assert ledger.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    receipts = [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in box.smtp_inbox.messages]
    answered = [r["In-Reply-To"] for r in receipts]
    assert len(answered) == len(set(answered)), "a message was answered twice"
    killed_first = next(r for r in rows if r.sender == "mvs@example.org").message_id
    if step == "replying":   # killed before the final dot: the server dropped it; at most once, so none
        assert sorted(answered) == sorted(ids - {killed_first})
        assert replies[killed_first] == UNCERTAIN
    elif step == "replied":  # the server took it, the run died before recording: still exactly one
        assert sorted(answered) == sorted(ids) and replies[killed_first] == UNCERTAIN
    else:
        assert sorted(answered) == sorted(ids) and set(replies.values()) == {"sent"}

    assert box.folder("INBOX") == []
    filed = box.folder("Оброблено")
    assert sorted(email.message_from_bytes(m, policy=policy.default)["Message-ID"] for m in filed) == sorted(ids)
    assert not list(box.ws.root.glob(".mail-staging/*"))
