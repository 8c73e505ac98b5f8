"""out/status.html in a real headless browser (Debian's Chromium): it loads, shows every executor, stays inert."""

from __future__ import annotations

import html.parser
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.status import STATE_COLOURS, STATES

from .conftest import need_binary
from .status_scenario import HOSTILE_NAME, populate

WINDOW = (1400, 1000)


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with its own profile, no network services, no sandbox (containers), under a timeout."""
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=False)


class Table(html.parser.HTMLParser):
    """Rows of the status table (data-executor and cell texts) and every element seen."""

    def __init__(self):
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self.tags: set[str] = set()
        self.title = ""
        self._cell: list[str] | None = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "tr" and "data-executor" in attrs:
            self.rows.append((attrs["data-executor"], []))
        elif tag == "td" and self.rows:
            self._cell = []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def png_colours(data: bytes, rows: int) -> set[tuple[int, int, int]]:
    """The RGB colours in the first ``rows`` pixel rows of an 8-bit RGB/RGBA, non-interlaced PNG."""
    width, height = png_size(data)
    depth, colour_type, interlace = data[24], data[25], data[28]
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    bpp = 3 if colour_type == 2 else 4
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(min(rows, height)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(tuple(line[x:x + 3]) for x in range(0, stride, bpp))
        prev = line
    return colours


@pytest.mark.slow  # Chromium
def test_status_page_in_chromium(workspace, tmp_path):
    binary = need_binary("chromium")
    ws = workspace
    populate(ws)
    res = CliRunner().invoke(main, ["status", "-w", str(ws.root), "--as-of", "2025-01-31"])
    assert res.exit_code == 1, res.output
    page = ws.out / "status.html"
    url = page.resolve().as_uri()

    dom = chromium(binary, tmp_path / "profile", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    table = Table()
    table.feed(dom.stdout.decode("utf-8"))
    expected = ws.catalogue.expected_executors()
    assert sorted(code for code, _ in table.rows) == sorted(expected)  # every executor, once
    names = {code: cells for code, cells in table.rows}
    for code in expected:
        assert ws.catalogue.registry[code].short_name in names[code][2]
    assert [cells[1] for _, cells in table.rows] == sorted((c[1] for _, c in table.rows), key=[s.label for s in STATES].index)
    assert table.title == "Стан звітування — 2024 рік"  # the hostile file name did not run
    assert "script" not in table.tags and "img" not in table.tags and "b" not in table.tags
    assert any(HOSTILE_NAME in cell for cell in names["DMS"])  # shown as text

    shot = tmp_path / "status.png"
    done = chromium(binary, tmp_path / "profile", f"--screenshot={shot}", url)
    assert done.returncode == 0 and shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert png_size(data) == WINDOW and len(data) > 20_000
    colours = png_colours(data, 220)  # heading, summary and the legend with every state's colour
    for state, colour in STATE_COLOURS.items():
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours, state


def test_png_reader_on_a_known_image():
    """The small PNG reader above, on an image made here (filters 0 and 1)."""
    width, height = 4, 2
    pixels = [bytes([0, 255, 0, 10, 20, 30] * 2), bytes([1]) + bytes([200, 0, 0] + [0, 0, 0] * 3)]
    raw = b"\x00" + pixels[0] + pixels[1]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    assert png_size(data) == (4, 2)
    assert png_colours(data, 2) == {(0, 255, 0), (10, 20, 30), (200, 0, 0)}
