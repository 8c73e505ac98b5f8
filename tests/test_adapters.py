"""Third-party libraries through their public API; private fast paths only in their adapter modules.

* Only ``consolidate/xlsx_fast.py`` imports xlsxwriter's internal modules or touches its underscore attributes,
  and only ``consolidate/docx_fast.py`` python-docx's (underscore names found on the libraries' own objects,
  so that a new use anywhere else fails here).  No module uses zipfile's undocumented ``NameToInfo``.
* The adapters' fallback is the libraries' public API: forced by ``CONSOLIDATE_PUBLIC_API``, and chosen on
  any version outside the tested range; the templates and the docx report come out byte for byte the same.
* Building workbooks changes nothing in xlsxwriter itself (no process-wide replacement of a class or of a
  module attribute).
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
import xlsxwriter

from consolidate import xlsx_fast

from .conftest import ROOT

PACKAGE = ROOT / "consolidate"
# library → (its adapter module, the modules of it anyone may import)
LIBRARIES = {
    "xlsxwriter": ("xlsx_fast.py", {"xlsxwriter", "xlsxwriter.utility", "xlsxwriter.exceptions"}),
    # python-docx: any module, no underscore name (docx.table._Cell) and no underscore attribute
    "docx": ("docx_fast.py", None),
}


def _private_names_of_xlsxwriter() -> set[str]:
    import xlsxwriter.packager
    import xlsxwriter.sharedstrings
    import xlsxwriter.workbook
    import xlsxwriter.worksheet

    wb = xlsxwriter.Workbook(io.BytesIO())
    objects = [wb, wb.add_worksheet(), wb.add_format(), xlsxwriter.packager.Packager(),
               xlsxwriter.sharedstrings.SharedStrings(), xlsxwriter.workbook, xlsxwriter.worksheet]
    wb.close()
    return {n for o in objects for n in set(dir(o)) | set(getattr(o, "__dict__", {}))
            if n.startswith("_") and not n.startswith("__")}


def _private_names_of_docx() -> set[str]:
    import docx

    doc = docx.Document()
    paragraph = doc.add_paragraph("x")
    run = paragraph.add_run("y")
    table = doc.add_table(rows=1, cols=2)
    row = table.rows[0]
    objects = [doc, paragraph, run, table, row, row.cells[0], table.columns[0], doc.part, doc.styles,
               doc.sections[0], doc.core_properties, paragraph.paragraph_format, run.font, doc.part.package]
    return {n for o in objects for n in set(dir(o)) | set(getattr(o, "__dict__", {}))
            if n.startswith("_") and not n.startswith("__")}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _uses(path: Path, library: str, public: set[str], private_names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name.split(".")[0] == library and public is not None and a.name not in public]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == library:
            if public is not None and node.module not in public:
                found.append(f"from {node.module} import …")
            found += [f"from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in private_names:
            receiver = node.value
            if not (isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")):
                found.append(f".{node.attr} (line {node.lineno})")
    return found


def test_only_the_adapter_reaches_into_xlsxwriter():
    adapter, public = LIBRARIES["xlsxwriter"]
    private = _private_names_of_xlsxwriter()
    assert {"_prepare_formula", "_write_single_row", "_store_workbook"} <= private  # the check can fail
    offenders = {str(p.relative_to(ROOT)): uses for p in _modules() if p.name != adapter
                 for uses in [_uses(p, "xlsxwriter", public, private)] if uses}
    assert offenders == {}
    assert _uses(PACKAGE / adapter, "xlsxwriter", public, private)  # …and the scan sees the adapter's


def test_only_the_adapter_reaches_into_python_docx():
    adapter, public = LIBRARIES["docx"]
    private = _private_names_of_docx()
    assert {"_p", "_r", "_tc", "_tbl", "_tr", "_blob", "_element"} <= private  # the check can fail
    offenders = {str(p.relative_to(ROOT)): uses for p in _modules() if p.name != adapter
                 for uses in [_uses(p, "docx", public, private)] if uses}
    assert offenders == {}
    assert _uses(PACKAGE / adapter, "docx", public, private)


def test_docx_report_is_the_same_document_on_both_paths(cat, sim, monkeypatch):
    import datetime as dt

    from consolidate import docx_fast
    from consolidate.reconcile import reconcile
    from consolidate.report_docx import build_docx

    from .util import make_returns

    if not docx_fast.FAST_VERSIONS[0] <= docx_fast.DOCX_VERSION < docx_fast.FAST_VERSIONS[1]:
        pytest.skip(f"no fast path on python-docx {docx_fast.DOCX_VERSION}")
    rec = reconcile(cat, "2024", make_returns({k: v for k, v in sim.values.items() if k != "MKIP"}))
    when = dt.datetime(2025, 1, 1)
    monkeypatch.delenv(xlsx_fast.PUBLIC_API_ENV, raising=False)
    assert docx_fast.fast_path()
    fast = build_docx(cat, rec, created=when)
    monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, "1")
    assert not docx_fast.fast_path()
    public = build_docx(cat, rec, created=when)
    assert fast == public  # rows, spans, merges, styles, shading, the font table: byte for byte


def test_public_api_forced_by_the_environment(monkeypatch):
    monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, "1")
    assert not xlsx_fast.fast_path()
    for make in (xlsx_fast.template_workbook, xlsx_fast.report_workbook):
        wb = make(io.BytesIO(), {"in_memory": True})
        assert type(wb) is xlsxwriter.Workbook
        wb.close()
    monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, "0")
    assert xlsx_fast.fast_path() == (xlsx_fast._FAST is not None)


def test_fallback_on_a_version_outside_the_tested_range(monkeypatch):
    for version in ((3, 1, 9), (3, 2, 5), (3, 4, 0), (4, 0, 0)):
        monkeypatch.setattr(xlsx_fast, "XLSXWRITER_VERSION", version)
        assert xlsx_fast._load_fast() is None
    monkeypatch.setattr(xlsx_fast, "XLSXWRITER_VERSION", xlsx_fast.FAST_VERSIONS[0])
    assert xlsx_fast._load_fast() is not None
    assert xlsx_fast._version("3.3.1") == (3, 3, 1) and xlsx_fast._version("3.4.0rc1") == (3, 4, 0)


def test_streamed_rows_go_downwards_on_both_paths(monkeypatch):
    for forced in ("", "1"):
        monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, forced)
        wb = xlsx_fast.report_workbook(io.BytesIO(), {"in_memory": True})
        ws = xlsx_fast.add_streamed_sheet(wb, "s")
        after = ws.put_rows(2, [(["a", 1.5, xlsx_fast.Formula("=B3*2", 3.0), None], [None] * 4, None)])
        assert after == 3
        with pytest.raises(ValueError):
            ws.put_rows(1, [(["b"], [None], None)])
        with pytest.raises(TypeError):
            ws.put_rows(5, [([object()], [None], None)])
        wb.close()


def test_workbooks_leave_xlsxwriter_as_it_was(cat):
    import xlsxwriter.workbook
    import xlsxwriter.worksheet

    from consolidate import reconcile, report, template

    def snapshot():
        return ({k: id(v) for k, v in vars(xlsxwriter.workbook).items()},
                {k: id(v) for k, v in vars(xlsxwriter.worksheet).items()},
                {k: id(v) for k, v in vars(xlsxwriter.Workbook).items()},
                {k: id(v) for k, v in vars(xlsxwriter.worksheet.Worksheet).items()})

    before = snapshot()
    template.build_workbook(cat, cat.expected_executors()[0], "2024", "pw")
    report.build_report(cat, reconcile.reconcile(cat, "2024", []))
    assert snapshot() == before


def test_zip_archives_read_through_zipfiles_documented_api():
    # ZipFile.NameToInfo is undocumented: getinfo(), namelist() and infolist() say the same
    offenders = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in _modules()
                 for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Attribute) and node.attr in ("NameToInfo", "_extract_member", "_RealGetContents")]
    assert offenders == []


@pytest.mark.slow  # a benchmark run (small)
def test_fast_paths_benchmark_runs(tmp_path):
    """benchmarks/fast_paths.py (docs/performance.md's figures) at 12 executors, so that it cannot rot."""
    import json
    import subprocess
    import sys

    out = tmp_path / "fp.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fast_paths.py"), "-n", "12", "-r", "1",
                    "--json", str(out)], check=True, capture_output=True, timeout=600)
    results = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert set(results) == {"templates", "report", "docx"}
    for runs in results.values():
        assert set(runs) == {"public", "fast"}
        assert all(r["cpu"] > 0 and r["ratio_public_to_this"] > 0 for r in runs.values())
    assert results["templates"]["public"]["digest"] == results["templates"]["fast"]["digest"]  # same bytes
