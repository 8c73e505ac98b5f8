"""Hostile and broken files for the reliability tests, built from real returns (see intake_util)."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib

GiB = 1024 ** 3

# A spreadsheet row repeated to inflate a part; any XML would do, a sheet row is what a bomb carries.
_BOMB_ROW = b'<row><c t="inlineStr"><is><t>' + b"A" * 200 + b"</t></is></c></row>"


def _bomb_stream(head: bytes, tail: bytes, size: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``head`` + rows + ``tail`` inflating to about ``size`` bytes: (stream, size, crc).

    One compressed segment of rows, made after a full flush (the compressor's state is reset, the
    output byte-aligned), is repeated: building gigabytes takes milliseconds.
    """
    block = _BOMB_ROW * (1024 * 1024 // len(_BOMB_ROW))
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    segment = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    repeats = max(1, (size - len(head) - len(tail)) // len(block))
    last = comp.compress(tail) + comp.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    total = len(head) + repeats * len(block) + len(tail)
    return first + segment * repeats + last, total, crc


def _zip_bytes(entries: list[tuple[str, bytes, int, int, int, int]]) -> bytes:
    """A zip from (name, stored bytes, method, crc, declared uncompressed size, declared compressed size)."""
    out = io.BytesIO()
    central = []
    for name, body, method, crc, usize, csize in entries:
        raw = name.encode("utf-8")
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, method, 0, 0x21, crc, csize, usize, len(raw), 0))
        out.write(raw)
        out.write(body)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, method, 0, 0x21, crc, csize,
                                   usize, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def bomb(data: bytes, part: str, size: int = 2 * GiB, declared: int | None = None) -> bytes:
    """The workbook ``data`` with ``part`` replaced by an XML part that inflates to ``size`` bytes.

    ``declared``: the uncompressed size the zip claims for it (default: the true size; smaller = a lying bomb).
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    original = src.read(part)
    body = original.split(b"?>", 1)[1] if original.startswith(b"<?xml") else original
    root = re.search(rb"<([\w.:-]+)[^>]*>", body)
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n' + root.group(0)
    tail = b"</" + root.group(1) + b">"
    entries = []
    for info in src.infolist():
        if info.filename == part:
            stream, total, crc = _bomb_stream(head, tail, size)
            entries.append((part, stream, 8, crc, total if declared is None else declared, len(stream)))
            continue
        body = src.read(info.filename)
        if info.compress_type == zipfile.ZIP_STORED:  # ODF's "mimetype" stays first and stored
            entries.append((info.filename, body, 0, zlib.crc32(body), len(body), len(body)))
            continue
        comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        stream = comp.compress(body) + comp.flush()
        entries.append((info.filename, stream, 8, zlib.crc32(body), len(body), len(stream)))
    return _zip_bytes(entries)


def lying_sizes(data: bytes, part: str, claimed: int) -> bytes:
    """``data`` whose central directory claims ``claimed`` uncompressed bytes for ``part``."""
    buf = bytearray(data)
    at = zipfile.ZipFile(io.BytesIO(data)).start_dir
    while True:
        length = int.from_bytes(buf[at + 28:at + 30], "little")
        if bytes(buf[at + 46:at + 46 + length]) == part.encode():
            buf[at + 24:at + 28] = claimed.to_bytes(4, "little")
            return bytes(buf)
        at = buf.index(b"PK\x01\x02", at + 4)


def random_text(n_bytes: int, seed: int = 1) -> str:
    """Ukrainian-looking text that does not compress much better than real prose (about n_bytes of UTF-8)."""
    rng = random.Random(seed)
    words = ["рік", "захід", "виконано", "громада", "навчання", "фахівців", "Київ", "допомога", "особи", "звіт",
             "постраждалих", "консультацій", "область", "проведено", "семінар"]
    out, size = [], 0
    while size < n_bytes:
        w = f"{rng.choice(words)}{rng.randint(0, 99999)}"
        out.append(w)
        size += len(w.encode("utf-8")) + 1
    return " ".join(out)


def replace_cell(xml: bytes, ref: str, cell_xml: bytes) -> bytes:
    """A sheet's XML with the ``<c r="ref">`` element replaced (it must exist)."""
    start = xml.index(f'<c r="{ref}"'.encode())
    gt = xml.index(b">", start)
    end = gt + 1 if xml[gt - 1:gt] == b"/" else xml.index(b"</c>", gt) + 4
    return xml[:start] + cell_xml + xml[end:]


def with_doctype(xml: bytes, root: str, declarations: bytes) -> bytes:
    """``xml`` (a whole part) with a DOCTYPE carrying ``declarations`` before its root element."""
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ' + root.encode() + b" [" + declarations + b"]>" + body


def billion_laughs(levels: int = 10) -> bytes:
    """Entity declarations of the billion-laughs attack; the top entity is ``lol{levels - 1}``."""
    decl = [b'<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        decl.append(b"<!ENTITY lol%d \"%s\">" % (i, b"".join(b"&lol%d;" % (i - 1) for _ in range(10))))
    return b"".join(decl)
