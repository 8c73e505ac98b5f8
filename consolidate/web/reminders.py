"""«Нагадування» (/reminders): who is due a reminder and why, a letter's text, the sending, the .eml drafts.

The page's handlers, kept beside app.py's (they use its ``page``, ``view``, ``action``, ``flash``, ``back``):
who is due comes from workflow ``letters.reminders_due``, a letter's text from ``letters.reminder_preview``
(nothing written), the sending from ``letters.remind`` through :func:`ops.remind` (the CLI's own: once a day
unless insisted on, never from placeholders through SMTP), the drafts from ``letters.reminder_drafts``.
"""

from __future__ import annotations

from starlette.requests import Request

from ..errors import ConsolidateError
from ..wording import plural
from . import ops
from .accounts import Session
from .app import MEDIA, _attachment, action, back, console_of, flash, in_thread, page, view

EML = "message/rfc822"


@view
async def reminders_page(request: Request):
    from ..workflows.letters import reminder_preview, reminders_due

    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    due = await in_thread(reminders_due, ws, period)
    smtp, smtp_error = await in_thread(ops.smtp_target, ws)
    code = request.query_params.get("preview", "")
    letter = None
    if code in {d.row.executor for d in due.due}:
        letters = (await in_thread(reminder_preview, ws, period, [code])).letters
        letter = letters[0] if letters else None
    sendings: dict[str, list] = {}
    for m in reversed(due.drafts):  # the latest sending first; every letter of one sending has its time
        sendings.setdefault(m.sent_at, []).append(m)
    return page(
        request,
        "reminders.html",
        {
            "due": due,
            "smtp": smtp,
            "smtp_error": smtp_error,
            "letter": letter,
            "sendings": sendings,
            "label": ws.catalogue.executor_label,
            "page_id": "reminders",
        },
    )


@action("mail")
async def reminders_send(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    everyone = form.get("which") == "all"
    picked = [k[len("pick_") :] for k, v in form.items() if k.startswith("pick_") and v == "1"]
    if not everyone and not picked:
        raise ConsolidateError(
            "Не позначено жодного виконавця: позначте, кому нагадати, або натисніть «Нагадати всім»."
        )
    try:
        done = await in_thread(ops.remind, ws, period, [] if everyone else picked, form.get("resend") == "1")
    except ConsolidateError as exc:  # a refusal lists its reasons line by line
        first, *rest = str(exc).splitlines()
        return page(
            request,
            "error.html",
            {
                "message": first,
                "problems": [x.strip() for x in rest if x.strip()],
                "back_to": f"/reminders?period={period}",
            },
            status=409,
        )
    label = ws.catalogue.executor_label
    for code, state in done.not_needed:
        flash(request, f"{label(code)}: {state} — нагадування не потрібне.", "warn")
    n = len(done.records)
    if not n:
        flash(
            request, "Нагадувати нікому: усі " + ("" if everyone else "обрані ") + "звіти подано без помилок.", "warn"
        )
        return back("/reminders", period)
    letters = plural(n, "нагадування", "нагадування", "нагадувань")
    console.store.log(session.user, "remind", f"{period}: {letters} — " + ", ".join(r.executor for r in done.records))
    if done.smtp_address:
        flash(request, f"Надіслано {letters} через {done.smtp_address}; кожне записано в журнал.")
    else:
        flash(
            request,
            f"Підготовлено {letters} як .eml (out/mail/{period}/): завантажте їх нижче й надішліть зі своєї "
            f"поштової програми; кожне записано в журнал.",
        )
    if done.unfit:
        flash(request, "Листи ще не придатні до надсилання: " + "; ".join(done.unfit) + ".", "warn")
    return back("/reminders", period)


@view
async def reminder_draft(request: Request):
    """One .eml draft, found by its mail record's id in the ledger (the URL names no path)."""
    from ..workflows.letters import reminder_drafts

    ws, period = ops.for_period(console_of(request).ws, request.query_params.get("period"))
    found = (await in_thread(reminder_drafts, ws, period, mail_id=request.path_params["id"])).files
    if not found:
        return page(
            request,
            "error.html",
            {"message": "Такої чернетки нагадування немає (або її файл видалено з out/mail/)."},
            status=404,
        )
    record, data = found[0]
    return _attachment(data, record.location.rpartition("/")[2], EML)


@view
async def reminder_drafts_zip(request: Request):
    ws, period = ops.for_period(console_of(request).ws, request.query_params.get("period"))
    name, data, count = await in_thread(ops.reminder_drafts_zip, ws, period, request.query_params.get("at") or None)
    if not count:
        return page(request, "error.html", {"message": "Чернеток нагадувань за цей період немає."}, status=404)
    return _attachment(data, name, MEDIA["zip"])
