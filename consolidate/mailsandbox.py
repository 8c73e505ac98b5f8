"""A throw-away mail service on this computer, for ``consolidate demo``'s mail round and for the tests.

- :class:`Dovecot`: Debian's dovecot-imapd started with a configuration of its own in a temporary folder
  (shared/notes/dovecot-test-server.md): listening on 127.0.0.1 only, IMAPS and STARTTLS with a self-signed
  certificate made by ``openssl``, plain-text login refused, users in a passwd-file.  Nothing of the machine's own
  mail set-up is read or touched; :meth:`Dovecot.stop` ends it and removes its folder.
- :class:`SmtpSink`: an SMTP server on 127.0.0.1 (aiosmtpd) that delivers nowhere: it keeps every letter it is
  given, in memory and, given a folder, as numbered ``.eml`` files.
- Messages as mail clients build them (:func:`outlook`, :func:`thunderbird`, :func:`forwarded`,
  :func:`zip_windows`, :func:`out_of_office`): the bytes written by hand, the way each client writes them, so that
  the mailbox's parser meets their quirks rather than what Python's email package would write.

:func:`available` says whether this computer can run the service (Dovecot and openssl installed; not Windows).
"""

from __future__ import annotations

import base64
import datetime as dt
import imaplib
import io
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .mailbox import imap_utf7

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_dovecot() -> str | None:
    """The dovecot program (Debian puts it in /usr/sbin, which a user's PATH may not hold), or None."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


def available() -> str:
    """ "" when this computer can run :class:`Dovecot`; otherwise why not (Ukrainian, for the demo's summary)."""
    if sys.platform == "win32":
        return "на Windows тимчасовий поштовий сервер (Dovecot) не запускається"
    if find_dovecot() is None:
        return "поштовий сервер Dovecot не встановлено (пакет dovecot-imapd)"
    if shutil.which("openssl") is None:
        return "немає програми openssl для сертифіката сервера (пакет openssl)"
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        return "немає пакета aiosmtpd для приймання квитанцій"
    return ""


class Dovecot:
    """``dovecot -c CONF``, daemonised; stopped by killing its master (pid in ``base_dir/master.pid``).

    ``users``: how many mailbox users to create (all written before the start: dovecot notices a changed
    passwd-file by its time stamp, which a user added within the same second as its last read does not change);
    ``names``: their addresses (the rest are generated); ``introspection_url``: also accept SASL XOAUTH2 and
    OAUTHBEARER, each token checked by POSTing it to this RFC 7662 endpoint (Dovecot's oauth2 passdb).
    """

    def __init__(
        self,
        root: Path,
        binary: str,
        *,
        users: int = 1,
        names: tuple[str, ...] = (),
        password: str = "",
        introspection_url: str = "",
    ):
        self.root = root
        self.binary = binary
        self.imaps_port = free_port()
        self.imap_port = free_port()
        self.users_file = root / "users"
        self.cert = root / "cert.pem"
        self.key = root / "key.pem"
        self.password = password or uuid.uuid4().hex
        self.spare = list(names) + [
            f"reports{n}-{uuid.uuid4().hex[:6]}@ministry.test" for n in range(1, max(users - len(names), 0) + 1)
        ]
        self.owned = False
        self.introspection_url = introspection_url

    @classmethod
    def temporary(cls, binary: str | None = None, **kwargs) -> Dovecot:
        """In a temporary folder of its own that dovecot's users can enter (a test's own folders may be private)."""
        binary = binary or find_dovecot()
        if binary is None:
            raise RuntimeError("dovecot is not installed")
        root = Path(tempfile.mkdtemp(prefix="consolidate-dovecot-"))
        root.chmod(0o755)
        server = cls(root, binary, **kwargs)
        server.owned = True
        return server

    def start(self) -> Dovecot:
        r = self.root
        for d in ("run", "state", "mail"):
            (r / d).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                "-out", str(self.cert), "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.users_file.write_text("".join(f"{u}:{{PLAIN}}{self.password}\n" for u in self.spare), encoding="utf-8")
        import pwd

        if os.geteuid() == 0:  # the login process must not run as root: dovecot's own users (the package's)
            owner = pwd.getpwnam("dovecot")
            shutil.chown(r / "mail", "dovecot", "dovecot")
            identity = f"first_valid_uid = {min(owner.pw_uid, 100)}\n"
            userdb = "uid=dovecot gid=dovecot"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            identity = f"first_valid_uid = {os.geteuid()}\ndefault_internal_user = {me}\ndefault_login_user = {me}\n"
            userdb = f"uid={os.geteuid()} gid={os.getegid()}"
        mechanisms, oauth_passdb = "plain login", ""
        if self.introspection_url:
            (r / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {self.introspection_url}\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n",
                encoding="utf-8",
            )
            mechanisms += " xoauth2 oauthbearer"
            oauth_passdb = (
                f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {r}/oauth2.conf.ext\n}}\n"
            )
        (r / "dovecot.conf").write_text(
            f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
{identity}disable_plaintext_auth = yes
verbose_proctitle = yes
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = static
  args = {userdb} home={r}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
""",
            encoding="utf-8",
        )
        # the daemon's children keep the standard streams: a file, not a pipe to wait on
        with open(r / "start.log", "wb") as log:
            subprocess.run(
                [self.binary, "-c", str(r / "dovecot.conf")],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                timeout=60,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.imaps_port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    log_text = (r / "dovecot.log").read_text(errors="replace") if (r / "dovecot.log").exists() else ""
                    self.stop()
                    raise RuntimeError("dovecot did not start: " + log_text) from None
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        """The server stopped and its folder removed (when it made the folder)."""
        self.halt()
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def halt(self) -> None:
        """The server stopped (its clients' connections closed); its folder stays."""
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
            else:
                for _ in range(100):
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.05)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_user(self) -> str:
        """A fresh mailbox user (one of those written into the passwd-file before the start)."""
        return self.spare.pop(0)

    def client(self, user: str) -> imaplib.IMAP4_SSL:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=ctx, timeout=30)
        conn.login(user, self.password)
        return conn

    def append(self, user: str, raw: bytes, folder: str = "INBOX", when: dt.datetime | None = None) -> None:
        """Put a message into a folder as a delivery would (``when``: its arrival, the server's INTERNALDATE)."""
        conn = self.client(user)
        try:
            stamp = imaplib.Time2Internaldate(when.timestamp()) if when is not None else None
            typ, data = conn.append(f'"{imap_utf7(folder)}"', None, stamp, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND refused: {data!r}")
        finally:
            conn.logout()

    def folder(self, user: str, folder: str) -> list[bytes]:
        """The messages of a folder (raw bytes), or [] when it does not exist."""
        conn = self.client(user)
        try:
            typ, _ = conn.select(f'"{imap_utf7(folder)}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", "ALL")  # no charset (imaplib leaves a None out)
            out = []
            for uid in data[0].split():
                typ, got = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(next(bytes(x[1]) for x in got if isinstance(x, tuple)))
            return out
        finally:
            conn.logout()

    def flags(self, user: str, folder: str = "INBOX") -> list[bytes]:
        conn = self.client(user)
        try:
            conn.select(f'"{imap_utf7(folder)}"', readonly=True)
            typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            return [x for x in data if x]
        finally:
            conn.logout()


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every letter it accepts (``messages``: sender, recipients, bytes),
    and writes each into ``folder`` as ``letter-001.eml``… when one is given.  ``controller`` options go to
    aiosmtpd's Controller (authentication, for instance)."""

    def __init__(self, folder: Path | None = None, **controller):
        self.folder = folder
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.paths: list[Path] = []
        self.port = free_port()
        self._options = controller
        self._controller: Any = None  # aiosmtpd's Controller while running

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), data))
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"letter-{len(self.messages):03d}.eml"
            path.write_bytes(data)
            self.paths.append(path)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **self._options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------------
# messages as clients build them
# ---------------------------------------------------------------------------------


def _date(date: dt.datetime | None) -> str:
    """A Date header: ``date``, or now (with this computer's offset)."""
    return format_datetime(date if date is not None else dt.datetime.now().astimezone().replace(microsecond=0))


def ew(text: str, charset: str = "utf-8") -> str:
    """An RFC 2047 encoded word (base64), as Outlook and Thunderbird write non-ASCII headers."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def outlook(
    sender: str,
    to: str,
    subject: str,
    attachments: list[tuple[str, bytes]],
    *,
    body: str = "Добрий день!\r\nНадсилаємо звіт.",
    sender_name: str = "Іваненко Олена",
    message_id: str | None = None,
    charset: str = "utf-8",
    extra_headers: str = "",
    ctype: str = XLSX,
    date: dt.datetime | None = None,
) -> bytes:
    """As Outlook (Microsoft 365) sends it: multipart/mixed around multipart/alternative, base64 bodies, attachment
    names as RFC 2047 encoded words in quotes, Thread-Index, X-MS-Has-Attach."""
    when = _date(date)
    mid = message_id or f"<AM0PR04MB{uuid.uuid4().hex[:12].upper()}@AM0PR04MB1234.eurprd04.prod.outlook.com>"
    outer, inner = f"_004_{uuid.uuid4().hex}_", f"_000_{uuid.uuid4().hex}_"
    html = ("<html><body><p>" + body + "</p></body></html>").encode(charset)
    parts = [
        f'--{inner}\r\nContent-Type: text/plain; charset="{charset}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{b64(body.encode(charset))}\r\n",
        f'--{inner}\r\nContent-Type: text/html; charset="{charset}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{b64(html)}\r\n",
        f"--{inner}--\r\n",
    ]
    text = (
        f'From: {ew(sender_name, charset)} <{sender}>\r\nTo: "{to}" <{to}>\r\nSubject: {ew(subject, charset)}\r\n'
        f"Thread-Topic: {ew(subject, charset)}\r\nThread-Index: AQHbZ0Xr1c2o5Yk3TkKz9Q==\r\nDate: {when}\r\n"
        f"Message-ID: {mid}\r\nAccept-Language: uk-UA, en-US\r\nContent-Language: uk-UA\r\n"
        f"X-MS-Has-Attach: {'yes' if attachments else ''}\r\nX-MS-TNEF-Correlator:\r\n{extra_headers}"
        f'Content-Type: multipart/mixed;\r\n\tboundary="{outer}"\r\nMIME-Version: 1.0\r\n\r\n'
        f'--{outer}\r\nContent-Type: multipart/alternative;\r\n\tboundary="{inner}"\r\n\r\n' + "".join(parts) + "\r\n"
    )
    for name, data in attachments:
        text += (
            f'--{outer}\r\nContent-Type: {ctype};\r\n\tname="{ew(name, charset)}"\r\n'
            f"Content-Description: {ew(name, charset)}\r\nContent-Disposition: attachment;\r\n"
            f'\tfilename="{ew(name, charset)}"; size={len(data)};\r\n'
            f'\tcreation-date="{when}";\r\n\tmodification-date="{when}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64(data)}\r\n\r\n"
        )
    text += f"--{outer}--\r\n"
    return text.encode("ascii")


def rfc2231(name: str, chunk: int = 40) -> str:
    """``filename*0*=UTF-8''…; filename*1*=…``: a name split per RFC 2231, never inside a %XX escape."""
    q = quote(name.encode("utf-8"), safe="")
    pieces = [q[i : i + chunk] for i in range(0, len(q), chunk)]
    fixed, carry = [], ""
    for p in pieces:
        p = carry + p
        cut = p.rfind("%")
        if cut >= len(p) - 2:
            p, carry = p[:cut], p[cut:]
        else:
            carry = ""
        fixed.append(p)
    if carry:
        fixed.append(carry)
    return ";\r\n".join(f" filename*{i}*={'UTF-8' + chr(39) * 2 if i == 0 else ''}{p}" for i, p in enumerate(fixed))


def thunderbird(
    sender: str,
    to: str,
    subject: str,
    attachments: list[tuple[str, bytes]],
    *,
    body: str = "Добрий день!\nЗвіт у вкладенні.",
    sender_name: str = "Петренко Андрій",
    message_id: str | None = None,
    extra_headers: str = "",
    references: str = "",
    date: dt.datetime | None = None,
) -> bytes:
    """As Thunderbird 115 sends it: format=flowed 8bit text, names per RFC 2231 (``filename*0*``…)."""
    mid = message_id or f"<{uuid.uuid4()}@{sender.partition('@')[2]}>"
    boundary = f"------------{uuid.uuid4().hex[:24]}"
    head = (
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\nMessage-ID: {mid}\r\n'
        f"Date: {_date(date)}\r\n"
        f"MIME-Version: 1.0\r\nUser-Agent: Mozilla Thunderbird\r\nContent-Language: uk\r\nTo: {to}\r\n"
        f"From: {ew(sender_name)} <{sender}>\r\nSubject: {ew(subject)}\r\n{references}{extra_headers}\r\n"
        f"This is a multi-part message in MIME format.\r\n"
    )
    text = (
        head.encode("ascii")
        + (
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\r\n"
        ).encode()
    )
    for name, data in attachments:
        text += (
            f'--{boundary}\r\nContent-Type: {XLSX};\r\n name="{ew(name)}"\r\n'
            f"Content-Disposition: attachment;\r\n{rfc2231(name)}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{b64(data)}\r\n\r\n"
        ).encode("ascii")
    return text + f"--{boundary}--\r\n".encode("ascii")


def forwarded(sender: str, to: str, subject: str, inner: bytes, *, date: dt.datetime | None = None) -> bytes:
    """Outlook's «Forward as attachment»: the original message as a message/rfc822 part."""
    boundary = f"_005_{uuid.uuid4().hex}_"
    when = _date(date)
    return (
        (
            f"From: {sender}\r\nTo: {to}\r\nSubject: {ew(subject)}\r\nDate: {when}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@outlook.com>\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f'--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{b64('Пересилаю звіт колег.'.encode())}\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment;\r\n"
            f'\tcreation-date="{when}"\r\n\r\n'
        ).encode("ascii")
        + inner
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )


def out_of_office(sender: str, to: str, subject: str, *, date: dt.datetime | None = None) -> bytes:
    """Exchange's automatic reply (out of office) to a letter of the mailbox: Auto-Submitted, X-Auto-Response-Suppress,
    «Автоматична відповідь:» in the subject, no attachment."""
    body = "Я у відпустці до 20 січня. З термінових питань звертайтеся до заступника.".encode()
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {ew('Автоматична відповідь: ' + subject)}\r\n"
        f"Date: {_date(date)}\r\nMessage-ID: <{uuid.uuid4().hex}@exchange.oda.test>\r\n"
        f"Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(body)}\r\n'
    ).encode("ascii")


def zip_windows(entries: list[tuple[str, bytes]], date: dt.datetime | None = None) -> bytes:
    """A zip as Windows' «Send to → Compressed folder» writes it: names in the OEM code page (866 for a Ukrainian
    Windows, which has no «і»: Windows writes the Latin «i» for it), no UTF-8 flag."""
    buf = io.BytesIO()
    names = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, (name, data) in enumerate(entries):
            raw = oem_name(name).encode("cp866")
            placeholder = (f"@{n:03d}@" + "x" * len(raw))[: len(raw)].encode("ascii")
            names.append((placeholder, raw))
            stamp = (date or dt.datetime.now()).timetuple()[:6]
            info = zipfile.ZipInfo(placeholder.decode("ascii"), date_time=stamp)
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    out = buf.getvalue()
    for placeholder, raw in names:  # the names' bytes as that code page gives them (zipfile would write UTF-8)
        if out.count(placeholder) != 2:
            raise ValueError("a zip entry's name placeholder occurs elsewhere in the archive")
        out = out.replace(placeholder, raw)
    return out


_BEST_FIT = {ord("і"): "i", ord("І"): "I", ord("—"): "-", ord("–"): "-", ord("’"): "'", ord("«"): '"', ord("»"): '"'}


def oem_name(name: str) -> str:
    """A name as code page 866 can hold it (Windows' best fit: «і» → «i», dashes → «-»; anything else that
    code page lacks → «_»)."""
    out = []
    for ch in name.translate(_BEST_FIT):
        try:
            ch.encode("cp866")
        except UnicodeEncodeError:
            ch = "_"
        out.append(ch)
    return "".join(out)
