"""What a message from the reporting mailbox carries: its headers and every spreadsheet attached to it.

Mail comes from outside, so everything here is bounded and nothing trusts a name:

* the parser is the stdlib ``email`` package (``policy.default``): RFC 2231 (``filename*=UTF-8''…``, also
  split into ``filename*0*``, ``filename*1*``) and RFC 2047 encoded words in a quoted name (what Outlook
  writes, in UTF-8 or windows-1251) are decoded; a message it cannot parse at all is "malformed", never a crash;
* spreadsheets are found by their content first (an .xlsx named «звіт.pdf» is still a spreadsheet), then by
  their name or media type (a broken «звіт.xlsx» is handed to the intake, which quarantines it with reasons);
* a zip attachment is opened (entry count, each entry's and the total uncompressed size capped; names
  without the UTF-8 flag decoded as Windows' cp866 where cp437 gives no Cyrillic), a forwarded message
  (message/rfc822, or an attached .eml) is walked like the message itself, a winmail.dat (Outlook's TNEF) is
  unpacked with tnefparse;
* caps on the size of one attachment and on the number of spreadsheets per message, each refusal with a reason
  code (:data:`REASONS` gives its Ukrainian text for the receipt).

Names are data only (shown and recorded); files are staged under names made of a sequence number and the
format detected from the bytes.
"""

from __future__ import annotations

import email
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
SPREADSHEET_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.oasis.opendocument.spreadsheet",
)
ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip")
TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
MAX_DEPTH = 4  # forwarded messages and archives inside one another
MAX_ZIP_ENTRIES = 200

# why an attachment was not handed to the intake (codes in the ledger; text for the receipt)
TOO_LARGE = "too-large"
TOO_MANY = "too-many"
NOT_SPREADSHEET = "not-spreadsheet"
ZIP_UNREADABLE = "zip-unreadable"
ZIP_ENCRYPTED = "zip-encrypted"
ZIP_TOO_LARGE = "zip-too-large"
TNEF_UNREADABLE = "tnef-unreadable"
TOO_DEEP = "too-deep"
REASONS = {
    TOO_LARGE: "завеликий файл (понад {max_mb} МБ)",
    TOO_MANY: "забагато файлів в одному листі (обробляємо не більше {max_count}); надішліть решту окремим листом",
    NOT_SPREADSHEET: "це не електронна таблиця (очікуються файли .xlsx, .xlsm, .xls або .ods)",
    ZIP_UNREADABLE: "архів пошкоджено, його не вдалося розпакувати",
    ZIP_ENCRYPTED: "архів захищено паролем; надішліть файл без пароля",
    ZIP_TOO_LARGE: "архів після розпакування завеликий або містить забагато файлів",
    TNEF_UNREADABLE: "вкладення winmail.dat пошкоджено; надішліть файл звичайним вкладенням",
    TOO_DEEP: "файл вкладено надто глибоко (архів в архіві або пересланий лист у пересланому листі)",
}


@dataclass(frozen=True)
class Limits:
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_attachments: int = 20

    def reason_text(self, code: str) -> str:
        return REASONS.get(code, code).format(
            max_mb=self.max_attachment_bytes // (1024 * 1024), max_count=self.max_attachments
        )


@dataclass
class Part:
    """One attachment (or an entry of an attached archive): taken for the intake, or refused with a reason."""

    name: str
    container: str = ""  # «архів «звіти.zip»», «пересланий лист «…»», «winmail.dat», or ""
    data: bytes | None = None  # the bytes when taken
    size: int = 0
    reason: str = ""  # "" when taken

    @property
    def taken(self) -> bool:
        return self.data is not None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else ""


@dataclass
class Parsed:
    """The headers a receipt and the ledger need, and the spreadsheets found."""

    message_id: str = ""
    sender: str = ""  # the From address (lower case)
    sender_name: str = ""
    reply_to: str = ""  # where a receipt goes (Reply-To, else From)
    sent_at: str = ""  # the Date header as ISO time, "" when absent or unreadable
    subject: str = ""
    references: list[str] = field(default_factory=list)
    auto: str = ""  # why no receipt may be sent (auto-reply, mailer daemon, list), or ""
    parts: list[Part] = field(default_factory=list)
    malformed: str = ""  # why the message could not be parsed, or ""

    @property
    def taken(self) -> list[Part]:
        return [p for p in self.parts if p.taken]


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def clean_text(text: str, limit: int = 300) -> str:
    """Sender-supplied text as data: control characters (header injection, terminal codes) as U+FFFD, length capped."""
    text = _CONTROL.sub("\ufffd", str(text or "")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:  # a header the parser cannot make sense of
        try:
            raw = msg.get_all(name, failobj=[])
            return str(raw[0]) if raw else ""
        except Exception:
            return ""


def _address(msg: Message, name: str) -> tuple[str, str]:
    value = _header(msg, name)
    if not value:
        return "", ""
    try:
        pairs = getaddresses([value])
    except Exception:
        return "", ""
    for display, addr in pairs:
        if "@" in addr:
            return clean_text(display, 200), clean_text(addr, 254).lower()
    return "", ""


def message_ids(text: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", text or "")


def auto_reason(msg: Message, sender: str, own_addresses: tuple[str, ...] = ()) -> str:
    """Why this message must get no receipt (RFC 3834 and what mail servers actually send), or ""."""
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        if _header(msg, name):
            return "auto-reply"
    suppress = _header(msg, "X-Auto-Response-Suppress").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return "auto-reply"
    if _header(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "bulk"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing-list"
    if msg.get_content_type() == "multipart/report" or _header(msg, "Return-Path").strip() == "<>":
        return "mailer-daemon"
    local = sender.partition("@")[0]
    if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply") or not sender:
        return "mailer-daemon"
    if sender and sender in own_addresses:
        return "own-address"
    return ""


def parse(raw: bytes, limits: Limits = Limits(), own_addresses: tuple[str, ...] = ()) -> Parsed:
    """Headers and spreadsheets of one message; a message that cannot be parsed is ``malformed`` (no exception)."""
    out = Parsed()
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
    except RecursionError:  # before Exception, of which it is a subclass
        out.malformed = "надто глибоко вкладені частини"
        return out
    except Exception as exc:
        out.malformed = f"{type(exc).__name__}: {str(exc)[:200]}"
        return out
    try:
        ids = message_ids(_header(msg, "Message-ID"))
        out.message_id = clean_text(ids[0], 250) if ids else ""
        out.sender_name, out.sender = _address(msg, "From")
        out.reply_to = _address(msg, "Reply-To")[1] or out.sender
        out.subject = clean_text(_header(msg, "Subject"), 300)
        out.references = [clean_text(x, 250) for x in message_ids(_header(msg, "References"))][-20:]
        date = _header(msg, "Date")
        if date:
            try:
                out.sent_at = parsedate_to_datetime(date).isoformat(timespec="seconds")
            except (TypeError, ValueError, IndexError, OverflowError):
                out.sent_at = ""
        out.auto = auto_reason(msg, out.sender, tuple(a.lower() for a in own_addresses))
        _Walker(limits, out.parts).message(msg, "", 0)
    except RecursionError:
        out.malformed = "надто глибоко вкладені частини"
    except Exception as exc:  # anything unforeseen in a hostile message: reported, never raised
        out.malformed = f"{type(exc).__name__}: {str(exc)[:200]}"
    taken = 0
    for part in out.parts:  # the cap on the number of spreadsheets, in the order they appear
        if part.taken:
            taken += 1
            if taken > limits.max_attachments:
                part.data, part.reason = None, TOO_MANY
    return out


def spreadsheet_kind(data: bytes) -> str:
    """ "xlsx", "xlsm", "xls", "ods" from the bytes, "zip" for another zip, "" otherwise."""
    from .inbox import archive_suffix

    kind = archive_suffix(data)
    return kind if kind in ("xlsx", "xlsm", "xls", "ods", "zip") else ""


def _is_spreadsheet_name(name: str) -> bool:
    return name.lower().endswith(SPREADSHEET_SUFFIXES)


class _Walker:
    def __init__(self, limits: Limits, parts: list[Part]):
        self.limits = limits
        self.parts = parts

    def message(self, msg: Message, container: str, depth: int) -> None:
        """Every leaf part of ``msg``; a forwarded message (message/rfc822) is walked as its own container."""
        if depth > MAX_DEPTH:
            self.parts.append(Part(_subject_of(msg) or "пересланий лист", container, None, 0, TOO_DEEP))
            return
        stack = [msg]
        while stack:
            part = stack.pop()
            payload: Any = part.get_payload()  # a list of parts or messages, or a str
            if part.get_content_type() == "message/rfc822" or (isinstance(payload, list) and not part.is_multipart()):
                for inner in payload if isinstance(payload, list) else []:
                    self.message(
                        inner, _inside(container, f"пересланий лист «{_subject_of(inner) or 'без теми'}»"), depth + 1
                    )
                continue
            if part.is_multipart():
                stack.extend(reversed(payload if isinstance(payload, list) else []))
                continue
            ctype = part.get_content_type()
            try:
                name = part.get_filename() or ""
            except Exception:
                name = ""
            name = clean_text(name, 255)
            disposition = part.get_content_disposition()
            if (
                not name
                and ctype in ("text/plain", "text/html", "text/enriched", "text/rtf")
                and disposition != "attachment"
            ):
                continue  # the text of the letter
            data = _payload(part)
            if data is None:
                continue
            self.attachment(name or _unnamed(ctype), data, ctype, disposition, container, depth)

    def attachment(
        self, name: str, data: bytes, ctype: str, disposition: str | None, container: str, depth: int
    ) -> None:
        limits = self.limits
        if len(data) > limits.max_attachment_bytes:
            if (
                _is_spreadsheet_name(name)
                or ctype in SPREADSHEET_TYPES
                or ctype in ZIP_TYPES
                or name.lower().endswith(".zip")
                or disposition == "attachment"
            ):
                self.parts.append(Part(name, container, None, len(data), TOO_LARGE))
            return
        kind = spreadsheet_kind(data)
        lower = name.lower()
        named = _is_spreadsheet_name(name) or ctype in SPREADSHEET_TYPES
        if kind in ("xlsx", "xlsm", "xls", "ods") or (named and not lower.endswith(".zip")):
            # a broken «звіт.xlsx» too: the intake says what is wrong with it, and keeps it in quarantine
            self.parts.append(Part(name, container, data, len(data)))
        elif (
            lower.endswith(".zip")
            or ctype in ZIP_TYPES
            or (kind == "zip" and not lower.endswith((".docx", ".docm", ".pptx", ".odt", ".odp", ".jar", ".apk")))
        ):
            self.archive(name, data, container, depth)
        elif lower == "winmail.dat" or ctype in TNEF_TYPES or data[:4] == b"\x78\x9f\x3e\x22":
            self.tnef(name, data, container, depth)
        elif lower.endswith(".eml") or ctype == "message/rfc822":
            self.forwarded(name, data, container, depth)
        elif disposition == "attachment" and not ctype.startswith("image/"):
            self.parts.append(Part(name, container, None, len(data), NOT_SPREADSHEET))

    def archive(self, name: str, data: bytes, container: str, depth: int) -> None:
        where = _inside(container, f"архів «{name}»")
        if depth >= MAX_DEPTH:
            self.parts.append(Part(name, container, None, len(data), TOO_DEEP))
            return
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                entries = [i for i in zf.infolist() if not i.is_dir()]
                budget = self.limits.max_attachment_bytes * max(1, self.limits.max_attachments)
                if len(entries) > MAX_ZIP_ENTRIES or sum(i.file_size for i in entries) > budget:
                    self.parts.append(Part(name, container, None, len(data), ZIP_TOO_LARGE))
                    return
                for info in entries:
                    entry = clean_text(_zip_name(info), 255)
                    base = entry.replace("\\", "/").rsplit("/", 1)[-1]
                    if base.startswith(("~$", ".")) or entry.startswith("__MACOSX/"):
                        continue
                    if info.flag_bits & 0x1:
                        self.parts.append(Part(entry, where, None, info.file_size, ZIP_ENCRYPTED))
                        continue
                    if info.file_size > self.limits.max_attachment_bytes:
                        self.parts.append(Part(entry, where, None, info.file_size, TOO_LARGE))
                        continue
                    with zf.open(info) as fh:  # never more than the cap, whatever the header claims
                        content = fh.read(self.limits.max_attachment_bytes + 1)
                    if len(content) > self.limits.max_attachment_bytes:
                        self.parts.append(Part(entry, where, None, len(content), TOO_LARGE))
                        continue
                    self.attachment(base or entry, content, "application/octet-stream", "attachment", where, depth + 1)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            OSError,
            EOFError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ) as exc:
            code = ZIP_ENCRYPTED if "encrypt" in str(exc).lower() or "password" in str(exc).lower() else ZIP_UNREADABLE
            self.parts.append(Part(name, container, None, len(data), code))

    def tnef(self, name: str, data: bytes, container: str, depth: int) -> None:
        where = _inside(container, f"вкладення Outlook «{name}»")
        try:
            from tnefparse import TNEF

            parsed = TNEF(data, do_checksum=False)
            found: list = []
            for att in parsed.attachments:
                try:  # PR_ATTACH_LONG_FILENAME, else the short title
                    att_name = att.long_filename() or ""
                except (UnicodeDecodeError, AttributeError, ValueError):
                    att_name = ""  # a title in a code page the library does not decode: named by position
                if isinstance(att_name, bytes):
                    att_name = att_name.decode(getattr(parsed, "codepage", None) or "cp1251", "replace")
                found.append(
                    (
                        clean_text(str(att_name).rstrip("\x00"), 255) or f"вкладення {len(found) + 1}",
                        bytes(att.data or b""),
                    )
                )
        except Exception:
            self.parts.append(Part(name, container, None, len(data), TNEF_UNREADABLE))
            return
        for att_name, content in found:
            self.attachment(
                att_name or "вкладення", content, "application/octet-stream", "attachment", where, depth + 1
            )

    def forwarded(self, name: str, data: bytes, container: str, depth: int) -> None:
        """An attached .eml (or a message/rfc822 part sent as a file)."""
        inner = email.message_from_bytes(data, policy=policy.default)
        self.message(inner, _inside(container, f"пересланий лист «{_subject_of(inner) or name}»"), depth + 1)


def _subject_of(msg: Message) -> str:
    return clean_text(_header(msg, "Subject"), 120)


def _inside(container: str, what: str) -> str:
    return f"{container} → {what}" if container else what


def _unnamed(ctype: str) -> str:
    return f"вкладення без назви ({ctype})"


def _payload(part: Message) -> bytes | None:
    try:
        data: Any = part.get_payload(decode=True)  # bytes for a leaf part
    except Exception:
        return None
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else None
    return data


def _zip_name(info: zipfile.ZipInfo) -> str:
    """An entry's name: UTF-8 when flagged, else what Windows' «Send to compressed folder» wrote (the OEM code
    page: cp866 for Ukrainian Windows), which zipfile decodes as cp437."""
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    if raw.isascii():
        return name
    try:
        return raw.decode("utf-8")  # some tools write UTF-8 without the flag
    except UnicodeDecodeError:
        return raw.decode("cp866", "replace")
