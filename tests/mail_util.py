"""A real IMAP server for the mailbox tests (Dovecot on 127.0.0.1), and messages built as mail clients build them.

The server is Debian's dovecot-imapd with a throw-away configuration (see shared/notes/dovecot-test-server.md):
its own folders, users in a passwd-file, a self-signed certificate for 127.0.0.1; IMAPS on one port and
STARTTLS on another, plain-text login refused.  Messages are put into a mailbox through the server (APPEND).

The builders write the bytes by hand, the way each client writes them (so the parser meets their quirks, not
what Python's email package would write): Outlook (multipart/mixed around multipart/alternative, base64
bodies, attachment names as RFC 2047 encoded words in quotes, Thread-Index, X-MS-Has-Attach), Thunderbird
(format=flowed 8bit text, names per RFC 2231 split in ``filename*0*``/``filename*1*``), Outlook's forward as
attachment (message/rfc822) and Outlook's "rich text" winmail.dat (TNEF).
"""

from __future__ import annotations

import base64
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import struct
import subprocess
import time
import uuid
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

from consolidate.mailbox import imap_utf7

PASSWORD = "app-password-42"
USERS = 60                      # mailbox users a test server offers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """dovecot -c CONF, daemonised; stopped by killing its master (pid in base_dir/master.pid)."""

    def __init__(self, root: Path, binary: str):
        self.root = root
        self.binary = binary
        self.imaps_port = free_port()
        self.imap_port = free_port()
        self.users = root / "users"
        self.cert = root / "cert.pem"
        self.key = root / "key.pem"

    @classmethod
    def temporary(cls, binary: str) -> Dovecot:
        """In a folder of its own that dovecot's users can enter (pytest's temporary folders are private to root)."""
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="consolidate-dovecot-"))
        root.chmod(0o755)
        server = cls(root, binary)
        server.owned = True
        return server

    def start(self) -> Dovecot:
        r = self.root
        for d in ("run", "state", "mail"):
            (r / d).mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        # every user written before the start: dovecot notices a changed passwd-file by its time stamp, which a
        # user added within the same second as the last read does not change
        self.spare = [f"reports{n}-{uuid.uuid4().hex[:6]}@ministry.test" for n in range(1, USERS + 1)]
        self.users.write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}\n" for u in self.spare), encoding="utf-8")
        if os.geteuid() == 0:  # the login process must not run as root: dovecot's own users (the package's)
            owner = pwd.getpwnam("dovecot")
            shutil.chown(r / "mail", "dovecot", "dovecot")
            identity = f"first_valid_uid = {min(owner.pw_uid, 100)}\n"
            userdb = "uid=dovecot gid=dovecot"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            identity = (f"first_valid_uid = {os.geteuid()}\ndefault_internal_user = {me}\n"
                        f"default_login_user = {me}\n")
            userdb = f"uid={os.geteuid()} gid={os.getegid()}"
        (r / "dovecot.conf").write_text(f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
{identity}disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users}
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
""", encoding="utf-8")
        # the daemon's children keep the standard streams: a file, not a pipe to wait on
        with open(r / "start.log", "wb") as log:
            subprocess.run([self.binary, "-c", str(r / "dovecot.conf")], check=True, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log, timeout=60)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.imaps_port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dovecot did not start: " + (r / "dovecot.log").read_text(errors="replace"))
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                return
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        if getattr(self, "owned", False):
            shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self) -> str:
        """A fresh mailbox user (one of those written into the passwd-file before the start)."""
        return self.spare.pop(0)

    def client(self, user: str) -> imaplib.IMAP4_SSL:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=ctx, timeout=30)
        conn.login(user, PASSWORD)
        return conn

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.client(user)
        try:
            typ, data = conn.append(f'"{imap_utf7(folder)}"', None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def folder(self, user: str, folder: str) -> list[bytes]:
        """The messages of a folder (raw bytes), or [] when it does not exist."""
        conn = self.client(user)
        try:
            typ, _ = conn.select(f'"{imap_utf7(folder)}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", None, "ALL")
            out = []
            for uid in data[0].split():
                typ, got = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(next(x[1] for x in got if isinstance(x, tuple)))
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


# ---------------------------------------------------------------------------------
# messages as clients build them
# ---------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE = format_datetime(__import__("datetime").datetime(2025, 1, 15, 10, 12, 33,
                                                      tzinfo=__import__("datetime").timezone.utc))


def ew(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def outlook(sender: str, to: str, subject: str, attachments: list[tuple[str, bytes]], *, body: str = "Добрий день!\r\nНадсилаємо звіт.",
            sender_name: str = "Іваненко Олена", message_id: str | None = None, charset: str = "utf-8",
            extra_headers: str = "", ctype: str = XLSX) -> bytes:
    """As Outlook (Microsoft 365) sends it."""
    mid = message_id or f"<AM0PR04MB{uuid.uuid4().hex[:12].upper()}@AM0PR04MB1234.eurprd04.prod.outlook.com>"
    outer, inner = f"_004_{uuid.uuid4().hex}_", f"_000_{uuid.uuid4().hex}_"
    parts = [f"--{inner}\r\nContent-Type: text/plain; charset=\"{charset}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             f"{b64(body.encode(charset))}\r\n",
             f"--{inner}\r\nContent-Type: text/html; charset=\"{charset}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             f"{b64(('<html><body><p>' + body + '</p></body></html>').encode(charset))}\r\n",
             f"--{inner}--\r\n"]
    text = (f"From: {ew(sender_name, charset)} <{sender}>\r\nTo: \"{to}\" <{to}>\r\nSubject: {ew(subject, charset)}\r\n"
            f"Thread-Topic: {ew(subject, charset)}\r\nThread-Index: AQHbZ0Xr1c2o5Yk3TkKz9Q==\r\nDate: {DATE}\r\n"
            f"Message-ID: {mid}\r\nAccept-Language: uk-UA, en-US\r\nContent-Language: uk-UA\r\n"
            f"X-MS-Has-Attach: {'yes' if attachments else ''}\r\nX-MS-TNEF-Correlator:\r\n{extra_headers}"
            f"Content-Type: multipart/mixed;\r\n\tboundary=\"{outer}\"\r\nMIME-Version: 1.0\r\n\r\n"
            f"--{outer}\r\nContent-Type: multipart/alternative;\r\n\tboundary=\"{inner}\"\r\n\r\n" + "".join(parts) + "\r\n")
    for name, data in attachments:
        text += (f"--{outer}\r\nContent-Type: {ctype};\r\n\tname=\"{ew(name, charset)}\"\r\n"
                 f"Content-Description: {ew(name, charset)}\r\nContent-Disposition: attachment;\r\n"
                 f"\tfilename=\"{ew(name, charset)}\"; size={len(data)};\r\n"
                 f"\tcreation-date=\"{DATE}\";\r\n\tmodification-date=\"{DATE}\"\r\n"
                 f"Content-Transfer-Encoding: base64\r\n\r\n{b64(data)}\r\n\r\n")
    text += f"--{outer}--\r\n"
    return text.encode("ascii")


def rfc2231(name: str, chunk: int = 40) -> str:
    q = quote(name.encode("utf-8"), safe="")
    pieces = [q[i:i + chunk] for i in range(0, len(q), chunk)]
    # do not cut a %XX escape in two
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


def thunderbird(sender: str, to: str, subject: str, attachments: list[tuple[str, bytes]], *,
                body: str = "Добрий день!\nЗвіт у вкладенні.", message_id: str | None = None,
                extra_headers: str = "", references: str = "") -> bytes:
    """As Thunderbird 115 sends it."""
    mid = message_id or f"<{uuid.uuid4()}@{sender.partition('@')[2]}>"
    boundary = f"------------{uuid.uuid4().hex[:24]}"
    head = (f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\nMessage-ID: {mid}\r\nDate: {DATE}\r\n"
            f"MIME-Version: 1.0\r\nUser-Agent: Mozilla Thunderbird\r\nContent-Language: uk\r\nTo: {to}\r\n"
            f"From: {ew('Петренко Андрій')} <{sender}>\r\nSubject: {ew(subject)}\r\n{references}{extra_headers}\r\n"
            f"This is a multi-part message in MIME format.\r\n")
    text = head.encode("ascii") + (f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\n"
                                   f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\r\n").encode("utf-8")
    for name, data in attachments:
        text += (f"--{boundary}\r\nContent-Type: {XLSX};\r\n name=\"{ew(name)}\"\r\n"
                 f"Content-Disposition: attachment;\r\n{rfc2231(name)}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                 f"{b64(data)}\r\n\r\n").encode("ascii")
    return text + f"--{boundary}--\r\n".encode("ascii")


def forwarded(sender: str, to: str, subject: str, inner: bytes) -> bytes:
    """Outlook's «Forward as attachment»: the original message as a message/rfc822 part."""
    boundary = f"_005_{uuid.uuid4().hex}_"
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {ew(subject)}\r\nDate: {DATE}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@outlook.com>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{b64('Пересилаю звіт колег.'.encode())}\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment;\r\n"
            f"\tcreation-date=\"{DATE}\"\r\n\r\n").encode("ascii") + inner + f"\r\n--{boundary}--\r\n".encode("ascii")


# --- TNEF (MS-OXTNEF): what Outlook's «rich text» format puts in winmail.dat -----------------------------------

def _tnef_attr(level: int, attr_id: int, attr_type: int, data: bytes) -> bytes:
    value = (attr_type << 16) | attr_id
    return struct.pack("<BIi", level, value, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _mapi_unicode(prop_id: int, text: str) -> bytes:
    data = (text + "\x00").encode("utf-16-le")
    return struct.pack("<HHII", 0x001F, prop_id, 1, len(data)) + data + b"\x00" * (-len(data) % 4)


def winmail(attachments: list[tuple[str, bytes]], codepage: int = 1251) -> bytes:
    """A winmail.dat as Outlook writes it: attOemCodepage, then per attachment attAttachRendData (which starts
    it), attAttachTitle (a short name in the code page), attAttachData (its bytes) and attAttachment (MAPI
    properties: PR_ATTACH_LONG_FILENAME, the real name, in Unicode)."""
    out = struct.pack("<IH", 0x223E9F78, 0x1234)
    out += _tnef_attr(1, 0x9006, 0x0006, struct.pack("<I", 0x00010000))          # attTnefVersion
    out += _tnef_attr(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))        # attOemCodepage
    out += _tnef_attr(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")         # attMessageClass
    for n, (name, data) in enumerate(attachments):
        short = f"ZVIT~{n + 1}.{name.rsplit('.', 1)[-1][:3].upper()}"
        out += _tnef_attr(2, 0x9002, 0x0006, struct.pack("<HIIIHH", 1, 0xFFFFFFFF, 0, 0, 0, 1))  # attAttachRendData
        out += _tnef_attr(2, 0x8010, 0x0001, short.encode("ascii") + b"\x00")                   # attAttachTitle
        out += _tnef_attr(2, 0x800F, 0x0006, data)                                             # attAttachData
        props = struct.pack("<I", 1) + _mapi_unicode(0x3707, name)                             # PR_ATTACH_LONG_FILENAME
        out += _tnef_attr(2, 0x9005, 0x0006, props)                                            # attAttachment
    return out


def outlook_rtf(sender: str, to: str, subject: str, tnef: bytes) -> bytes:
    """Outlook in «rich text» mode: the attachments inside winmail.dat (application/ms-tnef)."""
    boundary = f"_002_{uuid.uuid4().hex}_"
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {ew(subject)}\r\nDate: {DATE}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@exchange.mvs.test>\r\nMIME-Version: 1.0\r\n"
            f"X-MS-Has-Attach: yes\r\nX-MS-TNEF-Correlator: <{uuid.uuid4().hex}@exchange.mvs.test>\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{b64('Звіт у вкладенні.'.encode())}\r\n"
            f"--{boundary}\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
            f"Content-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{b64(tnef)}\r\n--{boundary}--\r\n").encode("ascii")


def zip_windows(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip as Windows' «Send to → Compressed folder» writes it: names in the OEM code page (866 for a Ukrainian
    Windows, which has no «і»: Windows writes the Latin «i» for it), no UTF-8 flag."""
    import io
    import zipfile

    buf = io.BytesIO()
    names = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, (name, data) in enumerate(entries):
            raw = oem_name(name).encode("cp866")
            placeholder = (f"@{n:03d}@" + "x" * len(raw))[:len(raw)].encode("ascii")
            names.append((placeholder, raw))
            zf.writestr(zipfile.ZipInfo(placeholder.decode("ascii"), date_time=(2025, 1, 15, 10, 0, 0)), data,
                        compress_type=zipfile.ZIP_DEFLATED)
    out = buf.getvalue()
    for placeholder, raw in names:  # the names' bytes as that code page gives them (zipfile would write UTF-8)
        assert out.count(placeholder) == 2
        out = out.replace(placeholder, raw)
    return out


def oem_name(name: str) -> str:
    """A name as code page 866 can hold it (Windows' best fit: «і» → «i»)."""
    return name.translate({ord("і"): "i", ord("І"): "I"})
