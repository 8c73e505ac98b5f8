"""No English where a clerk looks: every command's --help, typos and usage errors, a full demo's output.

The check is an allow-list: a Latin word may appear only as a code or acronym (MSP, UA-05, SMTP), an
option (--json), a path or file name (out/status.html), a command a clerk types (consolidate status),
a hash, or one of the few names in ALLOWED (file formats, products, consolidate.toml keys).
"""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from consolidate.clickua import MESSAGES, translate, ua_extra, ua_metavars
from consolidate.cli import main

ALLOWED = {
    "consolidate", "xlsx", "xlsm", "xls", "ods", "docx", "pdf", "csv", "json", "eml", "html", "txt", "toml",
    "sha256", "e-mail", "excel", "word", "libreoffice", "calc", "outlook", "windows", "utf-8", "smtp", "imap",
    "microsoft", "office", "zip", "pdf", "ole2", "xml",
    "starttls", "bom", "scrypt", "inbox", "archive", "quarantine", "out",
    # consolidate.toml sections and keys a clerk edits
    "operator", "name", "mail", "sender", "sender_name", "templates", "contact", "phone", "mailbox", "poll_minutes",
    "zip", "idle", "true", "false", "auth", "oauth2", "oauth",
    # the demo's throw-away mail server, when it cannot run (consolidate.mailsandbox.available)
    "dovecot", "dovecot-imapd", "openssl", "aiosmtpd",
}
# click's own metavars and words: never shown (they are upper-case, so the code rule would let them pass)
DENIED = {"OPTIONS", "COMMAND", "ARGS", "TEXT", "PATH", "FILE", "DIRECTORY", "FLOAT", "INTEGER", "BOOLEAN",
          "ITEM_ID", "EXECUTOR", "EXECUTORS", "PATHS", "VALUE", "FILENAME", "CHOICE"}
TOKEN = re.compile(r"[^\s«»\"'(),:;\[\]{}]+")


def _commands(cmd: click.Command, path: list[str]):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, path + [name])


COMMANDS = list(_commands(main, []))
COMMAND_NAMES = {p[-1] for p, _ in COMMANDS if p}
# values of choice options (--format all) are typed by the user as they are
COMMAND_NAMES |= {str(v) for _, c in COMMANDS for p in c.params if isinstance(p.type, click.Choice)
                  for v in p.type.choices}


def english_words(text: str) -> list[str]:
    """Latin words in ``text`` that are not allowed."""
    bad = []
    for token in TOKEN.findall(text):
        word = token.strip("…?!.").strip()
        if not re.search(r"[A-Za-z]", word) or re.search(r"[А-Яа-яІіЇїЄєҐґ]", word):
            continue       # no Latin letter; or a Ukrainian word with a Latin look-alike (a name Windows wrote in cp866)
        if any(w in DENIED for w in re.findall(r"[A-Z_]+", word)):
            bad.append(token)
            continue
        if word.startswith("-") or any(c in word for c in "/\\.<>|=@+"):
            continue       # an option, a path, a file name, an address
        if re.fullmatch(r"[0-9a-f]{6,}", word) or re.fullmatch(r"[A-ZА-ЯІЇЄҐ0-9][A-ZА-ЯІЇЄҐ0-9_\-–…]*", word):
            continue       # a hash; a code or an acronym
        if word.lower() in ALLOWED or word in COMMAND_NAMES:
            continue
        bad.append(token)
    return bad


def _run(args, **kwargs):
    return CliRunner().invoke(main, args, prog_name="consolidate", **kwargs)


def test_the_checker_finds_english():
    assert english_words("Usage: consolidate [OPTIONS] COMMAND") == ["Usage", "[OPTIONS]"[1:-1], "COMMAND"]
    assert english_words("Error: No such command 'statu'.") == ["Error", "No", "such", "command", "statu"]
    assert english_words("Прийнято: MSP, UA-05 (Звіт 2024 — МОН (MON).xlsx) sha256 0d40e869bda3 --json") == []


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "consolidate")
def test_help_is_ukrainian(path):
    result = _run(path + ["--help"])
    assert result.exit_code == 0, result.output
    assert english_words(result.output) == [], result.output
    assert "Використання: consolidate" in result.output and "Показати цю довідку і вийти." in result.output


def test_every_command_has_a_short_summary_not_cut():
    for path, cmd in COMMANDS:
        if not path:
            continue
        assert cmd.short_help, f"{' '.join(path)}: no short_help"
        assert len(cmd.short_help) <= 55 and "..." not in cmd.short_help, path
    out = _run(["--help"]).output
    assert "..." not in out.split("Команди:")[1]
    for name in main.commands:
        assert re.search(rf"^  {re.escape(name)}\s+\S", out, re.M), name


@pytest.mark.parametrize("args, expected", [
    (["statu"], "Помилка: Немає команди «statu». Можливо, ви мали на увазі «status»?"),
    (["review", "accep"], "Немає команди «accep». Можливо, ви мали на увазі «accept»?"),
    (["catalogue", "chek"], "Немає команди «chek». Можливо, ви мали на увазі «check»?"),
    (["status", "--bogus"], "Помилка: Немає параметра «--bogus»."),
    (["status", "--jsn"], "Немає параметра «--jsn». Можливо, одне з: «--csv», «--json»?"),
    (["status", "--jsoon"], "Немає параметра «--jsoon». Можливо, ви мали на увазі «--json»?"),
    (["explain"], "Помилка: Бракує аргументу «ІДЕНТИФІКАТОР»."),
    (["review", "return", "MON"], "Бракує обов’язкового параметра «--comment» / «-c»."),
    (["report", "--format", "odt"], "Неправильне значення параметра «--format»: «odt» — не з переліку: «xlsx», «docx», «pdf», «all»."),
    (["intake", "/no/such/file.xlsx"], "Шлях «/no/such/file.xlsx» не існує."),
    (["explain", "a", "b", "c"], "Помилка: Зайві аргументи: b c"),
    (["status", "--period"], "Параметр «--period» потребує значення."),
    (["adjust", "T1", "x"], "«x» — не число."),
])
def test_usage_errors_are_ukrainian(args, expected):
    result = _run(args)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert "Довідка: consolidate" in result.output and "Використання: consolidate" in result.output
    shown = result.output
    for typed in args:      # what the user typed is quoted back as it was
        shown = re.sub(rf"(?<![\w-]){re.escape(typed)}(?![\w-])", "", shown)
    assert english_words(shown) == [], result.output


def test_version_and_group_without_command():
    assert re.fullmatch(r"consolidate, версія \S+", _run(["--version"]).output.strip())
    result = _run(["review"])
    assert english_words(result.output) == [] and "Команди:" in result.output


def test_help_extras_and_metavars():
    assert ua_extra("Робоча тека.  [default: .]") == "Робоча тека.  [типово: .]"
    assert ua_extra("X  [default: False; required]") == "X  [типово: ні; обов’язково]"
    assert ua_extra("Y  [env var: CONSOLIDATE_X; default: 3]") == "Y  [змінна середовища: CONSOLIDATE_X; типово: 3]"
    assert ua_metavars("-w, --workspace DIRECTORY") == "-w, --workspace ТЕКА"
    assert ua_metavars("[OPTIONS] ITEM_ID [VALUE]") == "[ПАРАМЕТРИ] ІДЕНТИФІКАТОР [ЗНАЧЕННЯ]"


def test_every_click_message_pattern_translates_to_ukrainian():
    samples = ["'x' is not one of 'a', 'b'.", "'x' is not 'a'.", "'x' is not a valid float.",
               "'x' is not a valid integer.", "'x' is not a valid boolean.", "'x' is not a valid UUID.",
               "'x' does not match the formats '%Y', '%m'.", "5 is not in the range 0<=x<=3.",
               "File 'a' does not exist.", "Directory 'a' is a file.", "File 'a' is a directory.",
               "File 'a' is not readable.", "File 'a' is not writable.", "File 'a' is not executable.",
               "Option '--x' requires an argument.", "Option '--x' requires 2 arguments.",
               "Option '--x' does not take a value.", "Argument 'x' takes 2 values.",
               "Got unexpected extra arguments (a b)", "Missing command.", "Value must be an iterable.",
               "Takes 2 values but 1 was given.", "unknown error"]
    assert len(samples) == len(MESSAGES)
    for s in samples:
        out = translate(s)
        assert out != s and not re.search(r"\b(is|not|does|Option|File|Directory|values?|given|error)\b", out), (s, out)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("uademo") / "ws"
    result = _run(["demo", "-w", str(path)])
    assert result.exit_code == 0, result.output
    return path, result.output


def test_a_full_demo_and_the_daily_commands_print_no_english(demo_ws):
    path, demo_output = demo_ws
    assert english_words(demo_output) == [], demo_output
    ws = ["-w", str(path)]
    for args in (["status"], ["review", "list"], ["reconcile"], ["history", "MON"], ["history", "UA-32"],
                 ["verify"], ["explain", "T2.6.1"], ["explain", "F.T2.2.SG.MINJUST"], ["catalogue", "check"],
                 ["intake"], ["remind"], ["findings", "UA-32"], ["findings", "MKIP"], ["quarantine", "list"],
                 ["catalogue", "show"], ["report"]):
        result = _run(args + ws)
        assert result.exit_code in (0, 1), (args, result.output)
        assert english_words(result.output) == [], (args, result.output)


def test_damaged_files_are_explained_in_ukrainian(workspace, tmp_path):
    """Library errors never reach the clerk: intake output, quarantine notes and the list are Ukrainian."""
    import io
    import zipfile

    from consolidate.template import build_workbook

    good = build_workbook(workspace.catalogue, "MINJUST", "2024", "x")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types>not really</Types>")
        zf.writestr("xl/workbook.xml", "<<<")
    files = {"обрізаний.xlsx": good[:3000], "сміття.xlsx": bytes(range(256)) * 20, "архів.xlsx": zipped.getvalue(),
             "старий.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "таблиця.ods": b"PK\x03\x04" + b"\1" * 90,
             "лист.pdf": b"%PDF-1.4\n"}
    for name, data in files.items():
        (workspace.inbox / name).write_bytes(data)
    w = ["-w", str(workspace.root)]
    res = _run(["intake", *w])
    assert res.exit_code == 1, res.output
    assert english_words(res.output) == [], res.output
    notes = list(workspace.quarantine.glob("*.txt"))
    assert len(notes) == len(files)
    for note in notes:
        text = note.read_text(encoding="utf-8")
        assert english_words(text) == [], text
    listed = _run(["quarantine", "list", *w])
    assert english_words(listed.output) == [], listed.output


def test_every_finding_and_conflict_code_has_a_ukrainian_name():
    """Codes are shown as words («від’ємне значення», not «negative»): each code raised in the code has its label."""
    from pathlib import Path

    from consolidate.model import CODE_LABELS

    codes = set()
    for path in (Path(__file__).resolve().parent.parent / "consolidate").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'reject\(\s*"([a-z][a-z0-9-]+)"', text))
        codes |= set(re.findall(r'\.add\(\s*(?:ERROR|WARNING)\s*,\s*"([a-z][a-z0-9-]+)"', text))
        codes |= set(re.findall(r'Finding\([^)]*?(?:ERROR|WARNING),\s*"([a-z][a-z0-9-]+)"', text, re.S))
        codes |= set(re.findall(r'Conflict\(\s*"([a-z][a-z0-9-]+)"', text))
    assert len(codes) > 40
    assert sorted(codes - set(CODE_LABELS)) == []
