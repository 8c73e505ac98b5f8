"""executors.csv as Excel, LibreOffice and editors save it: encodings, separators, and clear messages."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from consolidate.catalogue import load_catalogue
from consolidate.cli import main
from consolidate.errors import CatalogueError
from consolidate.registry import load_registry

from .conftest import ROOT


def _rows():
    text = (ROOT / "templates" / "executors.csv").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    rows = list(csv.reader([line for line in text.splitlines() if not line.startswith("#")]))
    return comments, rows


def excel_csv(delimiter: str) -> str:
    """The registry as Excel writes a sheet: CRLF, fields quoted only when needed, the comment in A1
    (quoted when it holds the separator) padded with empty cells to the sheet's width."""
    comments, rows = _rows()
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    width = len(rows[0])
    for c in comments:
        w.writerow([c] + [""] * (width - 1))
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


EXPECTED = load_registry(ROOT / "templates" / "executors.csv")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_excel_saved_registry_reads_the_same(tmp_path, encoding, delimiter):
    path = tmp_path / "executors.csv"
    path.write_bytes(excel_csv(delimiter).encode(encoding))
    got = load_registry(path)
    assert [e for e in got] == [e for e in EXPECTED]
    # Emails and aliases are lists inside one field; with `;` as the separator Excel quotes them.
    assert got["MSP"].aliases == EXPECTED["MSP"].aliases and len(got["MSP"].aliases) == 2


def test_comma_file_resaved_by_excel_with_semicolons_as_one_cell_per_line(tmp_path):
    """Opened in a `;` locale, a comma file keeps each line in column A; saved, each line is one quoted cell."""
    text = (ROOT / "templates" / "executors.csv").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        out.append(f'"{line}"' if ";" in line else line)
    path = tmp_path / "executors.csv"
    path.write_bytes("\r\n".join(out).encode("cp1251"))
    assert [e for e in load_registry(path)] == [e for e in EXPECTED]


def test_whole_workspace_runs_on_a_cp1251_semicolon_registry(workspace):
    (workspace.templates_dir / "executors.csv").write_bytes(excel_csv(";").encode("cp1251"))
    res = CliRunner().invoke(main, ["catalogue", "check", "-w", str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert load_catalogue(workspace.templates_dir).registry["MSP"].short_name == "Мінсоцполітики"


def _problems(path) -> list[str]:
    with pytest.raises(CatalogueError) as exc:
        load_registry(path)
    return exc.value.problems


def test_unknown_separator_names_the_header_line_and_what_was_read(tmp_path):
    path = tmp_path / "executors.csv"
    path.write_bytes(excel_csv(",").replace(",", "|").encode("utf-8-sig"))
    (problem,) = _problems(path)
    assert "рядок 2 (заголовок)" in problem and "бракує колонок" in problem
    assert "розділювач" in problem and "UTF-8" in problem and "code|short_name" in problem


def test_undecodable_byte_names_line_and_position(tmp_path):
    path = tmp_path / "executors.csv"
    data = excel_csv(";").encode("cp1251").split(b"\r\n")
    data[3] = data[3][:5] + b"\x98" + data[3][5:]  # 0x98 is no character in Windows-1251 (nor UTF-8)
    path.write_bytes(b"\r\n".join(data))
    (problem,) = _problems(path)
    assert "рядок 4, символ 6" in problem and "0x98" in problem


def test_cell_problems_name_line_and_column(tmp_path):
    comments, rows = _rows()
    rows[3][3] = "ministry"          # kind
    rows[5][4] = "NOWHERE"           # parent
    rows.append(["", "", "", "", "", "", "", ""])  # an empty row Excel left at the end: ignored
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
    path = tmp_path / "executors.csv"
    path.write_bytes(buf.getvalue().encode("cp1251"))
    problems = _problems(path)
    assert any("рядок 4, колонка D «kind»" in p and "ministry" in p for p in problems), problems
    assert any("рядок 6, колонка E «parent»" in p and "NOWHERE" in p for p in problems), problems
    assert len(problems) == 2


def test_unquoted_separator_in_a_name(tmp_path):
    path = tmp_path / "executors.csv"
    text = excel_csv(",").splitlines()
    text[3] = text[3].replace("Нацсоцслужба,", "Нацсоц,служба,", 1)
    path.write_text("\n".join(text), encoding="utf-8")
    (problem,) = _problems(path)
    assert "рядок 4" in problem and "більше" in problem and "колонки I" in problem


def test_cli_message_not_traceback(workspace):
    (workspace.templates_dir / "executors.csv").write_bytes(b"\x98\x98\x98")
    res = CliRunner().invoke(main, ["catalogue", "check", "-w", str(workspace.root)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    assert "0x98" in res.output
