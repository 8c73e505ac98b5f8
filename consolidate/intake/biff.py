""".xls before calamine sees it: the OLE2 compound file, then the BIFF8 records of its workbook stream.

calamine trusts what an .xls says about itself: a sheet that claims (DIMENSIONS) or uses (one cell far
away) 65,536 × 256 cells makes it allocate the whole rectangle, a cut file can make it panic, and an
encrypted file is reported as "cannot detect file format".  :func:`scan` reads the container with
bounded loops (every chain at most as long as the file has sectors), finds the workbook stream by
name in any letter case (exports of reporting tools write ``WORKBOOK`` or ``BOOK``), and walks the
records: FILEPASS (encrypted), BOUNDSHEET (sheets), SST (shared strings: how long each is) and, per
sheet, DIMENSIONS and every cell record's row and column.  Nothing is decoded beyond lengths.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FREE, END_OF_CHAIN, FAT_SECTOR, DIFAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
WORKBOOK_NAMES = ("workbook", "book")  # BIFF8 and BIFF5 stream names, compared case-insensitively
ENCRYPTED_NAMES = ("encryptioninfo", "encryptedpackage")  # an encrypted OOXML file inside OLE2

# BIFF record types
BOF, EOF, FILEPASS, BOUNDSHEET, SST, CONTINUE, DIMENSIONS = 0x0809, 0x000A, 0x002F, 0x0085, 0x00FC, 0x003C, 0x0200
LABELSST, MULRK, MULBLANK = 0x00FD, 0x00BD, 0x00BE
# records that start with (row u16, column u16) of one cell
CELL_RECORDS = frozenset({0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6, LABELSST, 0x0406, 0x0001})


class Damaged(Exception):
    """The container is not what it says: ``truncated`` (cut short) or ``damaged`` (inconsistent)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


@dataclass
class Entry:
    """One directory entry of the compound file."""

    index: int
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    start: int
    size: int
    offset: int  # where the entry is in the file (its name is the first 64 bytes)


@dataclass
class Sheet:
    """A sheet as the workbook stream describes it."""

    name: str
    kind: int  # BOUNDSHEET dt: 0 worksheet, 1 macro sheet, 2 chart, 6 VB module
    claimed: tuple[int, int] = (0, 0)  # rows × columns from DIMENSIONS
    used: tuple[int, int] = (0, 0)  # rows × columns of the rectangle the cell records span
    string_chars: int = 0  # characters of the shared strings its LABELSST cells show


@dataclass
class Workbook:
    """What :func:`scan` learnt about an .xls."""

    stream: Entry
    encrypted: bool = False
    sheets: list[Sheet] = field(default_factory=list)
    sst_lengths: list[int] = field(default_factory=list)


class Ole:
    """A compound file: header, FAT, directory; streams read by following bounded chains."""

    def __init__(self, data: bytes):
        if len(data) < 512 or not data.startswith(OLE_MAGIC):
            raise Damaged("truncated", "shorter than the header")
        self.data = data
        major, order, shift, mini_shift = struct.unpack_from("<HHHH", data, 0x1A)
        if order != 0xFFFE or shift not in (9, 12) or mini_shift != 6:
            raise Damaged("damaged", f"header: byte order {order:#x}, sector shift {shift}")
        self.sector = 1 << shift
        self.sectors = max(0, (len(data) - 512 + self.sector - 1) // self.sector)
        n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
        self.cutoff, first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from("<IIIII", data, 0x38)
        fat_sectors = [s for s in struct.unpack_from("<109I", data, 0x4C) if s < FAT_SECTOR]
        seen = 0
        s = first_difat
        while s < DIFAT_SECTOR and len(fat_sectors) < n_fat:
            seen += 1
            if seen > self.sectors:
                raise Damaged("damaged", "DIFAT chain loops")
            block = self._sector(s)
            per = self.sector // 4 - 1
            fat_sectors.extend(x for x in struct.unpack_from(f"<{per}I", block) if x < FAT_SECTOR)
            s = struct.unpack_from("<I", block, self.sector - 4)[0]
        if len(fat_sectors) > self.sectors:
            raise Damaged("damaged", "more FAT sectors than the file has")
        self.fat = bytearray()
        for s in fat_sectors[: max(n_fat, 1)]:
            self.fat += self._sector(s)
        self.fat_entries = len(self.fat) // 4
        self.entries = self._directory(first_dir)
        root = self.entries[0] if self.entries else None
        if root is None or root.kind != 5:
            raise Damaged("damaged", "no root entry")
        self._mini_stream: bytes | None = None
        self._minifat = self._chain_bytes(first_minifat, None) if n_minifat and first_minifat < FAT_SECTOR else b""
        self.root = root

    def _sector(self, s: int) -> bytes:
        start = 512 + s * self.sector
        if s >= FAT_SECTOR or start + self.sector > len(self.data):
            if s < FAT_SECTOR and start < len(self.data) + self.sector:
                raise Damaged("truncated", f"sector {s} beyond the end of the file")
            raise Damaged("truncated" if s < FAT_SECTOR else "damaged", f"sector {s} beyond the end of the file")
        return self.data[start : start + self.sector]

    def _next(self, s: int) -> int:
        if s >= self.fat_entries:
            raise Damaged("damaged", f"sector {s} not in the FAT")
        return struct.unpack_from("<I", self.fat, 4 * s)[0]

    def chain(self, start: int) -> list[int]:
        """Sector numbers of a chain (at most as many as the file has)."""
        out: list[int] = []
        s = start
        while s != END_OF_CHAIN:
            if s >= FAT_SECTOR or len(out) > self.sectors:
                raise Damaged(
                    "damaged" if s >= FAT_SECTOR or len(out) > self.sectors else "truncated",
                    f"chain from sector {start} broken at {s:#x}",
                )
            out.append(s)
            s = self._next(s)
        return out

    def _chain_bytes(self, start: int, size: int | None) -> bytes:
        out = b"".join(self._sector(s) for s in self.chain(start))
        return out if size is None else out[:size]

    def _directory(self, first: int) -> list[Entry]:
        raw = self._chain_bytes(first, None)
        offsets = [512 + s * self.sector + i for s in self.chain(first) for i in range(0, self.sector, 128)]
        entries = []
        for i in range(len(raw) // 128):
            rec = raw[128 * i : 128 * i + 128]
            length, kind = struct.unpack_from("<HB", rec, 64)
            if kind not in (1, 2, 5):
                continue
            name = rec[: max(0, min(length, 64) - 2)].decode("utf-16-le", "replace")
            start, size = struct.unpack_from("<IQ", rec, 116)
            if self.sector == 512:
                size &= 0xFFFFFFFF
            entries.append(Entry(i, name, kind, start, size, offsets[i]))
        return entries

    def find(self, names: tuple[str, ...]) -> Entry | None:
        """The first stream whose name, in any letter case, is one of ``names`` (in their order)."""
        streams = {e.name.casefold(): e for e in reversed(self.entries) if e.kind == 2}
        return next((streams[n] for n in names if n in streams), None)

    def read(self, entry: Entry, limit: int) -> bytes:
        """A stream's bytes (at most ``limit``; a stream longer than its chain is damaged)."""
        if entry.size > limit:
            raise Damaged("too-large", f"stream {entry.name!r} of {entry.size} bytes")
        if entry.size < self.cutoff:
            if self._mini_stream is None:
                self._mini_stream = self._chain_bytes(self.root.start, self.root.size)
            out: bytes | bytearray = bytearray()
            s, seen = entry.start, 0
            while s != END_OF_CHAIN and len(out) < entry.size:
                seen += 1
                if s >= FAT_SECTOR or 4 * s + 4 > len(self._minifat) or seen > len(self._minifat) // 4:
                    raise Damaged("damaged", f"mini chain of {entry.name!r} broken")
                out += self._mini_stream[64 * s : 64 * s + 64]
                s = struct.unpack_from("<I", self._minifat, 4 * s)[0]
        else:
            out = self._chain_bytes(entry.start, None)
        if len(out) < entry.size:
            raise Damaged("truncated", f"stream {entry.name!r}: {len(out)} of {entry.size} bytes")
        return bytes(out[: entry.size])

    def stream_offsets(self, entry: Entry) -> list[int]:
        """File offsets of a (large) stream's sectors, in order (tests patch records through them)."""
        return [512 + s * self.sector for s in self.chain(entry.start)]


def records(stream: bytes):
    """(offset, type, body) of each BIFF record; a record cut short ends the walk as damaged."""
    pos, n = 0, len(stream)
    while pos + 4 <= n:
        kind, length = struct.unpack_from("<HH", stream, pos)
        if pos + 4 + length > n:
            raise Damaged("truncated", f"record {kind:#06x} at {pos} cut short")
        yield pos, kind, stream[pos + 4 : pos + 4 + length]
        pos += 4 + length


def _sst_lengths(body: bytes, continues: list[bytes]) -> list[int]:
    """The length in characters of every shared string (rich-text runs and phonetic data skipped)."""
    chunks = [body[8:], *continues]
    total = struct.unpack_from("<I", body, 4)[0] if len(body) >= 8 else 0
    lengths: list[int] = []
    ci, pos = 0, 0

    def take(k: int) -> bytes:
        nonlocal ci, pos
        out = b""
        while len(out) < k:
            if ci >= len(chunks):
                raise Damaged("damaged", "SST shorter than it says")
            piece = chunks[ci][pos : pos + k - len(out)]
            out += piece
            pos += len(piece)
            if pos >= len(chunks[ci]) and len(out) < k:
                ci, pos = ci + 1, 0
        return out

    while len(lengths) < total:
        if ci < len(chunks) and pos >= len(chunks[ci]):
            ci, pos = ci + 1, 0
        if ci >= len(chunks):
            break
        cch, flags = struct.unpack("<HB", take(3))
        runs = struct.unpack("<H", take(2))[0] if flags & 0x8 else 0
        ext = struct.unpack("<I", take(4))[0] if flags & 0x4 else 0
        left, wide = cch, flags & 0x1
        while left:  # characters may continue in the next record, which then starts with a new flags byte
            if pos >= len(chunks[ci]):
                ci, pos = ci + 1, 0
                if ci >= len(chunks):
                    raise Damaged("damaged", "SST string cut short")
                wide = take(1)[0] & 0x1
            room = (len(chunks[ci]) - pos) // (2 if wide else 1)
            step = min(left, max(room, 0))
            if step == 0:
                ci, pos = ci + 1, 0
                if ci >= len(chunks):
                    raise Damaged("damaged", "SST string cut short")
                wide = take(1)[0] & 0x1
                continue
            take(step * (2 if wide else 1))
            left -= step
        take(4 * runs + ext)
        lengths.append(cch)
    return lengths


def scan(ole: Ole, entry: Entry, stream_limit: int) -> Workbook:
    """What the workbook stream ``entry`` says; Damaged if it is cut or inconsistent."""
    stream = ole.read(entry, stream_limit)
    book = Workbook(entry)
    by_offset: dict[int, Sheet] = {}
    sheet: Sheet | None = None
    sst_body, in_sst = b"", False  # in_sst: sst_body holds the SST record being read
    sst_continues: list[bytes] = []
    label_counts: dict[int, int] = {}  # SST index → cells showing it, of the current sheet
    max_row = max_col = -1
    depth, sheet_depth = 0, 0

    def close_sheet():
        if sheet is not None:
            sheet.used = (max_row + 1, max_col + 1)
            lengths = book.sst_lengths
            sheet.string_chars = sum(lengths[i] * k for i, k in label_counts.items() if i < len(lengths))

    for pos, kind, body in records(stream):
        if in_sst and kind != CONTINUE:
            book.sst_lengths = _sst_lengths(sst_body, sst_continues)
            in_sst = False
        if kind == BOF:
            depth += 1
            if pos in by_offset and sheet is None:
                sheet, max_row, max_col, label_counts, sheet_depth = by_offset[pos], -1, -1, {}, depth
            continue
        if kind == EOF:
            if sheet is not None and depth == sheet_depth:
                close_sheet()
                sheet = None
            depth -= 1
            continue
        if kind == FILEPASS:
            book.encrypted = True
            return book
        if sheet is None:
            if kind == BOUNDSHEET and len(body) >= 8:
                offset, _, dt, cch, flags = struct.unpack_from("<IBBBB", body)
                raw = body[8 : 8 + cch * (2 if flags & 1 else 1)]
                name = raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")
                s = Sheet(name, dt)
                book.sheets.append(s)
                by_offset[offset] = s
            elif kind == SST:
                sst_body, sst_continues, in_sst = body, [], True
            elif kind == CONTINUE and in_sst:
                sst_continues.append(body)
            continue
        if kind in CELL_RECORDS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body)
            max_row, max_col = max(max_row, row), max(max_col, col)
            if kind == LABELSST and len(body) >= 10:
                i = struct.unpack_from("<I", body, 6)[0]
                label_counts[i] = label_counts.get(i, 0) + 1
        elif kind in (MULRK, MULBLANK) and len(body) >= 6:
            row, first = struct.unpack_from("<HH", body)
            last = struct.unpack_from("<H", body, len(body) - 2)[0]
            max_row, max_col = max(max_row, row), max(max_col, first, last)
        elif kind == DIMENSIONS and len(body) >= 12:
            # calamine reserves (last - first) rows × columns, computed without a sign: a first row beyond the
            # last wraps round to four billion rows
            first_row, rows, first_col, cols = struct.unpack_from("<IIHH", body)
            sheet.claimed = (max(rows, (rows - first_row) & 0xFFFFFFFF), max(cols, (cols - first_col) & 0xFFFF))
    if in_sst:
        book.sst_lengths = _sst_lengths(sst_body, sst_continues)
    close_sheet()
    return book
