"""``review list|accept|confirm|return``: the clerk's decisions on the returns (only approved ones feed the report)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConsolidateError
from ..ledger import Ledger
from ..vocabulary import SlotState
from ..workspace import Workspace
from .base import Result
from .common import executor_code, operator_name, resolve_period, thresholds

# review list: those waiting for the clerk first
LIST_ORDER = (SlotState.RECEIVED, SlotState.RESUBMITTED, SlotState.RETURNED, SlotState.EXPECTED, SlotState.APPROVED)


@dataclass
class ReviewListed(Result):
    period: str
    slots: list  # review.Slot per expected executor, in LIST_ORDER
    blocked: dict[str, list] = field(default_factory=dict)  # executor → outliers blocking approval
    # with details: per latest return (submission id), its findings, and (not yet approved) its outliers, confirmed or not
    findings: dict[int, list] = field(default_factory=dict)
    outliers: dict[int, list] = field(default_factory=dict)  # review.CheckedOutlier

    def counts(self) -> dict[SlotState, int]:
        return {s: n for s in SlotState if (n := sum(1 for r in self.slots if r.state == s))}

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "slots": [
                {
                    "executor": r.executor,
                    "state": r.state.value,
                    "state_label": r.state.label,
                    "latest": r.latest.id if r.latest else None,
                    "latest_status": r.latest.status.value if r.latest else None,
                    "latest_status_label": r.latest.status.label if r.latest else None,
                    "approved": r.approved.id if r.approved else None,
                    "comment": r.comment,
                    "decided_by": r.decided_by,
                    "decided_at": r.decided_at,
                    "unconfirmed": [o.ref for o in self.blocked.get(r.executor, [])],
                }
                for r in self.slots
            ],
            "ok": self.ok,
            "exit_code": int(self.exit_code),
        }


def review_list(
    ws: Workspace, period: str | None = None, *, details: bool = False, outliers: bool = True
) -> ReviewListed:
    """Every expected executor's slot, those waiting for the clerk first, with the outliers blocking approval.

    ``details``: also the findings of each latest return and the outliers (confirmed ones too) of each
    not yet approved (the web console's review page).  ``outliers=False``: the slots alone (no outlier
    is looked for: the report page counts approvals)."""
    from ..review import APPROVED, blocking, blocking_of, slot_outliers, slots_from_ledger

    period = resolve_period(ws, period)
    found: dict[int, list] = {}
    checked: dict[int, list] = {}
    blocked: dict[str, list] = {}
    with Ledger(ws.ledger_path) as ledger:
        rows = slots_from_ledger(ws.catalogue, ledger, period)
        if details:
            found = ledger.findings_of(s.latest.id for s in rows if s.latest is not None)
            if outliers:
                pending = [s for s in rows if s.state != APPROVED]
                checked = slot_outliers(ws.catalogue, ledger, period, pending, thresholds(ws))
                blocked = blocking_of(rows, checked)
        elif outliers:
            blocked = blocking(ws.catalogue, ledger, period, thresholds(ws))
    order = {s: i for i, s in enumerate(LIST_ORDER)}
    return ReviewListed(period, sorted(rows, key=lambda r: order[r.state]), blocked, found, checked)


@dataclass
class Decided(Result):
    period: str
    operator: str
    decisions: list = field(default_factory=list)  # ledger.Review recorded, one per executor
    confirmations: list = field(default_factory=list)  # ledger.Confirmation recorded (review confirm)
    letters: Any = None  # letters.LettersDelivered (review return)


def accept(
    ws: Workspace,
    executors,
    period: str | None = None,
    *,
    operator: str | None = None,
    force: bool = False,
    confirm_refs=(),
    reason: str = "",
    now: dt.datetime | None = None,
) -> Decided:
    """Approve each executor's latest return (a return with errors needs ``force``; outliers need confirming)."""
    from ..review import accept as record_accept

    period = resolve_period(ws, period)
    who = operator_name(ws, operator)
    done = Decided(period, who)
    with Ledger(ws.ledger_path) as ledger:
        for text in executors:
            code = executor_code(ws, text)
            done.decisions.append(
                record_accept(
                    ws.catalogue,
                    ledger,
                    code,
                    period,
                    who,
                    force=force,
                    confirm_refs=confirm_refs,
                    reason=reason,
                    thresholds=thresholds(ws),
                    now=now,
                )
            )
    return done


def confirm(
    ws: Workspace,
    executor: str,
    confirm_refs,
    reason: str = "",
    period: str | None = None,
    *,
    operator: str | None = None,
) -> Decided:
    """Confirm, with a reason, figures of a return that block its approval."""
    from ..review import confirm as record_confirm

    if not confirm_refs:
        raise ConsolidateError("Укажіть, що підтвердити: --confirm ПОСИЛАННЯ (з повідомлення review accept).")
    period = resolve_period(ws, period)
    who = operator_name(ws, operator)
    code = executor_code(ws, executor)
    with Ledger(ws.ledger_path) as ledger:
        confirmed = record_confirm(
            ws.catalogue, ledger, code, period, confirm_refs, reason, who, thresholds=thresholds(ws)
        )
    return Decided(period, who, confirmations=list(confirmed))


def return_for_rework(
    ws: Workspace,
    executor: str,
    comment: str,
    period: str | None = None,
    *,
    operator: str | None = None,
    smtp=None,
    now: dt.datetime | None = None,
) -> Decided:
    """Return the latest return with a comment, and prepare (or send) the letter with the executor's own file."""
    from ..mail import recipients_of, workspace_sender
    from ..review import return_for_rework as record_return
    from ..review import return_letter
    from .letters import deliver, refuse_unfit

    period = resolve_period(ws, period)
    who = operator_name(ws, operator)
    code = executor_code(ws, executor)
    # refused before the decision is recorded: a decision without its letter would tell the executor nothing
    refuse_unfit(workspace_sender(ws), recipients_of(ws.catalogue, code), smtp)
    with Ledger(ws.ledger_path) as ledger:
        decision = record_return(ws.catalogue, ledger, code, period, comment, who, now=now)
        sender = workspace_sender(ws)
        letter = return_letter(ws.catalogue, ledger, ws.root, decision, sender)
        sent = deliver(ws, ledger, [letter], sender, smtp, period, "повернення на доопрацювання", now=now)
    return Decided(period, who, [decision], letters=sent)
