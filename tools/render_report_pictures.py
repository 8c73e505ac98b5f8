"""Render the national report (docx → PDF with LibreOffice) and save page pictures for docs/.

    python3 tools/render_report_pictures.py [--period 2024] [--out docs] [--keep DIR]

The report is built from the executor returns simulated from the seed (the ministry's 2024
report), as in the tests.  Writes docs/report-section1.png (page 1: the title block and the
start of section I) and docs/report-section2.png (the first page of section II).
``--keep DIR`` also keeps the .docx and .pdf there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate import office  # noqa: E402
from consolidate.catalogue import load_catalogue  # noqa: E402
from consolidate.reconcile import reconcile  # noqa: E402
from consolidate.report_docx import SECTION2_TITLE, build_docx, write_pdf  # noqa: E402
from consolidate.simulate import simulate  # noqa: E402
from tests.util import make_returns  # noqa: E402

DPI = 110


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", default="2024")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--keep", type=Path, default=None, help="also keep the .docx and .pdf in this folder")
    args = ap.parse_args()
    cat = load_catalogue(ROOT / "templates")
    rec = reconcile(cat, args.period, make_returns(simulate(cat).values, args.period))
    data = build_docx(cat, rec)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pdf = write_pdf(data, tmp / "report.pdf")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / "report.docx").write_bytes(data)
            (args.keep / "report.pdf").write_bytes(pdf.read_bytes())
        pages = office.pdf_text(pdf).split("\f")
        section2 = next(i for i, t in enumerate(pages, 1) if SECTION2_TITLE in " ".join(t.split()))
        args.out.mkdir(parents=True, exist_ok=True)
        for page, name in ((1, "report-section1"), (section2, "report-section2")):
            (png,) = office.pdf_to_png(pdf, tmp / name, page, page, dpi=DPI)
            (args.out / f"{name}.png").write_bytes(png.read_bytes())
            print(f"{args.out / (name + '.png')}  (сторінка {page} з {len(pages) - 1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
