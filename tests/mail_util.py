"""The mailbox tests' server and messages: Dovecot, the SMTP sink and the client-built messages come from
consolidate.mailsandbox (the demo's mail round uses the same); here only what the tests add: a server with many
users behind one password, and Outlook's "rich text" winmail.dat (TNEF).
"""

from __future__ import annotations

import datetime
import functools
import struct
import uuid
from email.utils import format_datetime

from consolidate import mailsandbox
from consolidate.mailsandbox import XLSX, b64, ew, free_port, oem_name, rfc2231  # noqa: F401  (re-exported)

PASSWORD = "app-password-42"
USERS = 60                      # mailbox users a test server offers
TEST_DATE = datetime.datetime(2025, 1, 15, 10, 12, 33, tzinfo=datetime.timezone.utc)  # every test message's Date
DATE = format_datetime(TEST_DATE)

# the package's builders, each message dated TEST_DATE unless a test says otherwise
outlook = functools.partial(mailsandbox.outlook, date=TEST_DATE)
thunderbird = functools.partial(mailsandbox.thunderbird, date=TEST_DATE)
forwarded = functools.partial(mailsandbox.forwarded, date=TEST_DATE)
zip_windows = functools.partial(mailsandbox.zip_windows, date=TEST_DATE)


class Dovecot(mailsandbox.Dovecot):
    """The package's throw-away Dovecot with :data:`USERS` users, all with :data:`PASSWORD`."""

    @classmethod
    def temporary(cls, binary: str | None = None, **kwargs) -> "Dovecot":
        return super().temporary(binary, users=USERS, password=PASSWORD, **kwargs)


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


