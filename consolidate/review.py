"""Review workflow: the clerk's recorded decisions between "received" and "in the report".

A reporting slot (executor × period) moves through::

    очікується → на розгляді → повернуто на доопрацювання (comment) → на повторному розгляді → затверджено

(codes and labels: ``vocabulary.SlotState``; the clerk's decisions ``vocabulary.Decision``).

Only approved returns feed the national report by default.  Adjustments let the clerk set a
national figure where reconciliation found a conflict, within the bounds the claims allow.
Every decision carries the operator, the time and the reason, and stays in the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .catalogue import Catalogue, period_label
from .errors import ConsolidateError
from .mail import Letter, Sender, finding_lines, recipients_of, signature
from .model import ACCEPTED_ERRORS, Submission
from .numbers import show_value
from .outliers import Outlier, Thresholds, previous_period, resolve
from .outliers import find as find_outliers
from .reconcile import IndicatorResult, Reconciliation
from .vocabulary import Decision, SlotState
from .wording import plural_word

EXPECTED = SlotState.EXPECTED
RECEIVED = SlotState.RECEIVED
RETURNED = SlotState.RETURNED
RESUBMITTED = SlotState.RESUBMITTED
APPROVED = SlotState.APPROVED
SLOT_STATES = tuple(SlotState)
ACCEPT, RETURN = Decision.ACCEPT, Decision.RETURN
RETURN_KIND = "return"  # mail log kind of a "returned for rework" letter


@dataclass(frozen=True)
class Slot:
    executor: str
    period: str
    state: SlotState
    latest: Submission | None  # the newest return
    approved: Submission | None  # the return that feeds the report (None: nothing approved)
    comment: str = ""  # the comment of the last "return" decision
    decided_by: str = ""
    decided_at: str = ""


def _last_decisions(reviews) -> dict[int, Any]:
    last: dict[int, Any] = {}  # submission id → its last ledger review row
    for r in reviews:  # oldest first: the last decision on a submission wins
        last[r.submission_id] = r
    return last


def slots(catalogue: Catalogue, period: str, submissions: list[Submission], reviews) -> list[Slot]:
    """The state of every expected executor's slot, from its returns (oldest first) and the decisions."""
    last = _last_decisions(reviews)
    by_exec: dict[str, list[Submission]] = {}
    for s in submissions:
        if s.period == period:
            by_exec.setdefault(s.executor, []).append(s)
    out: list[Slot] = []
    for code in catalogue.expected_executors():
        history = sorted(by_exec.get(code, []), key=lambda s: s.id)
        if not history:
            out.append(Slot(code, period, EXPECTED, None, None))
            continue
        latest = history[-1]
        approved = next((s for s in reversed(history) if getattr(last.get(s.id), "decision", "") == ACCEPT), None)
        decision = last.get(latest.id)
        earlier_decided = any(s.id in last for s in history[:-1])
        if decision is not None and decision.decision == ACCEPT:
            state = APPROVED
        elif decision is not None:
            state = RETURNED
        else:
            state = RESUBMITTED if earlier_decided else RECEIVED
        returned = next(
            (last[s.id] for s in reversed(history) if getattr(last.get(s.id), "decision", "") == RETURN), None
        )
        shown = decision or returned
        out.append(
            Slot(
                code,
                period,
                state,
                latest,
                approved,
                returned.comment if returned else "",
                getattr(shown, "operator", ""),
                getattr(shown, "decided_at", ""),
            )
        )
    return out


def slots_from_ledger(catalogue: Catalogue, ledger, period: str) -> list[Slot]:
    return slots(catalogue, period, ledger.submissions(period=period), ledger.reviews(period=period))


def approved_returns(catalogue: Catalogue, ledger, period: str):
    """(Submission, values) of every approved return: what the national report is built from."""
    approved = [s.approved for s in slots_from_ledger(catalogue, ledger, period) if s.approved is not None]
    values = ledger.values_of(sub.id for sub in approved)
    return [(sub, values[sub.id]) for sub in approved]


def _now(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now()).astimezone().isoformat(timespec="seconds")


def _slot(catalogue: Catalogue, ledger, executor: str, period: str) -> tuple[Slot, Submission]:
    """The executor's slot and its latest return; ConsolidateError when nothing was received."""
    if executor not in catalogue.registry:
        raise ConsolidateError(f"Невідомий виконавець «{executor}» (немає в реєстрі)")
    slot = next((s for s in slots_from_ledger(catalogue, ledger, period) if s.executor == executor), None)
    if slot is None or slot.latest is None:
        raise ConsolidateError(
            f"Від «{catalogue.executor_label(executor)}» за {period} звіту ще не отримано — нема чого розглядати."
        )
    return slot, slot.latest


# ---------------------------------------------------------------------------------
# outliers: errors that block acceptance until the clerk confirms each with a reason
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedOutlier:
    outlier: Outlier
    confirmation: object = None  # the ledger.Confirmation, or None: still blocks

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None


def outliers_of_returns(
    catalogue: Catalogue, ledger, period: str, returns, thresholds: Thresholds | None = None
) -> list[CheckedOutlier]:
    """The outliers of the given (Submission, values) returns, each with its confirmation if the clerk gave one.

    Last year's lines come from each executor's approved return for the same period a year earlier."""
    thresholds = thresholds or Thresholds()
    before = previous_period(period)
    previous: dict[str, list] = {}
    if before and ledger.submissions(period=before):
        previous = {sub.executor: vals for sub, vals in approved_returns(catalogue, ledger, before)}
    confirmed = {}
    for c in ledger.confirmations(period=period):
        confirmed[(c.submission_id, c.ref, c.code)] = c
    out: list[CheckedOutlier] = []
    for sub, values in returns:
        for o in find_outliers(catalogue, sub, values, thresholds, previous.get(sub.executor, ())):
            out.append(CheckedOutlier(o, confirmed.get((o.submission_id, o.ref, o.code))))
    return out


def outliers_of(
    catalogue: Catalogue, ledger, sub: Submission, thresholds: Thresholds | None = None
) -> list[CheckedOutlier]:
    return outliers_of_returns(catalogue, ledger, sub.period, [(sub, ledger.values(sub.id))], thresholds)


AWAITING = (RECEIVED, RESUBMITTED)  # a slot whose latest return awaits the clerk's decision


def slot_outliers(
    catalogue: Catalogue, ledger, period: str, slots_: list[Slot], thresholds: Thresholds | None = None
) -> dict[int, list[CheckedOutlier]]:
    """The outliers of each given slot's latest return, with their confirmations, by submission id."""
    latest = [s.latest for s in slots_ if s.latest is not None]
    values = ledger.values_of(sub.id for sub in latest)
    out: dict[int, list[CheckedOutlier]] = {sub.id: [] for sub in latest}
    for c in outliers_of_returns(catalogue, ledger, period, [(sub, values[sub.id]) for sub in latest], thresholds):
        out[c.outlier.submission_id].append(c)
    return out


def blocking_of(slots_: list[Slot], checked: dict[int, list[CheckedOutlier]]) -> dict[str, list[Outlier]]:
    """Per executor whose latest return awaits a decision, its outliers in ``checked`` not yet confirmed."""
    out: dict[str, list[Outlier]] = {}
    for s in slots_:
        if s.state in AWAITING and s.latest is not None:
            unconfirmed = [c.outlier for c in checked.get(s.latest.id, ()) if not c.confirmed]
            if unconfirmed:
                out[s.executor] = unconfirmed
    return out


def blocking(
    catalogue: Catalogue, ledger, period: str, thresholds: Thresholds | None = None
) -> dict[str, list[Outlier]]:
    """Per executor whose latest return awaits a decision, the outliers that still block its acceptance."""
    rows = slots_from_ledger(catalogue, ledger, period)
    waiting = [s for s in rows if s.state in AWAITING]
    return blocking_of(rows, slot_outliers(catalogue, ledger, period, waiting, thresholds))


def _confirm_hint(catalogue: Catalogue, executor: str, items: list[CheckedOutlier]) -> str:
    listing = "\n".join(f"  • {c.outlier.message}\n    підтвердити: --confirm {c.outlier.ref}" for c in items)
    return (
        f"{listing}\nВиправлений файл від виконавця знімає блокування; якщо цифри правильні, підтвердіть кожну "
        f"з причиною: consolidate review accept {executor} --confirm ПОСИЛАННЯ --reason «чому це правильно»."
    )


def confirm(
    catalogue: Catalogue,
    ledger,
    executor: str,
    period: str,
    refs,
    reason: str,
    operator: str,
    *,
    thresholds: Thresholds | None = None,
    now: dt.datetime | None = None,
):
    """Record the clerk's confirmation of the named outliers of the latest return (who, when, why)."""
    refs = [r for r in refs if r and r.strip()]
    if not refs:
        return []
    if not reason or not reason.strip():
        raise ConsolidateError("Підтверджуючи значення, вкажіть причину (--reason «…»): її буде записано в журнал.")
    slot, latest = _slot(catalogue, ledger, executor, period)
    checked = outliers_of(catalogue, ledger, latest, thresholds)
    chosen, unknown = resolve([c.outlier for c in checked], refs)
    if unknown:
        known = ", ".join(c.outlier.ref for c in checked) or "немає"
        raise ConsolidateError(
            f"У звіті «{catalogue.executor_label(executor)}» (№{latest.id}) немає значень, "
            f"що потребують підтвердження, з посиланням {', '.join(unknown)}. "
            f"Потребують підтвердження: {known}"
        )
    done = {c.outlier for c in checked if c.confirmed}
    todo = [o for o in chosen if o not in done]
    return ledger.record_confirmations(todo, operator=operator, reason=reason.strip(), confirmed_at=_now(now))


def accept(
    catalogue: Catalogue,
    ledger,
    executor: str,
    period: str,
    operator: str,
    *,
    force: bool = False,
    confirm_refs=(),
    reason: str = "",
    thresholds: Thresholds | None = None,
    now: dt.datetime | None = None,
):
    """Approve the executor's latest return for the report.

    An outlier (consolidate.outliers) blocks the approval, --force or not, until it is confirmed: ``confirm_refs``
    names the ones confirmed now with ``reason``.  Nothing is recorded if any stays unconfirmed."""
    slot, latest = _slot(catalogue, ledger, executor, period)
    if slot.state == APPROVED:
        raise ConsolidateError(
            f"Звіт «{catalogue.executor_label(executor)}» (файл «{latest.original_name}») уже {APPROVED.label}."
        )
    if latest.status == ACCEPTED_ERRORS and not force:
        raise ConsolidateError(
            f"Звіт «{catalogue.executor_label(executor)}» містить помилки: поверніть його на "
            f"доопрацювання (review return) або прийміть попри помилки з --force."
        )
    checked = outliers_of(catalogue, ledger, latest, thresholds)
    refs = [r for r in confirm_refs if r and r.strip()]
    chosen, unknown = resolve([c.outlier for c in checked], refs)
    if unknown:
        known = ", ".join(c.outlier.ref for c in checked) or "немає"
        raise ConsolidateError(
            f"У звіті «{catalogue.executor_label(executor)}» (№{latest.id}) немає значень, "
            f"що потребують підтвердження, з посиланням {', '.join(unknown)}. "
            f"Потребують підтвердження: {known}"
        )
    left = [c for c in checked if not c.confirmed and c.outlier not in chosen]
    if left:
        raise ConsolidateError(
            f"Звіт «{catalogue.executor_label(executor)}» (файл «{latest.original_name}», №{latest.id}) "
            f"не {APPROVED.label}: {len(left)} {plural_word(len(left), 'значення потребує', 'значення потребують', 'значень потребують')} "
            f"підтвердження:\n" + _confirm_hint(catalogue, executor, left)
        )
    if refs and (not reason or not reason.strip()):
        raise ConsolidateError("Підтверджуючи значення, вкажіть причину (--reason «…»): її буде записано в журнал.")
    todo = [o for o in chosen if not any(c.confirmed and c.outlier == o for c in checked)]
    if todo:
        ledger.record_confirmations(todo, operator=operator, reason=reason.strip(), confirmed_at=_now(now))
    return ledger.record_review(
        executor=executor,
        period=period,
        submission_id=latest.id,
        decision=ACCEPT,
        comment="",
        operator=operator,
        decided_at=_now(now),
    )


def return_for_rework(
    catalogue: Catalogue,
    ledger,
    executor: str,
    period: str,
    comment: str,
    operator: str,
    *,
    now: dt.datetime | None = None,
):
    """Return the latest return for rework; the comment is mandatory."""
    if not comment or not comment.strip():
        raise ConsolidateError("Повертаючи звіт на доопрацювання, вкажіть коментар (--comment «що виправити»).")
    slot, latest = _slot(catalogue, ledger, executor, period)
    if slot.state == RETURNED:
        raise ConsolidateError(
            f"Звіт «{catalogue.executor_label(executor)}» уже повернуто на доопрацювання; чекаємо виправлений."
        )
    return ledger.record_review(
        executor=executor,
        period=period,
        submission_id=latest.id,
        decision=RETURN,
        comment=comment.strip(),
        operator=operator,
        decided_at=_now(now),
    )


def return_letter(catalogue: Catalogue, ledger, ws_root, review, sender: Sender) -> Letter:
    """The letter that returns a report: the comment, the open findings, and the executor's own file attached."""
    sub = ledger.submission(review.submission_id)
    ex = catalogue.registry[review.executor]
    prog = catalogue.programme
    findings = ledger.findings(sub.id)
    lines = [
        "Шановні колеги!",
        "",
        f"Ваш звіт про виконання {prog.title_genitive} за {period_label(review.period)} "
        f"(файл «{sub.original_name}») повернуто на доопрацювання.",
        "",
        f"Виконавець: {ex.full_name} (код {ex.code})",
        "",
        f"Коментар ({catalogue.customer_label}):",
        review.comment,
        "",
    ]
    if findings:
        lines += ["Зауваження до файлу:", *finding_lines(findings), ""]
    lines += [
        "Виправте, будь ласка, звіт у доданому файлі (це ваш файл) і надішліть його повторно у відповідь на цей лист.",
        "",
        signature(sender),
    ]
    data = (ws_root / sub.archive_path).read_bytes()
    subject = f"Повернення звіту на доопрацювання: {period_label(review.period)} — {ex.short_name}"
    return Letter(
        review.executor,
        review.period,
        RETURN_KIND,
        recipients_of(catalogue, review.executor),
        subject,
        "\n".join(lines) + "\n",
        sub.original_name,
        data,
    )


# ---------------------------------------------------------------------------------
# adjustments
# ---------------------------------------------------------------------------------


def adjustment_bounds(ir: IndicatorResult) -> tuple[float, float] | None:
    """The range the claims allow: from the largest claim to their sum (None: no claims)."""
    values = [c.value for c in ir.claims if c.value is not None]
    if not values:
        return None
    return max(values), sum(values)


def adjust(
    catalogue: Catalogue,
    ledger,
    rec: Reconciliation,
    item: str,
    value: float,
    reason: str,
    operator: str,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
):
    """Set a national indicator figure by hand, within the claims' bounds unless forced."""
    ir = next((r for r in rec.indicators if r.indicator.id == item), None)
    if ir is None:
        raise ConsolidateError(
            f"Немає показника «{item}»: коригувати можна національне значення показника (напр. T2.6.1)."
        )
    if not reason or not reason.strip():
        raise ConsolidateError("Вкажіть причину коригування (--reason «…»): її буде записано в журнал.")
    if value < 0:
        raise ConsolidateError(f"Значення не може бути від’ємним: {show_value(value)}")
    bounds = adjustment_bounds(ir)
    if not force:
        if bounds is None:
            raise ConsolidateError(
                f"Для показника {item} немає жодного повідомленого значення: межі коригування "
                f"не визначено. Щоб установити значення все одно, додайте --force."
            )
        low, high = bounds
        if not low - 1e-9 <= value <= high + 1e-9:
            raise ConsolidateError(
                f"Значення {show_value(value)} поза межами, які дозволяють повідомлені дані: від {show_value(low)} "
                f"(найбільше з повідомлених) до {show_value(high)} (їх сума). Щоб установити його все одно, додайте --force."
            )
    return ledger.record_adjustment(
        period=rec.period,
        item=item,
        value=float(value),
        reason=reason.strip(),
        forced=force,
        operator=operator,
        made_at=_now(now),
    )


def undo(ledger, period: str, item: str, operator: str, *, now: dt.datetime | None = None) -> None:
    if not ledger.undo_adjustment(period=period, item=item, operator=operator, undone_at=_now(now)):
        raise ConsolidateError(f"Для «{item}» за {period} немає чинного коригування.")
