"""Render an executor template to PDF with LibreOffice and save page pictures for docs/.

    python3 tools/render_template_picture.py [EXECUTOR] [--period 2024]

Writes docs/template-page1.png (the title sheet with the self-check) and
docs/template-execution.png (the first page of «II. Виконання»).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate import layout as L  # noqa: E402
from consolidate import office  # noqa: E402
from consolidate.catalogue import load_catalogue  # noqa: E402
from consolidate.template import write_templates  # noqa: E402

DPI = 100


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("executor", nargs="?", default="UA-07")
    ap.add_argument("--period", default="2024")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    cat = load_catalogue(ROOT / "templates")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tf,) = write_templates(cat, tmp / "templates", args.period, "496-r", [args.executor])
        pdf = office.convert(tf.path, "pdf", tmp / "pdf")
        text_pages = office.pdf_text(pdf).split("\f")
        execution_page = next(i for i, t in enumerate(text_pages, 1) if L.SHEET_EXECUTION.split(". ", 1)[1] in t
                              and "Завдання / захід / показник" in t)
        args.out.mkdir(parents=True, exist_ok=True)
        for page, name in ((1, "template-page1"), (execution_page, "template-execution")):
            (png,) = office.pdf_to_png(pdf, tmp / name, page, page, dpi=DPI)
            (args.out / f"{name}.png").write_bytes(png.read_bytes())
            print(f"{args.out / (name + '.png')}  (сторінка {page} з {len(text_pages) - 1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
