"""What a message carries, without a server: auto-reply detection, bounded archives, nesting, folder names."""

from __future__ import annotations

import io
import zipfile

from consolidate import mailparts
from consolidate.mailbox import imap_utf7

from .mail_util import forwarded, outlook, thunderbird, zip_windows

XLSX_BYTES = b"PK\x03\x04" + b"\0" * 26 + b"xl/workbook.xml"


def _decode_utf7(text: str) -> str:
    """RFC 3501 5.1.3, decoded independently: «&…-» is base64 (with «,» for «/») of UTF-16BE; «&-» is «&»."""
    import base64
    import re

    def word(m):
        body = m.group(1)
        if not body:
            return "&"
        body = body.replace(",", "/")
        return base64.b64decode(body + "=" * (-len(body) % 4)).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", word, text)


def test_folder_names_in_modified_utf7():
    assert imap_utf7("Оброблено") == "&BB4EMQRABD4EMQQ7BDUEPQQ+-"      # as Dovecot lists the folder it created
    for name in ("Не прийнято", "INBOX/Звіти & довідки", "Вхідні/2025 (архів)"):
        encoded = imap_utf7(name)
        assert encoded.isascii() and _decode_utf7(encoded) == name
    assert imap_utf7("A&B") == "A&-B"


def test_no_receipt_to_automatic_mail_or_to_the_mailbox_itself():
    def auto(headers: str, sender: str = "mvs@example.org", own=()) -> str:
        raw = thunderbird(sender, "zvit@msp.test", "x", [], extra_headers=headers)
        return mailparts.parse(raw, own_addresses=own).auto

    assert auto("") == ""
    assert auto("Auto-Submitted: no\r\n") == ""
    assert auto("Auto-Submitted: auto-replied\r\n") == "auto-submitted"
    assert auto("X-Autoreply: yes\r\n") == "auto-reply"
    assert auto("X-Auto-Response-Suppress: DR, OOF, AutoReply\r\n") == "auto-reply"
    assert auto("Precedence: bulk\r\n") == "bulk"
    assert auto("List-Unsubscribe: <mailto:x@y>\r\n") == "mailing-list"
    assert auto("Return-Path: <>\r\n") == "mailer-daemon"
    assert auto("", sender="noreply@example.org") == "mailer-daemon"
    assert auto("", sender="Zvit@MSP.test", own=("zvit@msp.test",)) == "own-address"


def test_a_zip_bomb_is_refused_before_unpacking():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("звіт.xlsx", b"\0" * (30 * 1024 * 1024))      # 30 MB of zeros: ~30 KB compressed
    limits = mailparts.Limits(max_attachment_bytes=1024 * 1024, max_attachments=2)
    parsed = mailparts.parse(outlook("a@b.test", "c@d.test", "z", [("z.zip", buf.getvalue())]), limits)
    (part,) = parsed.parts
    assert part.reason == mailparts.ZIP_TOO_LARGE and not part.taken
    assert "завеликий" in limits.reason_text(part.reason)


def test_an_encrypted_zip_entry_is_named_with_its_reason():
    data = bytearray(zip_windows([("Звіт.xlsx", XLSX_BYTES)]))
    # set the "encrypted" bit in the local header and the central directory entry
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 1
    data[central + 8] |= 1
    parsed = mailparts.parse(outlook("a@b.test", "c@d.test", "z", [("z.zip", bytes(data))]))
    (part,) = parsed.parts
    assert part.reason == mailparts.ZIP_ENCRYPTED and part.container == "архів «z.zip»"


def test_forwarded_messages_nest_only_so_deep():
    raw = thunderbird("a@b.test", "c@d.test", "внизу", [("Звіт.xlsx", XLSX_BYTES)])
    for n in range(mailparts.MAX_DEPTH + 2):
        raw = forwarded("a@b.test", "c@d.test", f"FW {n}", raw)
    parsed = mailparts.parse(raw)
    assert not parsed.malformed
    assert [p.reason for p in parsed.parts] == [mailparts.TOO_DEEP]


def test_bytes_that_are_no_message_at_all():
    parsed = mailparts.parse(b"\x00\xff" * 1000)
    assert parsed.parts == [] and parsed.message_id == "" and not parsed.taken


def test_imap_responses_are_cut_whole_with_their_literals():
    """What --watch reads while waiting in IDLE: whole responses, a literal ``{n}`` (its CRLFs too) inside one."""
    from consolidate.mailbox import _response_end

    assert _response_end(b"") is None and _response_end(b"* 3 EXI") is None
    assert _response_end(b"+ idling\r\n* 4 EXISTS\r\n") == 10
    literal = b'* 1 FETCH (BODY[HEADER] {12}\r\nSubject: a\r\n)\r\n'
    assert _response_end(literal) == len(literal)
    assert _response_end(literal[:-3]) is None and _response_end(literal[:30]) is None
