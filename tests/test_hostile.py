"""Hostile and broken input: a corpus built here, read alone and received in one intake run.

Each file gets a clear Ukrainian finding or rejection, is kept in quarantine with its reasons, and
costs nothing to the other files of the run; nothing is expanded, fetched or run; time and memory
stay bounded (measured in a fresh process).
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from consolidate import inbox
from consolidate import layout as L
from consolidate.catalogue import load_catalogue
from consolidate.cli import main
from consolidate.filler import fill_workbook, plausible_values
from consolidate.intake import MAX_TEXT, ROWS_WITHOUT_KEY_SHOWN, read_return, sniff_format, status_of
from consolidate.ledger import Ledger
from consolidate.model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED
from consolidate.template import build_workbook
from consolidate.verify import verify_workspace
from consolidate.workspace import open_workspace

from .conftest import ROOT
from .hostile_util import (GiB, billion_laughs, bomb, random_text, replace_cell,
                           with_doctype)
from .intake_util import (EXECUTION, PASSWORD, brief, complete, edit, filled, merged, rezip, set_meta, set_property,
                          set_title, sheet_part, template, values_by_key)

MINJUST = "Міністерство юстиції України"
SECRET = "TOP-SECRET-LINE-FROM-DISK"
RSS_BOUND_MB = 400
TIME_BOUND_S = 10.0


@pytest.fixture(scope="module")
def cat():
    return open_workspace(ROOT).catalogue


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def narrative_cell(data: bytes, cell_xml: bytes) -> bytes:
    """A filled return whose T2.2 narrative cell (I6 of «II. Виконання») is replaced by raw XML."""
    part = sheet_part(data, EXECUTION)
    xml = zipfile.ZipFile(io.BytesIO(data)).read(part)
    return rezip(data, {part: replace_cell(xml, "I6", cell_xml)})


def encrypted(data: bytes, password: str = "пароль") -> bytes:
    """An OOXML workbook encrypted as Excel does it ("Encrypt with password"): an OLE2 container."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def word_document() -> bytes:
    from docx import Document

    doc = Document()
    doc.add_paragraph("Лист-відповідь замість звіту")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def unrelated_workbook(path: Path) -> Path:
    """Somebody's budget table: a real workbook, nothing of the template in it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Бюджет"
    ws.append(["Стаття", "Сума, грн"])
    for i in range(30):
        ws.append([f"Стаття {i}", i * 1000])
    wb.save(path)
    return path


# ---------------------------------------------------------------------------------
# the corpus, received in one run
# ---------------------------------------------------------------------------------

def build_corpus(cat, folder: Path, secret_file: Path) -> dict[str, tuple[bytes, str, str]]:
    """name → (bytes, expected state, expected finding code or "")."""
    good = filled(cat, folder, "good.xlsx").read_bytes()
    nometa = edit(filled(cat, folder, "n.xlsx"), lambda wb: wb.remove(wb[L.SHEET_META]),
                  folder / "nometa.xlsx").read_bytes()
    custom = zipfile.ZipFile(io.BytesIO(nometa)).read("docProps/custom.xml")
    src = filled(cat, folder, "src.xlsx")

    def programme(wb):
        set_meta(wb, "programme_code", "123-р")
        set_property(wb, "programme_code", "123-р")

    def year(wb):
        set_meta(wb, "period", "2023")
        set_property(wb, "period", "2023")
        set_title(wb, L.TITLE_PERIOD_LABEL, "2023 (2023 рік)")

    def other_executor(wb):  # metadata claims MVS, the title sheet says MINJUST
        set_meta(wb, "executor_code", "MVS")
        set_property(wb, "executor_code", "MVS")
        set_meta(wb, "executor_name", "Міністерство внутрішніх справ України")
    rng = random.Random(9)
    mvs = fill_workbook(template(cat, folder, "MVS"), folder / "mvs.xlsx", plausible_values(cat, "MVS", 3))
    xxe = with_doctype(b"", "worksheet", f'<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">'.encode())
    return {
        "01 звіт Мін'юсту.xlsx": (good, ACCEPTED, ""),
        "02 лист.docx.xlsx": (word_document(), QUARANTINED, "not-a-workbook"),
        "03 скан.xlsx": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", QUARANTINED,
                         "not-a-workbook"),
        "04 порожній.xlsx": (b"", QUARANTINED, "not-a-workbook"),
        "05 шум.xlsx": (bytes(rng.getrandbits(8) for _ in range(4096)), QUARANTINED, "not-a-workbook"),
        "06 обрізаний.xlsx": (good[: len(good) * 2 // 3], QUARANTINED, "unreadable"),
        "07 МВС.xlsx": (mvs.read_bytes(), ACCEPTED, ""),
        "08 з паролем.xlsx": (encrypted(good), QUARANTINED, "encrypted"),
        "09 бомба.xlsx": (bomb(good, sheet_part(good, EXECUTION), 2 * GiB), QUARANTINED, "too-large"),
        "10 бомба, що бреше про розмір.xlsx": (bomb(good, sheet_part(good, EXECUTION), 2 * GiB, declared=40_000),
                                              QUARANTINED, "zip-bomb"),
        "11 xxe.xlsx": (_with_sheet_doctype(good, xxe, b'<c r="I6" t="inlineStr"><is><t>&xxe;</t></is></c>'),
                        QUARANTINED, "unsafe-xml"),
        "12 мільярд сміху.xlsx": (rezip(nometa, {"docProps/custom.xml": with_doctype(
            custom.replace(b">MINJUST<", b">&lol9;<"), "Properties", billion_laughs())}), QUARANTINED, "unsafe-xml"),
        "13 інша програма.xlsx": (edit(src, programme, folder / "p.xlsx").read_bytes(), QUARANTINED,
                                  "wrong-programme"),
        "14 звіт за 2023.xlsx": (edit(src, year, folder / "y.xlsx").read_bytes(), QUARANTINED, "wrong-period"),
        "15 бюджет.xlsx": (unrelated_workbook(folder / "budget.xlsx").read_bytes(), QUARANTINED, "not-identified"),
        "16 чужі відомості.xlsx": (edit(filled(cat, folder, "o.xlsx", merged(complete(), {
            "execution": {"T2.2.1": {"actual": 41}}})), other_executor).read_bytes(), ACCEPTED_ERRORS,
            "metadata-edited"),
    }


def _with_sheet_doctype(data: bytes, doctype_xml: bytes, cell_xml: bytes) -> bytes:
    """The narrative cell replaced by ``cell_xml`` and the sheet given the DOCTYPE of ``doctype_xml``."""
    part = sheet_part(data, EXECUTION)
    xml = zipfile.ZipFile(io.BytesIO(data)).read(part)
    declarations = doctype_xml[doctype_xml.index(b"[") + 1: doctype_xml.rindex(b"]")]
    return rezip(data, {part: with_doctype(replace_cell(xml, "I6", cell_xml), "worksheet", declarations)})


def test_a_hostile_corpus_in_one_intake_run(workspace, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    (tmp_path / "build").mkdir()
    corpus = build_corpus(workspace.catalogue, tmp_path / "build", secret)
    for i, (name, (data, _, _)) in enumerate(corpus.items()):
        path = workspace.inbox / name
        path.write_bytes(data)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    res = CliRunner().invoke(main, ["intake", "--json", "-w", str(workspace.root)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 1 and "Traceback" not in res.output
    files = {f["file"]: f for f in json.loads(res.output)["files"]}
    assert list(files) == list(corpus)
    for name, (data, state, code) in corpus.items():
        got = files[name]
        assert got["status"] == state, (name, got["findings"])
        codes = [f["code"] for f in got["findings"]]
        if code:
            assert code in codes, (name, codes)
        else:
            assert codes == [], name
        for f in got["findings"]:
            assert f["message"] and any("а" <= ch <= "я" or ch in "іїєґ" for ch in f["message"].lower()), f
            assert SECRET not in json.dumps(f, ensure_ascii=False)
        digest = got["sha256"]
        if state == QUARANTINED:
            kept = workspace.quarantine / f"{digest}.{Path(got['archive_path']).suffix[1:]}"
            assert kept.read_bytes() == data, name
            note = Path(f"{kept}.txt").read_text(encoding="utf-8")
            assert note.startswith("Файл не прийнято") and f"Файл: {name}" in note
            assert got["findings"][0]["message"] in note
        assert (workspace.root / got["archive_path"]).read_bytes() == data
    assert list(workspace.inbox.iterdir()) == []
    # the good files read exactly as they read alone
    with Ledger(workspace.ledger_path) as ledger:
        for name in ("01 звіт Мін'юсту.xlsx", "07 МВС.xlsx"):
            record = ledger.file(files[name]["sha256"])
            alone = read_return(corpus[name][0], name, workspace.catalogue)
            assert ledger.values(record.submission_id) == alone.values and alone.values
        current = {s.executor: s.original_name for s in ledger.latest_submissions("2024")}
    assert current == {"MINJUST": "16 чужі відомості.xlsx", "MVS": "07 МВС.xlsx"}
    assert verify_workspace(workspace).ok


# ---------------------------------------------------------------------------------
# encrypted workbooks and the other OLE2 files
# ---------------------------------------------------------------------------------

def test_an_excel_encrypted_workbook_is_told_from_an_xls(cat, tmp_path):
    import xlwt

    good = filled(cat, tmp_path, "r.xlsx").read_bytes()
    secret = encrypted(good)
    assert secret[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    assert sniff_format(secret) == "encrypted"
    ret = read_return(secret, "r.xlsx", cat)
    assert brief(ret.findings) == [(ERROR, "encrypted", "", "", "", "", "")]
    assert "паролем" in ret.findings[0].message and status_of(ret) == QUARANTINED
    book = xlwt.Workbook()
    book.add_sheet("Аркуш1").write(0, 0, "текст")
    buf = io.BytesIO()
    book.save(buf)
    assert sniff_format(buf.getvalue()) == "xls"
    assert [f.code for f in read_return(buf.getvalue(), "old.xls", cat).findings] == ["not-identified"]
    word97 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "WordDocument".encode("utf-16-le")
    assert [(f.code, f.found) for f in read_return(word97, "лист.xls", cat).findings] == [
        ("not-a-workbook", "документ Microsoft Office, що не є книгою Excel")]


# ---------------------------------------------------------------------------------
# XML entities: never expanded, never fetched
# ---------------------------------------------------------------------------------

def test_external_entities_and_billion_laughs_are_never_expanded(cat, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    good = filled(cat, tmp_path, "r.xlsx").read_bytes()
    nometa = edit(filled(cat, tmp_path, "n.xlsx"), lambda wb: wb.remove(wb[L.SHEET_META])).read_bytes()
    custom = zipfile.ZipFile(io.BytesIO(nometa)).read("docProps/custom.xml")
    book = zipfile.ZipFile(io.BytesIO(good)).read("xl/workbook.xml")
    part = sheet_part(good, EXECUTION)
    sheet = zipfile.ZipFile(io.BytesIO(good)).read(part)
    external = f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">'.encode()
    cell = b'<c r="I6" t="inlineStr"><is><t>&%s;</t></is></c>'
    cases = {
        "external entity in a cell": (rezip(good, {part: with_doctype(replace_cell(sheet, "I6", cell % b"xxe"),
                                                                      "worksheet", external)}), "unsafe-xml"),
        "billion laughs in a cell": (rezip(good, {part: with_doctype(replace_cell(sheet, "I6", cell % b"lol9"),
                                                                     "worksheet", billion_laughs())}), "unsafe-xml"),
        "entities declared, an error cell read by defusedxml": (rezip(good, {part: with_doctype(
            replace_cell(sheet, "E7", b'<c r="E7" t="e"><v>#REF!</v></c>'), "worksheet",
            billion_laughs() + external)}), "unsafe-xml"),
        "external entity in the custom properties": (rezip(nometa, {"docProps/custom.xml": with_doctype(
            custom.replace(b">MINJUST<", b">&xxe;<"), "Properties", external)}), "unsafe-xml"),
        "billion laughs in the custom properties": (rezip(nometa, {"docProps/custom.xml": with_doctype(
            custom.replace(b">MINJUST<", b">&lol9;<"), "Properties", billion_laughs())}), "unsafe-xml"),
        "a DOCTYPE in workbook.xml, never referenced": (rezip(good, {"xl/workbook.xml": with_doctype(
            book, "workbook", billion_laughs() + external)}), ""),
    }
    for what, (data, code) in cases.items():
        ret = read_return(data, "x.xlsx", cat)
        text = json.dumps([f.__dict__ for f in ret.findings] + [v._asdict() for v in ret.values], ensure_ascii=False)
        assert SECRET not in text and "lollol" not in text, what
        if code:
            assert [f.code for f in ret.findings] == [code], (what, brief(ret.findings))
            assert status_of(ret) == QUARANTINED
        else:
            assert status_of(ret) == ACCEPTED and values_by_key(ret) == values_by_key(read_return(good, "g", cat))


# ---------------------------------------------------------------------------------
# time and memory, measured in a fresh process
# ---------------------------------------------------------------------------------

MEASURE = """\
import json, resource, sys, time
from consolidate.intake import read_return, status_of
from consolidate.workspace import open_workspace
cat = open_workspace(sys.argv[2]).catalogue
start = time.perf_counter()
ret = read_return(sys.argv[1], "x.xlsx", cat)
seconds = time.perf_counter() - start
try:  # the peak of this process's own memory (ru_maxrss would carry the forking parent's peak over exec)
    with open("/proc/self/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
except OSError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss, "status": status_of(ret),
                  "codes": [f.code for f in ret.findings], "longest": max([len(v.text) for v in ret.values] or [0])}))
"""


def measure(path: Path) -> dict:
    """Read one file in a fresh process: its time, peak RSS (the interpreter and catalogue included) and result."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(ROOT)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    print(f"{path.name}: {result['seconds']:.2f} s, peak RSS {result['rss_mb']:.0f} MB, {result['status']}")
    return result


def test_zip_bombs_are_rejected_fast_with_bounded_memory(cat, tmp_path):
    good = filled(cat, tmp_path, "r.xlsx").read_bytes()
    part = sheet_part(good, EXECUTION)
    honest = tmp_path / "honest.xlsx"
    honest.write_bytes(bomb(good, part, 2 * GiB))
    liar = tmp_path / "liar.xlsx"
    liar.write_bytes(bomb(good, part, 2 * GiB, declared=40_000))
    assert honest.stat().st_size < 20 * 1024 * 1024  # gigabytes inside a few megabytes
    for path, code in ((honest, "too-large"), (liar, "zip-bomb")):
        result = measure(path)
        assert (result["status"], result["codes"]) == (QUARANTINED, [code])
        assert result["seconds"] < 2.0 and result["rss_mb"] < 200


@pytest.mark.slow  # scale
def test_huge_text_many_rows_and_many_sheets_take_bounded_time_and_memory(cat, tmp_path):
    good = filled(cat, tmp_path, "r.xlsx").read_bytes()
    text = random_text(1024 * 1024)
    big_text = tmp_path / "text.xlsx"
    big_text.write_bytes(narrative_cell(good, b'<c r="I6" t="inlineStr"><is><t>' + text.encode() + b"</t></is></c>"))

    def extra_rows(wb):
        ws = wb[EXECUTION]
        for r in range(20, 100_020):
            ws.cell(r, 5, r)
            ws.cell(r, 9, f"рядок {r}")
    rows = edit(filled(cat, tmp_path, "rows.xlsx"), extra_rows)

    def sheets(wb):
        for i in range(300):
            ws = wb.create_sheet(f"Аркуш {i}")
            for r in range(1, 31):
                ws.cell(r, 1, f"x{r}")
                ws.cell(r, 2, r)
    many = edit(filled(cat, tmp_path, "sheets.xlsx"), sheets)

    result = measure(big_text)
    assert (result["status"], result["codes"], result["longest"]) == (ACCEPTED_WARNINGS, ["text-too-long"], MAX_TEXT)
    result_rows = measure(rows)
    assert result_rows["status"] == ACCEPTED_WARNINGS
    assert result_rows["codes"] == ["row-without-key"] * (ROWS_WITHOUT_KEY_SHOWN + 1)
    result_sheets = measure(many)
    assert (result_sheets["status"], result_sheets["codes"]) == (ACCEPTED, [])
    for r in (result, result_rows, result_sheets):
        assert r["seconds"] < TIME_BOUND_S and r["rss_mb"] < RSS_BOUND_MB, r


def test_a_megabyte_of_text_is_cut_to_a_cell_and_many_keyless_rows_summed_up(cat, tmp_path):
    good = filled(cat, tmp_path, "r.xlsx").read_bytes()
    text = random_text(1024 * 1024)
    ret = read_return(narrative_cell(good, b'<c r="I6" t="inlineStr"><is><t>' + text.encode() + b"</t></is></c>"),
                      "t.xlsx", cat)
    assert brief(ret.findings) == [("warning", "text-too-long", EXECUTION, "I6", "T2.2",
                                    f"{len(text)} символів", f"≤ {MAX_TEXT} символів")]
    assert values_by_key(ret)[("T2.2", "narrative")][1] == text[:MAX_TEXT].strip()

    def extra_rows(wb):
        for r in range(20, 60):
            wb[EXECUTION].cell(r, 5, r)
    ret = read_return(edit(filled(cat, tmp_path, "rows.xlsx"), extra_rows), "rows.xlsx", cat)
    assert [(f.cell, f.found) for f in ret.findings] == [(f"A{r}", "") for r in range(20, 30)] + [("A30", "30")]
    assert ret.findings[-1].message.startswith("Ще рядків без службового ключа, але з даними: 30 (рядки 30–59)")


# ---------------------------------------------------------------------------------
# templates of another catalogue version, metadata that lies
# ---------------------------------------------------------------------------------

def older_catalogue(templates_copy: Path, change) -> object:
    path = templates_copy / "catalogue.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["programme"]["version"] = "2023.2"
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalogue(templates_copy)


def _measure(doc, measure_id):
    return next(m for t in doc["tasks"] for m in t["measures"] if m["id"] == measure_id)


def test_a_template_of_an_older_catalogue_version(cat, tmp_path, templates_copy):
    def reworded(doc):  # same rows, older wording: every row maps, the version is flagged
        _measure(doc, "T2.2")["text"] += " (редакція 2023 року)"
    old = older_catalogue(templates_copy, reworded)
    assert old.template_version != cat.template_version
    path = tmp_path / "old.xlsx"
    path.write_bytes(build_workbook(old, "MINJUST", "2024", PASSWORD))
    ret = read_return(fill_workbook(path, tmp_path / "old-filled.xlsx", complete()), "old.xlsx", cat)
    assert brief(ret.findings) == [("warning", "stale-template", "", "", "", old.template_version,
                                    cat.template_version)]
    assert values_by_key(ret) == values_by_key(read_return(filled(cat, tmp_path, "new.xlsx"), "new.xlsx", cat))


def test_rows_an_older_catalogue_gave_the_executor_are_flagged_and_the_rest_map(cat, tmp_path):
    """The older template had a measure of another executor's (T1.2 named MINJUST): its rows are refused."""
    ws_dir = tmp_path / "tpl"
    shutil.copytree(ROOT / "templates", ws_dir)

    def wider(doc):
        _measure(doc, "T1.2")["executors"].append("MINJUST")
    old = older_catalogue(ws_dir, wider)
    path = tmp_path / "old.xlsx"
    path.write_bytes(build_workbook(old, "MINJUST", "2024", PASSWORD))
    values = merged(complete(), {"execution": {"T1.2": {"status": "виконано", "narrative": "Подано пропозиції."},
                                               "T1.2.1": {"actual": 1}}})
    ret = read_return(fill_workbook(path, tmp_path / "old-filled.xlsx", values), "old.xlsx", cat)
    codes = [(f.code, f.row_key) for f in ret.findings]
    assert codes == [("stale-template", ""), ("not-executor-row", "T1.2"), ("not-executor-row", "T1.2.1")]
    assert status_of(ret) == ACCEPTED_ERRORS
    expected = values_by_key(read_return(filled(cat, tmp_path, "new.xlsx"), "new.xlsx", cat))
    assert {k: v[:2] for k, v in values_by_key(ret).items()} == {k: v[:2] for k, v in expected.items()}


def test_metadata_claiming_another_executor_is_flagged_not_trusted(cat, tmp_path):
    def claim_mvs(wb):
        set_meta(wb, "executor_code", "MVS")
        set_property(wb, "executor_code", "MVS")
    ret = read_return(edit(filled(cat, tmp_path, "r.xlsx"), claim_mvs), "r.xlsx", cat)
    assert (ret.executor, ret.identified_by, status_of(ret)) == ("MINJUST", "title", ACCEPTED_ERRORS)
    assert brief(ret.findings) == [(ERROR, "metadata-edited", "", "", "", "MVS", "MINJUST")]
    assert "Службові відомості файлу змінено" in ret.findings[0].message
    # the values are read against MINJUST's rows, not MVS's
    assert values_by_key(ret) == values_by_key(read_return(filled(cat, tmp_path, "g.xlsx"), "g.xlsx", cat))


# ---------------------------------------------------------------------------------
# file names
# ---------------------------------------------------------------------------------

ODD_NAMES = [
    b"..\\..\\Windows\\System32\\report.xlsx",
    "a/../b".replace("/", "\u2215").encode() + b".xlsx",            # a division slash that looks like "/"
    ("Звіт " + "дуже довгий " * 18).encode()[:245] + b".xlsx",     # near the 255-byte limit of a name
    b"\xff\xfe not utf-8 \xc3.xlsx",
    "\u202excod.xlsx".encode(),                                    # right-to-left override
    "Звіт\u0301 ✓ 🙂 ﷽.xlsx".encode(),
    b"line\nbreak\x1b[31m red.xlsx",
    b'=HYPERLINK("http:evil","x").xlsx',
]


def test_odd_file_names_are_archived_under_sha256_and_kept_as_data(workspace, tmp_path):
    src = filled(workspace.catalogue, tmp_path, "r.xlsx").read_bytes()
    inbox_dir = os.fsencode(workspace.inbox)
    for i, raw in enumerate(ODD_NAMES):
        path = os.path.join(inbox_dir, raw)
        with open(path, "wb") as fh:
            fh.write(src if i == 0 else b"not a workbook %d" % i)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    res = CliRunner().invoke(main, ["intake", "-w", str(workspace.root)])
    assert res.exit_code == 1 and "Traceback" not in res.output and "\x1b[31m" not in res.output
    with Ledger(workspace.ledger_path) as ledger:
        records = ledger.files()
    assert len(records) == len(ODD_NAMES) and os.listdir(workspace.inbox) == []
    names = [r.original_name for r in records]
    assert names[0] == "..\\..\\Windows\\System32\\report.xlsx" and names[0] in res.output
    assert names[3] == "\ufffd\ufffd not utf-8 \ufffd.xlsx"
    assert names[6] == "line\ufffdbreak\ufffd[31m red.xlsx"
    assert names[7] == '=HYPERLINK("http:evil","x").xlsx'
    for raw, record in zip(ODD_NAMES, records):
        assert record.archive_path == f"archive/{record.sha256[:2]}/{record.sha256}.{record.format}"
        assert (workspace.root / record.archive_path).is_file()
    kept = sorted(p.name for p in workspace.quarantine.iterdir())
    assert all(n.split(".")[0] == r.sha256 for n, r in zip(kept[::2], sorted(records[1:], key=lambda r: r.sha256)))
    assert {p.name for p in workspace.root.rglob("*") if "Windows" in p.name or "HYPERLINK" in p.name} == set()
    assert verify_workspace(workspace).ok
    assert inbox.original_name(Path("звіт.xlsx")) == "звіт.xlsx"
