"""The web console: an ASGI application (Starlette) over the workspace, pages rendered by Jinja2.

Access (see docs/web.md):

* **token** mode (default, 127.0.0.1): the start line's address carries a random token; the first
  request with it opens a session (a cookie) for the workspace's operator, who may do everything.
* **accounts** mode (any other address, or ``--accounts``): users of ``consolidate users add`` sign
  in with a password; roles clerk / reviewer / viewer (accounts.PERMISSIONS).

Every state-changing request is a POST through :func:`action`, which checks the session, the role
and the CSRF token before the handler runs.  No path is ever built from what a request says:
files are found by sha256 in the ledger, reports and templates by codes checked against fixed sets.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hmac
import re
import secrets
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import CatalogueError, ConsolidateError
from ..numbers import format_amount, show_value
from ..vocabulary import Decision
from ..wording import code_label, plural
from ..workspace import Workspace, open_workspace
from . import ops
from .accounts import ROLE_LABELS, Session, Store
from .uploads import IntakeQueue, UploadError, receive

COOKIE = "consolidate_session"
SHA = re.compile("[0-9a-f]{64}")
DEFAULT_UPLOAD_MB = 50
LOGIN_WINDOW = 600.0  # seconds
LOGIN_FAILURES = 5  # failed log-ins per name and per address within the window
PAGES = (
    ("overview", "/", "Огляд"),
    ("intake", "/intake", "Прийом"),
    ("mail", "/mail", "Пошта"),
    ("review", "/review", "Розгляд"),
    ("reconcile", "/reconcile", "Зведення"),
    ("report", "/report", "Звіт"),
    ("templates", "/templates", "Шаблони"),
    ("reminders", "/reminders", "Нагадування"),
    ("catalogue", "/catalogue", "Каталог"),
    ("journal", "/journal", "Журнал"),
)


@dataclass
class Config:
    root: Path
    accounts: bool = False  # require accounts (always when not on loopback)
    token: str = ""  # token mode: the start line's secret
    secure_cookies: bool = True
    upload_cap: int = DEFAULT_UPLOAD_MB * 1024 * 1024


@dataclass
class Console:
    config: Config
    ws: Workspace
    store: Store
    env: Environment
    queue: IntakeQueue
    failures: dict = field(default_factory=lambda: defaultdict(deque))
    flashes: dict = field(default_factory=dict)
    status_cache: dict = field(default_factory=dict)
    row_cache: dict = field(default_factory=dict)
    status_locks: dict = field(default_factory=dict)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)
    mail_lock: threading.Lock = field(default_factory=threading.Lock)  # one mailbox check of this console at a time
    mail_started: tuple[str, str] = ("", "")  # (who, when) of the check running


def short_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return iso


def upload_cap(ws: Workspace) -> int:
    try:
        mb = float(ws.setting("web", "upload_limit_mb", DEFAULT_UPLOAD_MB))
    except (TypeError, ValueError):
        raise ConsolidateError("[web] upload_limit_mb у consolidate.toml має бути числом (мегабайти).") from None
    return int(mb * 1024 * 1024)


# ---------------------------------------------------------------------------------
# sessions, roles, CSRF
# ---------------------------------------------------------------------------------


def console_of(request: Request) -> Console:
    return request.app.state.console


def session_of(request: Request) -> Session | None:
    return request.scope.get("console.session")


class AccessMiddleware:
    """Resolves the session; the token in a URL opens one; everything but log-in and static needs one."""

    OPEN = ("/login", "/static/")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        console: Console = scope["app"].state.console
        sid = request.cookies.get(COOKIE)
        session = console.store.session(sid)
        token = request.query_params.get("token")
        if token is not None and not console.config.accounts:
            if hmac.compare_digest(token.encode(), console.config.token.encode()):
                user = str(console.ws.setting("operator", "name", "") or "Оператор")
                sid, session = console.store.open_session(user, "clerk")
                console.store.log(user, "login", "ключ доступу з рядка запуску")
                query = urllib.parse.urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                response: Response = RedirectResponse(scope["path"] + (f"?{query}" if query else ""), 303)
                set_cookie(response, console, sid)
                return await secure_headers(response)(scope, receive, send)
        scope["console.session"] = session
        scope["console.sid"] = sid if session else None
        path = scope["path"]
        if session is None and not path.startswith(self.OPEN):
            if console.config.accounts:
                response = RedirectResponse("/login", 303)
            else:
                response = page(request, "denied.html", {}, status=401)
            return await secure_headers(response)(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def secure_headers(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers[k] = v
    return response


def set_cookie(response: Response, console: Console, sid: str) -> None:
    response.set_cookie(
        COOKIE, sid, httponly=True, samesite="strict", secure=console.config.secure_cookies, path="/", max_age=12 * 3600
    )


def flash(request: Request, text: str, kind: str = "ok") -> None:
    sid = request.scope.get("console.sid")
    if sid:
        console_of(request).flashes.setdefault(sid, []).append((kind, text))


def action(permission: str):
    """A state-changing handler: a session, a role that may ``permission``, the session's CSRF token.

    The token comes from the form field ``csrf`` or the ``X-CSRF-Token`` header; an upload (whose body
    is streamed, not parsed first) gives it in the query string.  The handler gets (request, session, form).
    """

    def wrap(handler):
        @functools.wraps(handler)
        async def endpoint(request: Request):
            session = session_of(request)
            if session is None:
                return page(request, "denied.html", {}, status=401)
            streamed = request.headers.get("content-type", "").startswith("multipart/form-data")
            form = {} if streamed else dict(await request.form())
            given = form.get("csrf") or request.headers.get("x-csrf-token") or request.query_params.get("csrf") or ""
            if not hmac.compare_digest(str(given).encode(), session.csrf.encode()):
                return page(
                    request,
                    "error.html",
                    {
                        "message": "Запит відхилено: немає або невірний ключ форми (CSRF). "
                        "Оновіть сторінку й повторіть дію."
                    },
                    status=403,
                )
            if permission and not session.can(permission):
                return page(
                    request,
                    "error.html",
                    {"message": f"Ваша роль («{ROLE_LABELS.get(session.role, session.role)}») не дозволяє цієї дії."},
                    status=403,
                )
            try:
                return await handler(request, session, form)
            except CatalogueError as exc:
                return page(
                    request,
                    "error.html",
                    {"message": "Каталог програми містить помилки.", "problems": exc.problems},
                    status=409,
                )
            except ConsolidateError as exc:
                return page(request, "error.html", {"message": str(exc)}, status=409)

        return endpoint

    return wrap


def view(handler):
    """A read-only page: library errors become a Ukrainian error page, never a traceback."""

    @functools.wraps(handler)
    async def endpoint(request: Request):
        try:
            return await handler(request)
        except CatalogueError as exc:
            return page(
                request,
                "error.html",
                {"message": "Каталог програми містить помилки.", "problems": exc.problems},
                status=409,
            )
        except ConsolidateError as exc:
            return page(request, "error.html", {"message": str(exc)}, status=400)

    return endpoint


def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    console = console_of(request)
    session = session_of(request)
    sid = request.scope.get("console.sid")
    messages = console.flashes.pop(sid, []) if sid else []
    try:
        ws, period = ops.for_period(console.ws, request.query_params.get("period"))
        programme = ws.catalogue.programme.title
    except ConsolidateError:
        period, programme = "", ""
    try:
        stamp_now = current_stamp(console) if session else ""
    except Exception:  # noqa: BLE001 - a page without the stale-notice rather than no page
        stamp_now = ""
    try:
        periods = [p for y in sorted(console.ws.years()) for p in (str(y), *(f"{y}-Q{q}" for q in range(1, 5)))]
    except ConsolidateError:
        periods = []
    html = console.env.get_template(name).render(
        stamp=stamp_now,
        periods=periods,
        path=request.url.path,
        request=request,
        session=session,
        pages=PAGES,
        messages=messages,
        period=period,
        programme=programme,
        accounts=console.config.accounts,
        role_labels=ROLE_LABELS,
        **context,
    )
    return HTMLResponse(html, status_code=status)


async def in_thread(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


def back(path: str, period: str | None = None) -> RedirectResponse:
    return RedirectResponse(path + (f"?period={urllib.parse.quote(period)}" if period else ""), 303)


# ---------------------------------------------------------------------------------
# log-in
# ---------------------------------------------------------------------------------


def _throttled(console: Console, keys: list[str]) -> float:
    """Seconds until another log-in attempt is allowed (0: allowed now)."""
    now = time.monotonic()
    wait = 0.0
    for key in keys:
        q = console.failures[key]
        while q and now - q[0] > LOGIN_WINDOW:
            q.popleft()
        if len(q) >= LOGIN_FAILURES:
            wait = max(wait, LOGIN_WINDOW - (now - q[0]))
    return wait


async def login(request: Request):
    console = console_of(request)
    if not console.config.accounts:
        return page(request, "denied.html", {}, status=401)
    if request.method == "GET":
        return page(request, "login.html", {"csrf": _login_csrf(request)})
    form = await request.form()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    if not hmac.compare_digest(
        str(form.get("csrf", "")).encode(), request.cookies.get("consolidate_login", "-").encode()
    ):
        return page(
            request,
            "login.html",
            {"error": "Форму входу застаріло: спробуйте ще раз.", "csrf": _login_csrf(request)},
            status=403,
        )
    client = request.client.host if request.client else "?"
    keys = [f"name:{name.casefold()}", f"addr:{client}"]
    wait = _throttled(console, keys)
    if wait > 0:
        minutes = max(1, int(wait // 60) + 1)
        return page(
            request,
            "login.html",
            {
                "error": f"Забагато невдалих спроб входу. Спробуйте знову за "
                f"{plural(minutes, 'хвилину', 'хвилини', 'хвилин')}.",
                "csrf": _login_csrf(request),
            },
            status=429,
        )
    role = await in_thread(console.store.authenticate, name, password)
    if role is None:
        for key in keys:
            console.failures[key].append(time.monotonic())
        console.store.log(name or "?", "login-failed", f"адреса {client}")
        return page(
            request, "login.html", {"error": "Неправильне ім’я або пароль.", "csrf": _login_csrf(request)}, status=401
        )
    for key in keys:
        console.failures.pop(key, None)
    sid, _ = console.store.open_session(name, role)
    console.store.log(name, "login", f"адреса {client}")
    response = RedirectResponse("/", 303)
    set_cookie(response, console, sid)
    response.delete_cookie("consolidate_login", path="/login")
    return response


def _login_csrf(request: Request) -> str:
    """Double-submit token of the log-in form (there is no session yet); set by the log-in page's response."""
    token = request.cookies.get("consolidate_login") or secrets.token_urlsafe(24)
    request.scope["console.login_csrf"] = token
    return token


class LoginCookie:
    """Sets the log-in form's double-submit cookie on the log-in page."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def wrapped(message):
            token = scope.get("console.login_csrf")
            if message["type"] == "http.response.start" and token:
                console: Console = scope["app"].state.console
                flags = "; Secure" if console.config.secure_cookies else ""
                cookie = f"consolidate_login={token}; Path=/login; HttpOnly; SameSite=Strict{flags}"
                message = {**message, "headers": list(message.get("headers", [])) + [(b"set-cookie", cookie.encode())]}
            await send(message)

        await self.app(scope, receive, wrapped)


@action("")
async def logout(request: Request, session: Session, form: dict):  # any role may sign out
    console = console_of(request)
    console.store.close_session(request.scope.get("console.sid"))
    console.store.log(session.user, "logout")
    response = RedirectResponse("/login" if console.config.accounts else "/bye", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ---------------------------------------------------------------------------------
# pages
# ---------------------------------------------------------------------------------


def cached_status(console: Console, ws: Workspace, period: str):
    """The status of every executor, computed again only when the ledger's stamp (or the day) changed.

    Twenty clerks opening «Огляд» between two changes cost one computation; the stamp itself is five
    indexed MAX() queries.  After a change every open «Огляд» reloads at once: one of them computes, the
    others wait for it (one lock per period and day) and take its result."""
    today = dt.date.today()
    key = (period, today)
    with console.cache_lock:
        lock = console.status_locks.setdefault(key, threading.Lock())
    from ..workflows.status import ledger_stamp

    with lock:
        stamp_now = ledger_stamp(console.ws)
        hit = console.status_cache.get(key)
        if hit is not None and hit[0] == stamp_now:
            return hit[1]
        result = ops.status(ws, period, today)
        with console.cache_lock:
            if len(console.status_cache) > 8:
                console.status_cache.clear()
                console.status_locks = {key: lock}
            console.status_cache[key] = (stamp_now, result)
        return result


def _status_row(console: Console, row, decision: str, period: str) -> str:
    """One executor's row of «Огляд», rendered once per distinct content (1,500 rows: ~1 ms instead of ~60)."""
    key = (row, decision, period)
    cached = console.row_cache.get(key)
    if cached is None:
        if len(console.row_cache) > 20_000:
            console.row_cache.clear()
        cached = console.row_cache[key] = console.env.get_template("_status_row.html").render(
            r=row, decision=decision, period=period
        )
    return cached


@view
async def overview(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    rows, summary, decisions = await in_thread(cached_status, console, ws, period)
    state = request.query_params.get("state", "")
    query = request.query_params.get("q", "").strip()
    shown = [
        r
        for r in rows
        if (not state or r.state_key == state)
        and (not query or query.casefold() in f"{r.name} {r.executor}".casefold())
    ]
    from ..status import STATE_KEYS, STATES

    rows_html = Markup("".join(_status_row(console, r, decisions.get(r.executor, ""), period) for r in shown))
    return page(
        request,
        "overview.html",
        {
            "rows": shown,
            "rows_html": rows_html,
            "summary": summary,
            "total": len(rows),
            "state": state,
            "q": query,
            "states": [(STATE_KEYS[s], s) for s in STATES],
            "page_id": "overview",
            "live": True,
        },
    )


@view
async def intake_page(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    quarantine = await in_thread(ops.quarantined, ws)
    executors = [(c, ws.catalogue.executor_label(c)) for c in ws.catalogue.expected_executors()]
    return page(
        request,
        "intake.html",
        {
            "quarantine": list(reversed(quarantine)),
            "recent": console.store.recent_uploads(),
            "executors": executors,
            "cap_mb": console.config.upload_cap // (1024 * 1024),
            "cap": console.config.upload_cap,
            "page_id": "intake",
        },
    )


@action("intake")
async def upload(request: Request, session: Session, form: dict):
    console = console_of(request)
    try:
        staged = await receive(request, console.ws.root, console.config.upload_cap)
    except UploadError as exc:
        return page(request, "error.html", {"message": str(exc)}, status=exc.status)
    outcomes = await asyncio.wrap_future(console.queue.submit(staged))
    batch = secrets.token_hex(8)
    files = [
        (f.name, o.sha256 if o else "", o.state if o else "not-read")
        for f, o in zip(staged.files, outcomes, strict=True)
    ]
    console.store.record_upload(batch, session.user, files)
    console.store.log(
        session.user, "upload", "; ".join(f"{name} — {_outcome_label(state)}" for name, _, state in files)
    )
    return RedirectResponse(f"/intake/batch/{batch}", 303)


@action("intake")
async def assign(request: Request, session: Session, form: dict):
    """A quarantined file is an executor's return: read it again as theirs."""
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    sha = str(form.get("sha", ""))
    if not SHA.fullmatch(sha):
        raise ConsolidateError("Файл вказують його SHA-256.")
    code = _executor_code(ws, form)
    done = await in_thread(ops.assign_quarantined, ws, sha, code, period, session.user, str(form.get("reason", "")))
    label = ws.catalogue.executor_label(code)
    console.store.log(session.user, "assign", f"{done.assigned.file.original_name} → {label}: {done.state_label}")
    flash(
        request,
        f"Файл «{done.assigned.file.original_name}» віднесено до «{label}»: {done.state_label}.",
        "ok" if done.ok else "warn",
    )
    return back("/intake", period)


def _outcome_label(state: str) -> str:
    from ..inbox import OUTCOME_LABELS

    return OUTCOME_LABELS.get(state, state)


@view
async def batch_page(request: Request):
    console = console_of(request)
    batch = request.path_params["batch"]
    rows = console.store.upload(batch)
    if not rows:
        return page(request, "error.html", {"message": "Такого завантаження немає."}, status=404)
    from ..workflows.intake import files_by_sha

    known = await in_thread(files_by_sha, console.ws, [sha for *_, sha, _state in rows if sha])
    files = []
    for _user, _at, name, sha, state in rows:
        record, findings = known.of(sha)
        files.append(
            {
                "name": name,
                "sha": sha,
                "state": state,
                "label": _outcome_label(state),
                "record": record,
                "findings": findings,
            }
        )
    return page(request, "batch.html", {"files": files, "user": rows[0][0], "at": rows[0][1], "page_id": "intake"})


@view
async def executor_page(request: Request):
    console = console_of(request)
    from ..workflows.intake import executor_history

    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    found = await in_thread(executor_history, ws, request.path_params["code"], period)
    return page(request, "executor.html", {"v": found, "page_id": "overview"})


@view
async def download_file(request: Request):
    """An archived copy, found by its sha256 in the ledger (the URL names no path)."""
    console = console_of(request)
    sha = request.path_params["sha"]
    if not SHA.fullmatch(sha):
        return page(
            request, "error.html", {"message": "Файл вказують його SHA-256 (64 шістнадцяткові цифри)."}, status=404
        )
    from ..workflows.intake import files_by_sha

    record, _ = (await in_thread(files_by_sha, console.ws, [sha])).of(sha)
    if record is None:
        return page(request, "error.html", {"message": "Такого файлу в журналі немає."}, status=404)
    archive = (console.ws.root / "archive").resolve()
    path = (console.ws.root / record.archive_path).resolve()
    if not path.is_relative_to(archive) or not path.is_file():
        return page(
            request,
            "error.html",
            {"message": "Архівної копії цього файлу немає (див. «consolidate verify»)."},
            status=404,
        )
    return _attachment(path.read_bytes(), record.original_name)


def _attachment(data: bytes, name: str, media: str = "application/octet-stream") -> Response:
    quoted = urllib.parse.quote(name, safe="")
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in ".-_" else "_" for c in name) or "file"
    return Response(
        data,
        media_type=media,
        headers={"content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"},
    )


@view
async def mail_page(request: Request):
    """«Пошта»: the messages taken from the reporting mailbox, newest first, and how the mailbox is set up."""
    from ..workflows.mail import MESSAGE_FILTERS, mailbox_messages

    console = console_of(request)
    ws, _ = ops.for_period(console.ws, request.query_params.get("period"))
    show = request.query_params.get("show", "")
    query = request.query_params.get("q", "").strip()
    number = request.query_params.get("page", "1")
    listed = await in_thread(mailbox_messages, ws, show=show, query=query, page=int(number) if number.isdigit() else 1)
    return page(
        request,
        "mail.html",
        {
            "v": listed,
            "filters": MESSAGE_FILTERS,
            "label": ws.catalogue.executor_label,
            "running": console.mail_started if console.mail_lock.locked() else None,
            "page_id": "mail",
        },
    )


@action("mail")
async def mail_fetch(request: Request, session: Session, form: dict):
    """«Перевірити пошту зараз»: one round of «consolidate mail fetch»; what it did as flashes over the listing."""
    console = console_of(request)
    period = str(form.get("period") or "") or None
    if not console.mail_lock.acquire(blocking=False):
        who, when = console.mail_started
        flash(request, f"Пошту вже перевіряє {who} (від {when}); дочекайтеся завершення й оновіть сторінку.", "warn")
        return back("/mail", period)
    try:
        console.mail_started = (session.user, dt.datetime.now().strftime("%H:%M:%S"))
        ws, _ = ops.for_period(console.ws, None)  # the default catalogue, as «consolidate mail fetch» takes it
        result = await in_thread(ops.fetch_mail, ws)
    except ConsolidateError as exc:  # no password, a broken [mailbox], the server unreachable, another run
        flash(request, f"Пошту не перевірено. {exc}", "error")
        return back("/mail", period)
    finally:
        console.mail_lock.release()
    flash(request, _fetched_text(result), "ok" if result.ok else "warn")
    for m in result.new:
        if m.error:
            flash(
                request,
                f"Лист {m.sender} («{m.subject}») оброблено не до кінця (продовжимо наступного разу): {m.error}",
                "warn",
            )
    console.store.log(session.user, "mail-fetch", _fetched_text(result))
    return back("/mail", period)


def _fetched_text(result) -> str:
    """What one round did, in a sentence: new messages, where they went, receipts sent, repeats."""
    new = result.new
    if not new:
        text = f"Нових листів немає ({result.mailbox}, тека «{result.folder}»)"
    else:
        text = f"Перевірено пошту: {plural(len(new), 'новий лист', 'нові листи', 'нових листів')}"
        folders: dict[str, int] = {}
        for m in new:
            if m.moved_to:
                folders[m.moved_to] = folders.get(m.moved_to, 0) + 1
        if folders:
            text += "; " + ", ".join(f"до «{name}» — {n}" for name, n in folders.items())
        text += f"; надіслано {plural(result.receipts_sent, 'квитанцію', 'квитанції', 'квитанцій')}"
    if result.duplicates:
        text += f"; {plural(result.duplicates, 'повторний лист', 'повторні листи', 'повторних листів')} уже оброблено"
    return text + "."


@view
async def review_page(request: Request):
    console = console_of(request)
    from ..review import SLOT_STATES
    from ..workflows.review import review_list

    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    listed = await in_thread(review_list, ws, period, details=True)

    order = {
        s: i for i, s in enumerate((SLOT_STATES[1], SLOT_STATES[3], SLOT_STATES[2], SLOT_STATES[4], SLOT_STATES[0]))
    }
    slots = sorted(listed.slots, key=lambda s: (order[s.state], s.executor))
    counts = {s: sum(1 for x in slots if x.state == s) for s in SLOT_STATES}
    return page(
        request,
        "review.html",
        {
            "slots": slots,
            "findings": listed.findings,
            "counts": counts,
            "outliers": listed.outliers,
            "label": ws.catalogue.executor_label,
            "page_id": "review",
            "live": True,
        },
    )


def _executor_code(ws: Workspace, form: dict) -> str:
    code = str(form.get("executor", ""))
    if code not in ws.catalogue.registry:
        raise ConsolidateError(f"Невідомий виконавець «{code}».")
    return code


@action("review")
async def review_accept(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    code = _executor_code(ws, form)
    refs = [k[len("confirm_") :] for k, v in form.items() if k.startswith("confirm_") and v == "1"]
    decision = await in_thread(
        ops.accept, ws, code, period, session.user, form.get("force") == "1", refs, str(form.get("reason", ""))
    )
    console.store.log(session.user, "accept", f"{ws.catalogue.executor_label(code)}, звіт №{decision.submission_id}")
    flash(
        request,
        f"{Decision.ACCEPT.label.capitalize()}: {ws.catalogue.executor_label(code)}, звіт №{decision.submission_id}.",
    )
    return back("/review", period)


@action("review")
async def review_return(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    code = _executor_code(ws, form)
    decision, letters = await in_thread(
        ops.return_for_rework, ws, code, period, str(form.get("comment", "")), session.user
    )
    label = ws.catalogue.executor_label(code)
    console.store.log(session.user, "return", f"{label}, звіт №{decision.submission_id}: {decision.comment}")
    sent = ""
    if letters:
        sent = (
            f"; лист надіслано ({letters[0].recipients})"
            if letters[0].via == "smtp"
            else f"; лист підготовлено ({letters[0].recipients}, {letters[0].location})"
        )
    flash(request, f"Повернуто на доопрацювання: {label}, звіт №{decision.submission_id}{sent}.")
    return back("/review", period)


@view
async def reconcile_page(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    from ..workflows.reconcile import reconcile

    draft = request.query_params.get("draft") == "1"
    reconciled = await in_thread(reconcile, ws, period, draft)
    rec, adjustments = reconciled.rec, reconciled.adjustments
    item = request.query_params.get("item", "").strip()
    explained = await in_thread(ops.explain, ws, period, item, draft) if item else None
    total = rec.subtotal(None, "total")
    active = [a for a in adjustments if not a.undone_at]
    return page(
        request,
        "reconcile.html",
        {
            "rec": rec,
            "total": total,
            "item": item,
            "explained": explained.lines if explained else [],
            "adjustments": list(reversed(adjustments)),
            "active": active,
            "bounds": explained.bounds if explained else None,
            "draft": draft,
            "label": ws.catalogue.executor_label,
            "page_id": "reconcile",
        },
    )


@action("adjust")
async def adjust(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    item = str(form.get("item", "")).strip()
    try:
        value = float(str(form.get("value", "")).replace(",", ".").replace(" ", ""))
    except ValueError:
        raise ConsolidateError(f"Значення «{form.get('value', '')}» не є числом.") from None
    made = await in_thread(
        ops.adjust, ws, period, item, value, str(form.get("reason", "")), session.user, form.get("force") == "1"
    )
    console.store.log(session.user, "adjust", f"{item} = {show_value(made.value)}: {made.reason}")
    flash(request, f"Значення {item} встановлено: {show_value(made.value)}.")
    return RedirectResponse(f"/reconcile?period={urllib.parse.quote(period)}&item={urllib.parse.quote(item)}", 303)


@action("adjust")
async def undo(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    item = str(form.get("item", "")).strip()
    await in_thread(ops.undo_adjustment, ws, period, item, session.user)
    console.store.log(session.user, "undo", item)
    flash(request, f"Коригування {item} скасовано; діє значення за правилом зведення.")
    return RedirectResponse(f"/reconcile?period={urllib.parse.quote(period)}&item={urllib.parse.quote(item)}", 303)


@view
async def report_page(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    built = []
    for draft in (False, True):
        for fmt in ops.REPORT_FORMATS:
            path = ops.report_path(ws, period, fmt, draft)
            if path.is_file():
                built.append(
                    {
                        "fmt": fmt,
                        "draft": draft,
                        "size": path.stat().st_size,
                        "at": dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%d.%m.%Y %H:%M:%S"),
                    }
                )
    from ..review import APPROVED
    from ..workflows.review import review_list

    slots = (await in_thread(review_list, ws, period, outliers=False)).slots
    approved = sum(1 for s in slots if s.state == APPROVED)
    received = sum(1 for s in slots if s.latest is not None)
    return page(
        request,
        "report.html",
        {
            "built": built,
            "formats": ops.REPORT_FORMATS,
            "approved": approved,
            "received": received,
            "expected": len(slots),
            "page_id": "report",
        },
    )


@action("report")
async def report_build(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    formats = [f for f in ops.REPORT_FORMATS if form.get(f"fmt_{f}") == "1"] or ["xlsx"]
    draft = form.get("draft") == "1"
    written = await in_thread(ops.build_report, ws, period, formats, draft)
    console.store.log(
        session.user,
        "report",
        f"{period}: " + ", ".join(p.suffix[1:] for p in written) + (" (чернетка)" if draft else ""),
    )
    flash(request, "Звіт сформовано: " + ", ".join(p.name for p in written) + ".")
    return back("/report", period)


MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "zip": "application/zip",
}


@view
async def report_download(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    fmt = request.path_params["fmt"]
    if fmt not in ops.REPORT_FORMATS:
        return page(request, "error.html", {"message": "Невідомий формат звіту."}, status=404)
    path = ops.report_path(ws, period, fmt, request.query_params.get("draft") == "1")
    if not path.is_file():
        return page(request, "error.html", {"message": "Звіт у цьому форматі ще не сформовано."}, status=404)
    return _attachment(path.read_bytes(), path.name, MEDIA[fmt])


@view
async def templates_page(request: Request):
    console = console_of(request)
    from ..workflows.setup import templates_listing

    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    listed = await in_thread(templates_listing, ws, period)
    return page(
        request,
        "templates.html",
        {
            "rows": listed.rows,
            "label": ws.catalogue.executor_label,
            "version": listed.version,
            "sent": listed.letters,
            "page_id": "templates",
        },
    )


@action("templates")
async def templates_generate(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    files = await in_thread(ops.generate_templates, ws, period)
    console.store.log(session.user, "templates", f"{period}: {plural(len(files), 'шаблон', 'шаблони', 'шаблонів')}")
    flash(
        request,
        f"Згенеровано {plural(len(files), 'шаблон', 'шаблони', 'шаблонів')} (версія {ws.catalogue.template_version}).",
    )
    return back("/templates", period)


@action("mail")
async def templates_send(request: Request, session: Session, form: dict):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, form.get("period"))
    records = await in_thread(ops.send_templates, ws, period, form.get("resend") == "1")
    console.store.log(session.user, "send-templates", f"{period}: {plural(len(records), 'лист', 'листи', 'листів')}")
    how = "надіслано" if records and records[0].via == "smtp" else f"підготовлено (out/mail/{period}/)"
    flash(
        request,
        f"Листи із шаблонами: {plural(len(records), 'лист', 'листи', 'листів')} {how}; кожен записано в журнал.",
    )
    return back("/templates", period)


@view
async def template_download(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    code = request.path_params["code"]
    if code not in ws.catalogue.expected_executors():
        return page(request, "error.html", {"message": f"Невідомий виконавець «{code}»."}, status=404)
    session = session_of(request)
    assert session is not None  # AccessMiddleware lets no request without one past, but to /login and /static/
    found = await in_thread(ops.template_file, ws, period, code, session.can("templates"))
    if found is None:  # a reader's GET writes nothing
        return page(
            request,
            "error.html",
            {
                "message": "Шаблон цього виконавця ще не згенеровано (або він застарів); "
                "його генерує діловод на сторінці «Шаблони»."
            },
            status=404,
        )
    name, data = found
    return _attachment(data, name, MEDIA["xlsx"])


@view
async def templates_zip(request: Request):
    console = console_of(request)
    ws, period = ops.for_period(console.ws, request.query_params.get("period"))
    session = session_of(request)
    assert session is not None  # AccessMiddleware lets no request without one past, but to /login and /static/
    name, data, missing = await in_thread(ops.templates_zip, ws, period, session.can("templates"))
    if missing:
        return page(
            request,
            "error.html",
            {
                "message": f"Не згенеровано (або застаріло) "
                f"{plural(missing, 'шаблон', 'шаблони', 'шаблонів')}; їх генерує "
                f"діловод на сторінці «Шаблони»."
            },
            status=404,
        )
    return _attachment(data, name, MEDIA["zip"])


@view
async def catalogue_page(request: Request):
    ws, _ = ops.for_period(console_of(request).ws, request.query_params.get("period"))
    cat = ws.catalogue
    return page(request, "catalogue.html", {"cat": cat, "page_id": "catalogue"})


CATALOGUE_FILES = {"catalogue": "catalogue.yaml", "executors": "executors.csv"}


@view
async def catalogue_workbook(request: Request):
    """The year's catalogue as the workbook the clerk edits (what «consolidate catalogue export» writes)."""
    from ..workflows.catalogue import catalogue_book

    ws, _ = ops.for_period(console_of(request).ws, request.query_params.get("period"))
    book = await in_thread(catalogue_book, ws)
    return _attachment(book.data, f"каталог-{book.year}.xlsx", MEDIA["xlsx"])


@action("catalogue")
async def catalogue_import(request: Request, session: Session, form: dict):
    """An edited catalogue workbook: validated whole; the year's catalogue replaced only when it has no problem."""
    from ..workflows.catalogue import import_catalogue

    console = console_of(request)
    try:
        staged = await receive(request, console.ws.root, console.config.upload_cap)
    except UploadError as exc:
        return page(request, "error.html", {"message": str(exc)}, status=exc.status)
    try:
        if len(staged.files) != 1:
            raise ConsolidateError("Завантажте один файл — книгу каталогу (.xlsx або .ods).")
        r = await in_thread(import_catalogue, console.ws, staged.files[0].path, name=staged.files[0].name)
    finally:
        staged.discard()
    if r.problems:
        ws, _ = ops.for_period(console.ws, None)
        return page(
            request,
            "catalogue.html",
            {"cat": ws.catalogue, "page_id": "catalogue", "problems": r.problems, "book": staged.files[0].name},
            status=422,
        )
    console.ws.forget_catalogues()
    what = (
        f"каталог {r.year} року замінено (версія {r.version})"
        if r.changed
        else f"книга збігається з чинним каталогом {r.year} року"
    )
    console.store.log(session.user, "catalogue", f"{staged.files[0].name}: {what}")
    flash(request, f"Книгу «{staged.files[0].name}» перевірено: {what}.")
    return back("/catalogue", str(r.year))


@view
async def catalogue_download(request: Request):
    console = console_of(request)
    name = CATALOGUE_FILES.get(request.path_params["which"])
    if name is None:
        return page(request, "error.html", {"message": "Немає такого файлу каталогу."}, status=404)
    return _attachment((console.ws.templates_dir / name).read_bytes(), name, "text/plain; charset=utf-8")


ACTION_LABELS = {
    "login": "вхід",
    "logout": "вихід",
    "login-failed": "невдала спроба входу",
    "upload": "завантаження",
    "accept": f"{Decision.ACCEPT.label} звіт",
    "return": Decision.RETURN.label,
    "adjust": "коригування",
    "undo": "скасовано коригування",
    "report": "сформовано звіт",
    "templates": "згенеровано шаблони",
    "send-templates": "листи з шаблонами",
    "remind": "нагадування",
    "catalogue": "імпорт каталогу",
    "assign": "файл із карантину віднесено",
    "received": "отримано файл",
    "mail": "лист",
    "mail-fetch": "перевірено пошту",
}


@view
async def journal_page(request: Request):
    from ..workflows.status import journal

    console = console_of(request)
    recorded = await in_thread(journal, console.ws)
    files, reviews, adjustments, mails = recorded.files, recorded.reviews, recorded.adjustments, recorded.mails
    entries = [(e.at, e.user, e.action, e.detail, "консоль") for e in console.store.events()]
    label = console.ws.catalogue.executor_label
    entries += [
        (
            f.received_at,
            console.store.uploader(f.sha256) or "—",
            "received",
            f"{f.original_name} — {_outcome_label(f.status)}" + (f" ({label(f.executor)})" if f.executor else ""),
            "журнал",
        )
        for f in files
    ]
    entries += [
        (
            r.decided_at,
            r.operator,
            "accept" if r.decision == "accept" else "return",
            f"{label(r.executor)}, звіт №{r.submission_id}" + (f": {r.comment}" if r.comment else ""),
            "журнал",
        )
        for r in reviews
    ]
    entries += [
        (a.made_at, a.operator, "adjust", f"{a.item} = {show_value(a.value)}: {a.reason}", "журнал")
        for a in adjustments
    ]
    entries += [(a.undone_at, a.undone_by, "undo", a.item, "журнал") for a in adjustments if a.undone_at]
    entries += [(m.sent_at, "—", "mail", f"{label(m.executor)}: {m.subject}", "журнал") for m in mails]
    who = request.query_params.get("user", "").strip()
    if who:
        entries = [e for e in entries if e[1] == who]
    entries.sort(key=lambda e: e[0] or "", reverse=True)
    return page(
        request, "journal.html", {"entries": entries[:500], "labels": ACTION_LABELS, "who": who, "page_id": "journal"}
    )


def current_stamp(console: Console) -> str:
    from ..workflows.status import ledger_stamp

    return f"{ledger_stamp(console.ws)}-{console.store.stamp()}"


async def stamp(request: Request):
    """What a page compares with the stamp it was rendered with to know it is stale."""
    return JSONResponse({"stamp": await in_thread(current_stamp, console_of(request))})


async def bye(request: Request):
    return page(request, "bye.html", {})


# ---------------------------------------------------------------------------------
# the application
# ---------------------------------------------------------------------------------


async def not_found(request: Request, exc):
    return page(request, "error.html", {"message": "Такої сторінки немає."}, status=404)


async def not_allowed(request: Request, exc):
    return page(request, "error.html", {"message": "Ця адреса не приймає такого запиту."}, status=405)


def create_app(config: Config) -> Starlette:
    ws = open_workspace(config.root)
    _ = ws.catalogue  # a broken catalogue stops the start with its problems, not the first page
    config.upload_cap = upload_cap(ws)
    store = Store(ws.root)
    env = Environment(
        loader=PackageLoader("consolidate.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = short_time
    env.globals["plural"] = plural
    env.filters["amount"] = format_amount
    env.filters["value"] = show_value
    env.filters["kind"] = code_label
    env.globals["state_label"] = _outcome_label
    env.globals["decision_label"] = lambda code: Decision.of(code).label
    queue = IntakeQueue(
        lambda paths, names: ops.intake(ws, paths, names, refresh=False), after=lambda: ops.refresh_status(ws, None)
    )
    from . import reminders

    routes = [
        Route("/", overview),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/bye", bye),
        Route("/intake", intake_page),
        Route("/intake/upload", upload, methods=["POST"]),
        Route("/intake/batch/{batch:str}", batch_page),
        Route("/intake/assign", assign, methods=["POST"]),
        Route("/mail", mail_page),
        Route("/mail/fetch", mail_fetch, methods=["POST"]),
        Route("/executor/{code:str}", executor_page),
        Route("/files/{sha:str}", download_file),
        Route("/review", review_page),
        Route("/review/accept", review_accept, methods=["POST"]),
        Route("/review/return", review_return, methods=["POST"]),
        Route("/reconcile", reconcile_page),
        Route("/reconcile/adjust", adjust, methods=["POST"]),
        Route("/reconcile/undo", undo, methods=["POST"]),
        Route("/report", report_page),
        Route("/report/build", report_build, methods=["POST"]),
        Route("/report/download/{fmt:str}", report_download),
        Route("/templates", templates_page),
        Route("/templates/generate", templates_generate, methods=["POST"]),
        Route("/templates/send", templates_send, methods=["POST"]),
        Route("/templates/file/{code:str}", template_download),
        Route("/templates/all.zip", templates_zip),
        Route("/reminders", reminders.reminders_page),
        Route("/reminders/send", reminders.reminders_send, methods=["POST"]),
        Route("/reminders/draft/{id:int}", reminders.reminder_draft),
        Route("/reminders/drafts.zip", reminders.reminder_drafts_zip),
        Route("/catalogue", catalogue_page),
        Route("/catalogue/file/{which:str}", catalogue_download),
        Route("/catalogue/workbook.xlsx", catalogue_workbook),
        Route("/catalogue/import", catalogue_import, methods=["POST"]),
        Route("/journal", journal_page),
        Route("/api/stamp", stamp),
        Mount("/static", StaticFiles(packages=[("consolidate.web", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    app.state.console = Console(config, ws, store, env, queue)
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    app.add_middleware(LoginCookie)
    app.add_middleware(AccessMiddleware)
    return app
