"""Pictures of the CLI as a clerk sees it in a terminal: docs/cli-help.png and docs/intake-findings.png.

    python3 tools/render_terminal_pictures.py [--out docs]

Each command runs in a real terminal (a detached tmux session, 100 columns), the screen is captured with
its colours (``tmux capture-pane -e``), turned into an HTML page (the ANSI colours as spans) and
screenshotted by headless Chromium.  The intake picture receives one return of MINJUST with mistakes
(negative counts, a number typed as text, an empty narrative) and a PDF sent by mistake.  Needs Debian's
``tmux`` and ``chromium``.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate.filler import fill_workbook  # noqa: E402
from consolidate.template import build_workbook  # noqa: E402
from consolidate.workspace import init_workspace  # noqa: E402

COLUMNS, ROWS = 100, 60
PALETTE = ["#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b", "#06989a", "#d3d7cf",
           "#555753", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec"]
FOREGROUND, BACKGROUND = "#1e1e1e", "#fdfdf8"
MISTAKES = {   # MINJUST's rows (see tests/intake_util.py): what a hurried clerk of the executor might type
    "funding": {"F.T2.2.SG.MINJUST": {"financed": 0, "cash": 0, "budget_code": "3601010 Керівництво та управління"},
                "F.T4.2.SG.MINJUST": {"nil": "так"}},
    "execution": {
        "T2.2": {"status": "виконано"},
        "T2.2.1": {"actual": -42},
        "T3.7": {"status": "триває", "narrative": "Співпрацю продовжено."},
        "T3.7.1": {"actual": "один"},
        "T4.2": {"status": "виконано", "narrative": "Проведено 8 000 консультацій."},
        "T4.2.1": {"actual": -8000},
        "T6.10": {"status": "виконано", "narrative": "Усіх звернень розглянуто."},
        "T6.10.1": {"actual": 100, "numerator": 12, "denominator": 12},
    },
    "proposals": {"P1": {"text": "Продовжити фінансування заходу 4.2."}},
}


def _sgr(codes: list[int], state: dict) -> None:
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            state.clear()
        elif c == 1:
            state["bold"] = True
        elif c == 22:
            state.pop("bold", None)
        elif 30 <= c <= 37 or 90 <= c <= 97:
            state["fg"] = PALETTE[c - 30 if c < 90 else c - 90 + 8]
        elif c == 39:
            state.pop("fg", None)
        elif c == 38 and i + 2 < len(codes) and codes[i + 1] == 5:
            n = codes[i + 2]
            state["fg"] = PALETTE[n] if n < 16 else "#888"
            i += 2
        elif c == 38 and i + 4 < len(codes) and codes[i + 1] == 2:
            state["fg"] = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
            i += 4
        i += 1


def ansi_to_html(text: str) -> str:
    """Terminal text with SGR colour codes → HTML spans (other escape sequences dropped)."""
    out, state = [], {}
    for part in re.split(r"(\x1b\[[0-9;]*m)", text):
        m = re.fullmatch(r"\x1b\[([0-9;]*)m", part)
        if m:
            _sgr([int(x) for x in m.group(1).split(";") if x] or [0], state)
            continue
        part = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", part)
        if not part:
            continue
        style = ";".join(x for x in (f"color:{state['fg']}" if "fg" in state else "",
                                     "font-weight:bold" if state.get("bold") else "") if x)
        out.append(f'<span style="{style}">{html.escape(part)}</span>' if style else html.escape(part))
    return "".join(out)


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="uk"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>body{{margin:0;background:{BACKGROUND};}}"
            f".term{{margin:14px;padding:14px 16px;background:{BACKGROUND};color:{FOREGROUND};"
            "font:15px/1.35 'DejaVu Sans Mono',Consolas,monospace;white-space:pre;border:1px solid #bbb;"
            "border-radius:6px;display:inline-block;}</style></head>"
            f'<body><div class="term">{body}</div></body></html>')


def in_terminal(command: str, cwd: Path, session: str) -> str:
    """Run ``command`` in a fresh tmux window; the screen with colours once it is done."""
    tmux = shutil.which("tmux")
    done = cwd / f".{session}.done"
    subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(ROWS),
                    "-c", str(cwd), "bash --norc --noprofile"], check=True,
                   env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TERM": "xterm-256color",
                        "HOME": str(cwd), "LANG": "C.UTF-8"})
    def wait() -> None:
        deadline = time.monotonic() + 120
        while not done.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{command!r} did not finish in 120 s")
            time.sleep(0.2)
        done.unlink()

    try:  # every prompt touches `done`: the setting-up line is cleared, then the command runs as typed
        subprocess.run([tmux, "send-keys", "-t", session, f"PS1='$ '; PROMPT_COMMAND='touch {done}'; clear",
                        "Enter"], check=True)
        wait()
        subprocess.run([tmux, "send-keys", "-t", session, command, "Enter"], check=True)
        wait()
        time.sleep(0.3)
        shown = subprocess.run([tmux, "capture-pane", "-t", session, "-p", "-e"], check=True,
                               capture_output=True, text=True).stdout
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    return re.sub(r"(\n\$ *(\x1b\[[0-9;]*m)*\s*)+$", "", shown.rstrip("\n"))


def screenshot(html_text: str, target: Path, tmp: Path, lines: int) -> None:
    chromium = shutil.which("chromium")
    page_file = tmp / f"{target.stem}.html"
    page_file.write_text(html_text, encoding="utf-8")
    height = 60 + int(lines * 20.3)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={tmp / 'profile'}", f"--screenshot={target}", f"--window-size={COLUMNS * 9 + 70},{height}",
                    page_file.as_uri()], check=True, capture_output=True, timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for tool in ("tmux", "chromium"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="consolidate-pictures-") as name:
        tmp = Path(name)
        ws = init_workspace(tmp / "ws")
        template = tmp / "template.xlsx"
        template.write_bytes(build_workbook(ws.catalogue, "MINJUST", "2024", "496-r"))
        fill_workbook(template, ws.inbox / "Звіт Мін'юст 2024.xlsx", MISTAKES)
        (ws.inbox / "скан листа.pdf").write_bytes(b"%PDF-1.4\n% a letter scanned by mistake\n")
        shots = {"cli-help": "consolidate --help", "intake-findings": "consolidate intake -w ws"}
        for stem, command in shots.items():   # the environment's consolidate is first on PATH
            text = in_terminal(command, tmp, f"pic-{stem}").replace(str(tmp) + "/", "")
            screenshot(page(stem, ansi_to_html(text)), args.out / f"{stem}.png", tmp, text.count("\n") + 1)
            print(args.out / f"{stem}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
