"""Command line: a thin click layer over the library.  Messages are Ukrainian."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from pathlib import Path

import click

from . import __version__
from .clickua import VERSION_HELP, VERSION_MESSAGE, UaGroup
from .errors import CatalogueError, ConsolidateError
from .model import ERROR
from .numbers import format_amount
from .vocabulary import FileStatus, ReportingState, Severity, SlotState
from .wording import code_label, grouped_findings, plural, rule_label, ua_date
from .workflows.common import executor_code as _executor_code
from .workflows.common import operator_name as _operator
from .workflows.common import resolve_period
from .workspace import Workspace, open_workspace

workspace_option = click.option(
    "--workspace",
    "-w",
    "workspace_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Робоча тека (templates/, inbox/, out/ …).",
)


class UserError(click.ClickException):
    """A library error (``ConsolidateError``) at the edge: its Ukrainian message and its exit code, no traceback."""

    def __init__(self, error: ConsolidateError):
        super().__init__(str(error))
        self.error = error
        self.exit_code = int(error.exit_code)  # type: ignore[misc]  # click declares it a ClassVar; per error here

    def show(self, file=None) -> None:
        if isinstance(self.error, CatalogueError):
            click.secho("Каталог програми містить помилки:", fg="red", err=True)
            for p in self.error.problems:
                click.echo(f"  • {p}", err=True)
        else:
            click.secho(f"Помилка: {self.message}", fg="red", err=True)


class Group(UaGroup):
    """The command tree; every ``ConsolidateError`` raised under it leaves as a ``UserError`` (as sqlite-utils)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConsolidateError as exc:
            raise UserError(exc) from exc


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def finish(code: int) -> None:
    """End the command with an exit code of the contract (``workflows.ExitCode``)."""
    click.get_current_context().exit(int(code))


def with_workspace(fn):
    """Add --workspace and open it (a missing or broken workspace is a ``ConsolidateError``, exit code 2)."""

    @workspace_option
    @functools.wraps(fn)
    def wrapper(workspace_dir, *args, **kwargs):
        return fn(open_workspace(workspace_dir), *args, **kwargs)

    return wrapper


def refreshes_status(fn):
    """After a command that changes the ledger (even one that stops half-way): rewrite out/status.html, .xlsx, .csv.

    Under ``with_workspace`` (the command's first argument is the workspace).  The page is a view: a failure
    to write it is reported, never hides the command's own result.
    """

    @functools.wraps(fn)
    def wrapper(ws, *args, **kwargs):
        try:
            return fn(ws, *args, **kwargs)
        finally:
            if not kwargs.get("dry_run"):
                from .statusfiles import after_change

                problem = after_change(ws, kwargs.get("period"))
                if problem:
                    click.secho(f"Увага: {problem}", fg="yellow", err=True)

    return wrapper


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="consolidate", message=VERSION_MESSAGE, help=VERSION_HELP)
def main():
    """consolidate — звітування за державною, регіональною чи місцевою цільовою програмою.

    Шаблони для виконавців → прийом звітів → зведення → національний звіт.
    """


@main.command("init", short_help="Створити робочу теку з каталогом програми.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Перезаписати каталог у наявній робочій теці.")
@click.option(
    "--from",
    "book",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Книга каталогу (.xlsx, .ods) іншої програми; без неї — вбудований каталог (демонстраційна програма).",
)
def init_cmd(directory: Path, force: bool, book: Path | None):
    """Створити нову робочу теку: з книги каталогу будь-якої програми (--from) або з вбудованого каталогу."""
    if book is not None:
        from .workflows.catalogue import init_from_book

        r = init_from_book(directory, book, force=force)
        if r.problems:
            click.secho(
                f"Робочу теку не створено ({plural(len(r.problems), 'помилка', 'помилки', 'помилок')} "
                f"у книзі каталогу):",
                fg="red",
                err=True,
            )
            for p in r.problems:
                click.echo(f"  • {p}", err=True)
            finish(r.exit_code)
        ws = open_workspace(r.root)
    else:
        from .workflows.setup import init

        ws = init(directory, force=force).workspace
    cat = ws.catalogue
    click.echo(f"Створено робочу теку {ws.root}")
    click.echo(
        f"  каталог: {plural(len(cat.tasks), 'завдання')}, {plural(len(cat.measures), 'захід')}, "
        f"{plural(len(cat.indicators), 'показник')}, {plural(len(cat.funding), 'рядок фінансування')}, "
        f"{plural(len(cat.registry), 'виконавець')}"
    )
    click.echo(f"  кладіть повернені звіти в {ws.inbox}")


@main.group("catalogue", short_help="Каталог програми: перевірка, книга Excel, новий рік.")
def catalogue_group():
    """Каталог програми: завдання, заходи, показники, фінансування, виконавці."""


@catalogue_group.command("check", short_help="Перевірити каталог і реєстр виконавців.")
@click.option("--period", "-p", default=None, metavar="РІК", help="Рік, каталог якого перевірити (типово — останній).")
@with_workspace
def catalogue_check(ws: Workspace, period: str | None = None):
    """Перевірити каталог і реєстр виконавців, показати кількості."""
    from .workflows.catalogue import check_catalogue

    r = check_catalogue(ws, period)
    cat = r.catalogue
    click.echo(f"Каталог {r.folder} коректний.")
    if len(r.years) > 1:
        click.echo(f"  звітні роки робочої теки: {', '.join(str(y) for y in r.years)}")
    click.echo(f"  програма: {cat.programme.title} ({cat.programme.act})")
    click.echo(f"  звітний рік: {cat.programme.report_year}, строк подання: {ua_date(cat.programme.deadline)}")
    click.echo(f"  завдань: {len(cat.tasks)}")
    click.echo(f"  заходів: {len(cat.measures)}")
    click.echo(f"  показників: {len(cat.indicators)}")
    click.echo(f"  рядків фінансування: {len(cat.funding)}")
    click.echo(f"  виконавців: {len(cat.registry)} (звітують: {len(cat.expected_executors())})")
    click.echo(f"  версія шаблонів: {cat.template_version}")


@catalogue_group.command("show", short_help="Показати завдання, заходи, показники.")
@click.option("--json", "as_json", is_flag=True, help="Вивести каталог як JSON.")
@click.option("--period", "-p", default=None, metavar="РІК", help="Рік, каталог якого показати (типово — останній).")
@with_workspace
def catalogue_show(ws: Workspace, as_json: bool, period: str | None = None):
    """Показати каталог (завдання → заходи → показники і фінансування)."""
    from .workflows.catalogue import check_catalogue

    r = check_catalogue(ws, period)
    cat = r.catalogue
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        return
    for task in cat.tasks:
        click.secho(f"{task.id}. {task.name}", bold=True)
        for m in cat.measures_of_task(task.id):
            execs = ", ".join(cat.executor_label(c) for c in m.executors)
            click.echo(f"  {m.id}  {m.number}) {m.text[:100]}{'…' if len(m.text) > 100 else ''}")
            click.echo(f"        виконавці: {execs}")
            for i in cat.indicators_of(m.id):
                planned = "" if i.planned is None else f"план {i.planned:g}"
                click.echo(f"        [{i.id}] {i.name[:80]} — {planned}, правило: {rule_label(i.rule)}")
            for f in cat.funding_of(m.id):
                click.echo(
                    f"        [{f.id}] {cat.executor_label(f.holder)}, {f.source_label}: "
                    f"програма {f.programme_amount if f.programme_amount is not None else '-'}, "
                    f"план {f.planned if f.planned is not None else '-'} тис. грн"
                )


@catalogue_group.command("export", short_help="Записати каталог у робочу книгу Excel.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--period", "-p", default=None, help="Рік, каталог якого експортувати (типово — останній).")
@with_workspace
def catalogue_export(ws: Workspace, file: Path, period: str | None):
    """Записати каталог у книгу Excel (.xlsx) для редагування."""
    from .workflows.catalogue import export_catalogue

    r = export_catalogue(ws, file, period)
    click.echo(f"Каталог {r.year} року записано в {r.path} (версія {r.version}).")
    click.echo("  Відредагуйте книгу в Excel чи LibreOffice і завантажте: consolidate catalogue import ФАЙЛ")


@catalogue_group.command("import", short_help="Прочитати каталог із робочої книги Excel.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Лише перевірити книгу, нічого не змінюючи.")
@click.option("--json", "as_json", is_flag=True, help="Вивести результат і всі помилки як JSON.")
@with_workspace
def catalogue_import(ws: Workspace, file: Path, dry_run: bool, as_json: bool):
    """Перевірити книгу каталогу і, якщо помилок немає, зробити її каталогом її звітного року."""
    from .wording import plural
    from .workflows.catalogue import import_catalogue

    r = import_catalogue(ws, file, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        finish(r.exit_code)
    if r.problems:
        click.secho(
            f"Каталог не імпортовано ({plural(len(r.problems), 'помилка', 'помилки', 'помилок')}); нічого не змінено:",
            fg="red",
            err=True,
        )
        for p in r.problems:
            click.echo(f"  • {p}", err=True)
        finish(r.exit_code)
    c = r.counts
    what = (
        f"{plural(c['tasks'], 'завдання', 'завдання', 'завдань')}, {plural(c['measures'], 'захід', 'заходи', 'заходів')}, "
        f"{plural(c['indicators'], 'показник', 'показники', 'показників')}, "
        f"{plural(c['funding'], 'рядок', 'рядки', 'рядків')} фінансування, "
        f"{plural(c['executors'], 'виконавець', 'виконавці', 'виконавців')}"
    )
    if dry_run:
        click.echo(f"Книга коректна ({what}); нічого не змінено (--dry-run).")
    elif r.changed:
        click.echo(f"Каталог {r.year} року замінено: {what}; версія {r.version}.")
    else:
        click.echo(f"Книга збігається з чинним каталогом {r.year} року; нічого не змінено.")


@catalogue_group.command("new-year", short_help="Почати новий звітний рік.")
@click.argument("year", type=int)
@with_workspace
def catalogue_new_year(ws: Workspace, year: int):
    """Почати новий звітний рік з каталогу останнього року (ті самі ID і виконавці, плани порожні)."""
    from .workflows.catalogue import new_year

    r = new_year(ws, year)
    click.echo(f"Розпочато {r.year} звітний рік з каталогу {r.from_year} року: {r.folder} (версія {r.version}).")
    click.echo("  Завдання, заходи, показники, ID і виконавці ті самі; строки перенесено; плани порожні.")
    click.echo(
        f"  Заповніть плани: consolidate catalogue export план-{r.year}.xlsx -p {r.year}, "
        f"потім consolidate catalogue import план-{r.year}.xlsx"
    )
    click.echo(f"  Звіти {r.from_year} року й надалі: --period {r.from_year}.")


@main.command("quarters", short_help="Звірити річні значення з квартальними.")
@click.option("--period", "-p", default=None, metavar="РІК", help="Звітний рік (типово — останній).")
@click.option("--json", "as_json", is_flag=True, help="Вивести результат як JSON.")
@with_workspace
def quarters_cmd(ws: Workspace, period: str | None, as_json: bool):
    """Річне значення кожного показника кожного виконавця проти квартальних: наростаючим підсумком — IV квартал
    дорівнює року; окремо за квартали — рік дорівнює сумі кварталів."""
    from .workflows.catalogue import quarters_check

    r = quarters_check(ws, period)
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        finish(r.exit_code)
    click.echo(
        f"Звірка кварталів {r.year} року: перевірено {plural(r.checked, 'пару', 'пари', 'пар')} "
        f"«виконавець — показник»."
    )
    for m in r.mismatches:
        click.echo(f"  • {m.message}")
    if r.incomplete:
        click.echo(f"  Без повного набору кварталів (не звірено): {len(r.incomplete)}.")
    if not r.mismatches:
        click.echo("  Розбіжностей немає.")
    finish(r.exit_code)


def _period_option(fn):
    return click.option(
        "--period",
        "-p",
        default=None,
        metavar="ПЕРІОД",
        help="Звітний період: РРРР або РРРР-Q1…Q4 (типово — звітний рік каталогу).",
    )(fn)


@main.command("templates", short_help="Згенерувати шаблони звітів для виконавців.")
@click.option("--executor", "-e", "executors", multiple=True, help="Код виконавця (можна кілька разів); типово — усі.")
@_period_option
@click.option(
    "--timestamp",
    default=None,
    metavar="ISO",
    help="Позначка часу створення у файлах (ISO: РРРР-ММ-ДДТГГ:ХХ:СС); типово — стала, "
    "тож ті самі дані дають побайтово однакові файли.",
)
@with_workspace
def templates_cmd(ws: Workspace, executors: tuple[str, ...], period: str | None, timestamp: str | None):
    """Згенерувати шаблони звітів для виконавців у out/templates/<період>/."""
    from .workflows.setup import templates

    r = templates(ws, period, executors, timestamp)
    for f in r.files:
        click.echo(f"  {f.path.name}")
    click.echo(f"Згенеровано шаблонів: {len(r.files)} у {r.folder} (версія {r.version})")
    click.echo(f"Маніфест: {r.manifest}")


@main.command("reconcile", short_help="Звести затверджені звіти, показати зауваження.")
@_period_option
@click.option("--json", "as_json", is_flag=True, help="Вивести зведення і всі зауваження звірки як JSON.")
@click.option("--include-unapproved", is_flag=True, help="Узяти й незатверджені звіти (останні отримані).")
@with_workspace
def reconcile_cmd(ws: Workspace, period: str | None, as_json: bool, include_unapproved: bool):
    """Звести затверджені звіти виконавців: фінансування, показники за правилами, зауваження.

    Код виходу 1, якщо серед зауважень звірки є помилки (їх треба усунути до підписання звіту)."""
    from .workflows.reconcile import reconcile

    r = reconcile(ws, period, include_unapproved)
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2, default=str))
        finish(r.exit_code)
        return
    rec, cat = r.rec, ws.catalogue
    total = rec.subtotal(None, "total")
    click.echo(f"Зведення за {r.period}: звіти від {len(rec.reported)} з {len(rec.expected)} виконавців.")
    if total is not None:
        click.echo(
            f"  Разом по програмі, тис. грн: програмою {format_amount(total.programme_amount)}, "
            f"передбачено {format_amount(total.planned)}, профінансовано {format_amount(total.financed)}, "
            f"касові {format_amount(total.cash)}" + (" (дані неповні)" if total.incomplete else "")
        )
    click.echo(f"  Показників із повними даними: {r.complete_indicators()} з {len(rec.indicators)}")
    if rec.missing_executors:
        click.echo("  Не подали: " + ", ".join(cat.executor_label(c) for c in rec.missing_executors))
    by_kind = r.by_kind()
    click.echo(
        f"  Зауважень звірки: {len(rec.conflicts)}"
        + (" (" + "; ".join(f"{code_label(k)}: {v}" for k, v in by_kind.items()) + ")" if by_kind else "")
    )
    for c in rec.conflicts:
        if c.severity == ERROR:
            click.echo(f"    [{Severity.of(c.severity)}] {c.item}: {c.message}")
    finish(r.exit_code)


@main.command("explain", short_help="Звідки взялося національне значення.")
@click.argument("item_id")
@_period_option
@click.option("--include-unapproved", is_flag=True, help="Узяти й незатверджені звіти (останні отримані).")
@with_workspace
def explain_cmd(ws: Workspace, item_id: str, period: str | None, include_unapproved: bool):
    """Показати походження національного значення: ID показника (T2.6.1), рядка фінансування (F.…) або заходу."""
    from .workflows.reconcile import explain

    r = explain(ws, item_id, period, include_unapproved)
    for line in r.lines:
        click.echo(line)
    if r.adjustments:
        click.echo("  журнал коригувань:")
        for a in r.adjustments:
            state = f"скасовано {a.undone_at} ({a.undone_by})" if a.undone_at else "чинне"
            click.echo(f"    {a.made_at} {a.operator}: {a.value:g} — {a.reason} [{state}]")


@main.command("report", short_help="Сформувати національний звіт (xlsx, docx, pdf).")
@_period_option
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Файл звіту (типово out/report-<період>.<формат>).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "docx", "pdf", "all"]),
    default="xlsx",
    show_default=True,
    help="Формат звіту.",
)
@click.option(
    "--include-unapproved",
    is_flag=True,
    help="Чернетка: узяти й незатверджені (не розглянуті) звіти; кожен аркуш позначено як чернетку.",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="ДАТА",
    help="Дата, станом на яку складено звіт (стан звітування, позначка часу у файлах; ДД.ММ.РРРР або "
    "РРРР-ММ-ДД; типово — сьогодні). Ті самі журнал і дата дають побайтово той самий звіт.",
)
@click.option(
    "--appendix/--no-appendix",
    "appendix",
    default=None,
    help="Додаток «Стан звітування» у docx/pdf (типово — лише поки звіт неповний або це чернетка).",
)
@with_workspace
@refreshes_status
def report_cmd(
    ws: Workspace,
    period: str | None,
    out_file: Path | None,
    fmt: str,
    include_unapproved: bool,
    as_of: str | None = None,
    appendix: bool | None = None,
):
    """Сформувати національний звіт (розділи I–III, звірка, стан звітування, джерела)."""
    from .workflows.report import formats_of, report

    r = report(
        ws,
        period,
        formats_of(fmt),
        include_unapproved=include_unapproved,
        out_file=out_file,
        as_of=as_of,
        appendix=appendix,
    )
    for target in r.files:
        click.echo(f"Звіт записано: {target}")
    if r.missing_executors:
        click.echo(
            "Увага: до звіту не увійшли — "
            + ", ".join(ws.catalogue.executor_label(c) for c in r.missing_executors)
            + "; відповідні показники позначено як неповні."
        )
    if r.unapproved > 0 and not include_unapproved:
        click.echo(
            f"Звітів, отриманих, але ще не затверджених: {r.unapproved} — див. «consolidate review list»; "
            f"чернетка з ними: --include-unapproved."
        )


# ---------------------------------------------------------------------------------
# reporting status, templates by e-mail, reminders
# ---------------------------------------------------------------------------------

STATUS_EXIT_HELP = """\b
Коди виходу:
  0 — усі звіти подано без помилок (зокрема з попередженнями);
  1 — хтось не подав звіт, прострочив його або подав з помилками;
  2 — помилка (робоча тека, каталог, період, дата, журнал)."""
STATE_STYLES = {
    ReportingState.OVERDUE: "red",
    ReportingState.NOT_SUBMITTED: "yellow",
    ReportingState.ERRORS: "magenta",
    ReportingState.WARNINGS: "cyan",
    ReportingState.CLEAN: "green",
}


@main.command("status", epilog=STATUS_EXIT_HELP, short_help="Хто звітував; сторінка out/status.html.")
@_period_option
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="ДАТА",
    help="Дата, станом на яку оцінювати стан (РРРР-ММ-ДД або ДД.ММ.РРРР; типово — сьогодні): "
    "враховується лише те, що надійшло до неї включно; після строку подання «не подано» стає "
    "«прострочено».",
)
@click.option("--json", "fmt", flag_value="json", help="Вивести стан як JSON.")
@click.option("--csv", "fmt", flag_value="csv", help="Вивести стан як CSV для Excel (UTF-8 з BOM, роздільник «;»).")
@with_workspace
def status_cmd(ws: Workspace, period: str | None, as_of: str | None, fmt: str | None):
    """Хто звітував: стан кожного виконавця, спершу ті, кому треба нагадати; також out/status.html.

    Сторінку out/status.html (і таблиці out/status.xlsx, out/status.csv для Excel) завжди оновлено
    станом на сьогодні; --as-of змінює лише те, що показано тут.
    """
    from .workflows.status import status

    r = status(ws, period, as_of)
    rows, summary, files = r.rows, r.summary, r.files
    assert files is not None  # status() writes them unless told not to
    if fmt == "json":
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(r.csv(), nl=False)
    else:
        from .catalogue import period_label
        from .status import format_time

        click.echo(
            f"Стан звітування за {period_label(r.period)} станом на {r.as_of:%d.%m.%Y} "
            f"(строк подання {summary.deadline:%d.%m.%Y})"
        )
        click.secho(_capital(summary.text()), bold=True)
        click.echo("")
        width = max(len(s.label) for s in STATE_STYLES)
        click.echo(
            f"{'Стан':<{width}}  {'Код':<12} {'Виконавець':<34} {'Отримано':<16} Звітів Пом. Поп. Відх. "
            f"{'Нагадування':<16} Примітка"
        )
        for row in rows:
            line = (
                f"  {row.executor:<12} {row.name[:34]:<34} {format_time(row.received):<16} {row.returns:>6} "
                f"{row.errors:>4} {row.warnings:>4} {row.rejected:>5} {format_time(row.last_reminder):<16} {row.note}"
            )
            click.echo(click.style(f"{row.state:<{width}}", fg=STATE_STYLES.get(row.state)) + line.rstrip())
    click.echo(
        f"Сторінку стану записано: {files.html} (таблиці: {files.xlsx.name}, {files.csv.name})", err=fmt is not None
    )
    finish(r.exit_code)


def _smtp_options(fn):
    """The SMTP options of a command that sends letters, given to it as one ``smtp`` (None: .eml drafts)."""
    from .mail import PASSWORD_ENV

    options = [
        click.option(
            "--smtp",
            "smtp_server",
            default=None,
            metavar="ХОСТ:ПОРТ",
            help="Надіслати через поштовий сервер SMTP (типово листи лише записуються як .eml у "
            "out/mail/<період>/, щоб надіслати їх зі своєї поштової програми).",
        ),
        click.option("--starttls", is_flag=True, help="Шифрувати з’єднання (STARTTLS)."),
        click.option(
            "--smtp-user",
            default="",
            metavar="ІМ’Я",
            help="Ім’я для входу на поштовий сервер; пароль — у змінній середовища (див. --password-env).",
        ),
        click.option(
            "--password-env",
            default=PASSWORD_ENV,
            show_default=True,
            metavar="ЗМІННА",
            help="Змінна середовища з паролем до поштового сервера (пароль параметром не передається).",
        ),
        click.option(
            "--cafile",
            default="",
            metavar="ФАЙЛ",
            help="Сертифікати (PEM) для перевірки сервера, напр. відомчого центру сертифікації.",
        ),
    ]

    @functools.wraps(fn)
    def wrapper(*args, smtp_server, starttls, smtp_user, password_env, cafile, **kwargs):
        return fn(*args, smtp=_smtp(smtp_server, starttls, smtp_user, password_env, cafile), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _smtp(smtp_server, starttls, smtp_user, password_env, cafile):
    from .mail import PASSWORD_ENV, smtp_settings

    if not smtp_server:
        if starttls or smtp_user or cafile or password_env != PASSWORD_ENV:
            raise ConsolidateError(
                "Параметри --starttls, --smtp-user, --password-env і --cafile діють лише разом із --smtp ХОСТ:ПОРТ"
            )
        return None
    settings = smtp_settings(smtp_server, starttls=starttls, user=smtp_user, password_env=password_env, cafile=cafile)
    if settings.user and not settings.starttls:
        click.secho(
            "Увага: пароль буде передано без шифрування; для сервера в мережі додайте --starttls.",
            fg="yellow",
            err=True,
        )
    return settings


def _show_letters(r) -> None:
    """Render a ``workflows.letters.LettersDelivered``."""
    if r.unfit:
        click.secho(
            "Увага: листи ще не придатні до надсилання —\n" + "\n".join(f"  • {p};" for p in r.unfit),
            fg="yellow",
            err=True,
        )
    for rec in r.records:
        click.echo(f"  {rec.executor} → {rec.recipients}" + (f": {rec.location}" if rec.via == "eml" else ""))
    if r.smtp_address is None:
        click.echo(
            f"Підготовлено листів ({r.what}): {len(r.records)} у {r.mail_dir}. Відкрийте .eml у поштовій "
            f"програмі і надішліть; кожен лист записано в журнал."
        )
    else:
        click.echo(
            f"Надіслано листів ({r.what}): {len(r.records)} через {r.smtp_address}; кожен лист записано в журнал."
        )


@main.command("send-templates", short_help="Надіслати шаблони виконавцям.")
@_period_option
@click.option("--executor", "-e", "executors", multiple=True, help="Код виконавця (можна кілька разів); типово — усі.")
@_smtp_options
@click.option("--resend", is_flag=True, help="Надіслати повторно тим, кому шаблон уже надсилали.")
@click.option("--force", is_flag=True, help="Надіслати, навіть якщо підписант, відправник чи адреси — ще заглушки.")
@with_workspace
@refreshes_status
def send_templates_cmd(
    ws: Workspace,
    period: str | None,
    executors: tuple[str, ...],
    smtp,
    resend: bool,
    force: bool = False,
):
    """Надіслати виконавцям шаблони звітів із супровідним листом (.eml у out/mail/<період>/ або через SMTP)."""
    from .workflows.letters import send_templates

    _show_letters(send_templates(ws, period, executors, smtp=smtp, resend=resend, force=force))


@main.command("remind", short_help="Нагадати тим, хто не подав або подав з помилками.")
@_period_option
@click.option(
    "--executor",
    "-e",
    "executors",
    multiple=True,
    help="Нагадати лише цим виконавцям (код; можна кілька разів); типово — усім, хто не подав звіт "
    "або подав з помилками.",
)
@_smtp_options
@click.option("--resend", is_flag=True, help="Надіслати, навіть якщо сьогодні нагадування вже надсилали.")
@click.option("--force", is_flag=True, help="Надіслати, навіть якщо підписант, відправник чи адреси — ще заглушки.")
@click.option(
    "--dry-run", is_flag=True, help="Лише показати листи, які було б надіслано: нічого не записано й не надіслано."
)
@with_workspace
@refreshes_status
def remind_cmd(
    ws: Workspace,
    period: str | None,
    executors: tuple[str, ...],
    smtp,
    resend: bool,
    force: bool = False,
    dry_run: bool = False,
):
    """Нагадати тим, хто не подав звіт або подав з помилками (у листі — перелік зауважень і шаблон)."""
    from .workflows.letters import remind, reminder_preview

    if dry_run:
        preview = reminder_preview(ws, period, executors)
        for code, state in preview.not_needed:
            click.echo(f"  {code}: {state} — нагадування не потрібне")
        for letter in preview.letters:
            click.secho(f"— {letter.executor} → {', '.join(letter.recipients) or '(немає адреси)'}", bold=True)
            click.echo(f"Тема: {letter.subject}")
            if letter.attachment_name:
                click.echo(f"Вкладення: {letter.attachment_name}")
            click.echo(letter.body)
        click.echo(
            f"Було б надіслано нагадувань: {len(preview.letters)} (перегляд: нічого не записано й не надіслано)."
        )
        return
    r = remind(ws, period, executors, smtp=smtp, resend=resend, force=force)
    for code, state in r.not_needed:
        click.echo(f"  {code}: {state} — нагадування не потрібне")
    if not r.records:
        click.echo("Нагадувати нікому: усі " + ("обрані " if executors else "") + "звіти подано без помилок.")
        return
    _show_letters(r)


INTAKE_EXIT_HELP = """\b
Коди завершення:
  0 — усі файли отримано без помилок (зокрема з попередженнями) або їх уже було отримано;
  1 — хоч один файл отримано з помилками, відхилено (карантин) або не прочитано з диска;
  2 — помилка (робоча тека, каталог, журнал, шлях, уже триває інший прийом)."""
INTAKE_PROGRESS_FROM = 10  # files: a progress bar from this many on (in a terminal)
INTAKE_SHOWN_PER_KIND = 3  # findings of each kind listed under a file; the rest are counted


def _intake_lines(ws: Workspace, o) -> list[tuple[str, str | None]]:
    """Console lines (text, colour) about one received file."""
    from .model import ERROR, WARNING

    ALREADY, NOT_READ, QUARANTINED = FileStatus.ALREADY, FileStatus.NOT_READ, FileStatus.QUARANTINED
    colours = {
        FileStatus.CLEAN: "green",
        FileStatus.WARNINGS: "cyan",
        FileStatus.ERRORS: "magenta",
        QUARANTINED: "red",
        ALREADY: None,
        NOT_READ: "red",
    }
    who = ", ".join(x for x in (o.executor, o.period) if x)
    text = f"  {o.label}: {o.name}" + (f" → {who}" if who else "")
    errors = [f for f in o.findings if f.severity == ERROR]
    warnings = [f for f in o.findings if f.severity == WARNING]
    counts = [
        c
        for c in (
            plural(len(errors), "помилка") if errors else "",
            plural(len(warnings), "попередження") if warnings else "",
        )
        if c
    ]
    if counts:
        text += f" ({', '.join(counts)})"
    if o.state == ALREADY and o.record is not None:
        text += f" (отримано {o.record.received_at})"
    if o.state == NOT_READ:
        text += f" ({o.note})"
    if o.superseded:
        text += f"; замінює звіт №{o.superseded}"
    lines = [(text, colours[o.state])]
    if o.state != ALREADY and o.findings:
        lines += [(line, None) for line in grouped_findings(o.findings, INTAKE_SHOWN_PER_KIND)]
        kinds = Counter((f.severity, f.code) for f in o.findings)
        if max(kinds.values()) > INTAKE_SHOWN_PER_KIND:
            hint = (
                f"consolidate findings {o.executor}"
                if o.executor and o.state != QUARANTINED
                else "consolidate quarantine list"
            )
            lines.append((f"      (усі зауваження: {hint})", None))
    if o.state == QUARANTINED and o.record is not None:
        note = ws.quarantine / f"{o.sha256}.{o.record.format}.txt"
        lines.append((f"      причини: {note}", None))
    return lines


def _intake_preview(ws: Workspace, paths, as_json: bool, period: str | None) -> int:
    """--dry-run: what intake would do; exit code as the real intake's would be."""
    from .workflows.intake import intake_preview

    r = intake_preview(ws, paths, period=period)
    if as_json:
        click.echo(json.dumps(r.to_dict()["files"], ensure_ascii=False, indent=2))
    else:
        click.echo(f"Пробний прийом (нічого не змінено): файлів {len(r.items)}")
        for p in r.items:
            who = ws.catalogue.executor_label(p.executor) if p.executor else "—"
            extra = f"; замінить чинний звіт №{p.supersedes}" if p.supersedes else ""
            errors = sum(1 for f in p.findings if f.severity == ERROR)
            click.echo(
                f"  {p.name}: {FileStatus.of(p.state)} ({who}{extra})"
                + (f", помилок {errors}, зауважень усього {len(p.findings)}" if p.findings else "")
            )
    return r.exit_code


@main.command("intake", epilog=INTAKE_EXIT_HELP, short_help="Прийняти повернені звіти з inbox/.")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Вивести результат і всі зауваження (аркуш, клітинка, ключ рядка, знайдено, очікується) як JSON.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Лише показати, що буде прийнято, замінено чи відхилено; нічого не змінювати (журнал, архів, inbox).",
)
@click.option(
    "--period",
    "-p",
    default=None,
    help="Рік, до каталогу якого належать звіти (РРРР або РРРР-Q1…Q4; типово — останній).",
)
@with_workspace
@refreshes_status
def intake_cmd(ws: Workspace, paths: tuple[Path, ...], as_json: bool, dry_run: bool, period: str | None = None):
    """Прийняти повернені звіти: перевірити, зберегти в архіві та журналі; відхилені — у карантин.

    Типово — усі файли теки inbox/ (з підтеками); можна вказати файли чи теки.  Кожен файл спершу
    копіюється в archive/ під своїм sha256, потім записується до журналу; лише після цього файл
    прибирається з inbox/ (файли поза inbox/ лише читаються).  Ті самі байти вдруге — «вже отримано».
    """
    if dry_run:
        finish(_intake_preview(ws, list(paths) or None, as_json, period))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .workflows.intake import intake

    console = Console(stderr=as_json, highlight=False)
    progress = None

    def start(total: int) -> None:
        nonlocal progress
        if total == 0:
            if not as_json:
                click.echo(f"Нових файлів немає ({ws.inbox}).")
            return
        if total >= INTAKE_PROGRESS_FROM and console.is_terminal:
            progress = Progress(
                TextColumn("Прийом"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            progress.start()
            progress.add_task("intake", total=total)

    def show(o) -> None:
        if progress is not None:
            progress.advance(progress.task_ids[0])
        if as_json:
            return
        for text, colour in _intake_lines(ws, o):
            console.print(text, style=colour, markup=False, soft_wrap=True)

    try:
        r = intake(ws, list(paths) or None, period=period, on_start=start, on_outcome=show)
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
    elif r.outcomes:
        parts = [f"{state}: {n}" for state, n in r.counts().items()]
        click.echo(f"Усього {plural(len(r.outcomes), 'файл')} — {'; '.join(parts)}.")
    finish(r.exit_code)


@main.command("history", short_help="Історія звітів одного виконавця.")
@click.argument("executor")
@_period_option
@click.option("--json", "as_json", is_flag=True, help="Вивести історію як JSON.")
@with_workspace
def history_cmd(ws: Workspace, executor: str, period: str | None, as_json: bool):
    """Історія звітів виконавця (код або назва): усі отримані файли, від найдавнішого; чинний позначено."""
    from .model import ERROR, STATE_LABELS, WARNING
    from .status import format_time
    from .workflows.intake import history

    r = history(ws, executor, period)
    found, files, findings, by_mail = r.executor, r.files, r.findings, r.by_mail
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
        return
    click.secho(f"Історія звітів: {found.full_name} ({found.code})", bold=True)
    if not files:
        click.echo("  Від цього виконавця ще нічого не отримано" + (f" за {period}." if period else "."))
        return
    for f in files:
        if f.submission_id is None:
            mark = ""
        elif f.superseded_by is None:
            mark = " — чинний"
        else:
            mark = f" — замінено звітом №{f.superseded_by}"
        number = f"№{f.submission_id}" if f.submission_id else "—"
        errors = sum(1 for x in findings[f.id] if x.severity == ERROR)
        warnings = sum(1 for x in findings[f.id] if x.severity == WARNING)
        notes = ", ".join(
            c
            for c in (plural(errors, "помилка") if errors else "", plural(warnings, "попередження") if warnings else "")
            if c
        )
        click.echo(
            f"  {number:>5}  {format_time(f.received_at)}  {f.period or '?':8}  {STATE_LABELS[f.status]}{mark}"
            + (f" ({notes})" if notes else "")
        )
        click.echo(f"         {f.original_name} → {f.archive_path}")
        if f.sha256 in by_mail:
            click.echo(f"         поштою від {by_mail[f.sha256]}")
        for line in grouped_findings(findings[f.id], None, indent="         "):
            click.echo(line)


@main.command("findings", short_help="Усі зауваження до звіту виконавця.")
@click.argument("executor")
@_period_option
@click.option("--json", "as_json", is_flag=True, help="Вивести зауваження як JSON (з кодами).")
@with_workspace
def findings_cmd(ws: Workspace, executor: str, period: str | None, as_json: bool):
    """Усі зауваження до чинного звіту виконавця (код або назва), за видами, з аркушем і клітинкою.

    Також — причини, з яких не прийнято файли цього виконавця (карантин).  Код виходу 1, якщо
    у чинному звіті є помилки або чинного звіту немає.
    """
    from .model import STATE_LABELS
    from .status import format_time
    from .workflows.intake import findings

    r = findings(ws, executor, period)
    found, period, current, items, rejected = r.executor, r.period, r.current, r.items, r.rejected
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.secho(f"Зауваження: {found.full_name} ({found.code}), {period}", bold=True)
        if current is None:
            click.echo("  Чинного звіту немає.")
        else:
            click.echo(
                f"  Звіт №{current.id} «{current.original_name}», отримано {format_time(current.received_at)}: "
                f"{STATE_LABELS[current.status]}"
                + (f", {plural(len(items), 'зауваження')}" if items else ", зауважень немає")
            )
            for line in grouped_findings(items, None, indent="    "):
                click.echo(line)
        for f, reasons in rejected:
            click.echo(f"  Не прийнято (карантин): «{f.original_name}», отримано {format_time(f.received_at)}")
            for line in grouped_findings(reasons, None, indent="    "):
                click.echo(line)
    finish(r.exit_code)


VERIFY_EXIT_HELP = """\b
Коди завершення:
  0 — усе гаразд;
  1 — знайдено проблеми (перелічено);
  2 — помилка (робоча тека, журнал не відкривається)."""


@main.command("verify", epilog=VERIFY_EXIT_HELP, short_help="Перевірити журнал, архів і карантин.")
@click.option("--json", "as_json", is_flag=True, help="Вивести результат перевірки як JSON.")
@with_workspace
def verify_cmd(ws: Workspace, as_json: bool):
    """Перевірити робочу теку: журнал, архів і карантин узгоджені (нічого не змінює).

    Кожен файл журналу має архівну копію з тим самим SHA-256; в archive/ немає файлів, невідомих
    журналу; кожен відхилений файл лежить у quarantine/ з описом причин (.txt) поруч.
    """
    from .verify import report_lines
    from .workflows.setup import verify

    r = verify(ws)
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in report_lines(r.verification):
            click.echo(line)
    finish(r.exit_code)


@main.command("demo", short_help="Показати весь цикл на вбудованих даних.")
@click.option(
    "--workspace",
    "-w",
    "workspace_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Тека для демонстрації (типово ./demo, а якщо вона вже є — тимчасова тека).",
)
@click.option(
    "--mail/--no-mail",
    "mail",
    default=None,
    help="Поштовий раунд: кілька виконавців надсилають звіти листами до тимчасової скриньки на цьому комп’ютері "
    "(Dovecot), квитанції — до out/mail/receipts. Типово — якщо Dovecot встановлено; --mail вимагає його.",
)
def demo_cmd(workspace_dir: Path | None, mail: bool | None):
    """Увесь цикл звітування 2024 року на вбудованих даних: шаблони, звіти виконавців, прийом, пошта, зведення, звіт."""
    from .workflows.setup import demo

    demo(workspace_dir, echo=click.echo, mail=mail)


# ---------------------------------------------------------------------------------
# review: the clerk's decisions (accept / return), adjustments of national figures
# ---------------------------------------------------------------------------------


def _operator_option(fn):
    return click.option(
        "--operator", default=None, help="Хто приймає рішення (типово [operator] name з consolidate.toml)."
    )(fn)


@main.group("review", short_help="Розгляд звітів: затвердити або повернути.")
def review_group():
    """Розгляд звітів: затвердити для зведення або повернути на доопрацювання."""


@review_group.command("list", short_help="Стан розгляду звітів кожного виконавця.")
@_period_option
@click.option("--json", "as_json", is_flag=True, help="Вивести як JSON.")
@with_workspace
def review_list(ws: Workspace, period: str | None, as_json: bool):
    """Стан розгляду для кожного виконавця: очікується / на розгляді / повернуто / на повторному розгляді / затверджено."""
    from .workflows.review import review_list as list_slots

    r = list_slots(ws, period)
    if as_json:
        click.echo(json.dumps(r.to_dict()["slots"], ensure_ascii=False, indent=2))
        return
    for slot in r.slots:
        file = f" — «{slot.latest.original_name}» (№{slot.latest.id}, {slot.latest.status})" if slot.latest else ""
        note = f"; коментар: {slot.comment}" if slot.state == SlotState.RETURNED and slot.comment else ""
        if r.blocked.get(slot.executor):
            refs = ", ".join(o.ref for o in r.blocked[slot.executor])
            note += f"; затвердження блокують ймовірні помилки введення ({refs}) — підтвердьте з причиною або поверніть"
        click.echo(f"  {slot.executor:<12} {ws.catalogue.executor_label(slot.executor)}: {slot.state}{file}{note}")
    click.echo("Разом: " + ", ".join(f"{s} {n}" for s, n in r.counts().items()))


_confirm_options = (
    click.option(
        "--confirm",
        "confirm_refs",
        multiple=True,
        metavar="ПОСИЛАННЯ",
        help="Підтвердити значення, що блокує затвердження (ймовірну помилку введення): посилання з "
        "повідомлення (F.…/financed, T2.14.2/actual) або клітинка; можна кілька разів.",
    ),
    click.option("--reason", "-r", default="", help="Чому підтверджені значення правильні (обов’язково з --confirm)."),
)


def _with_confirm(fn):
    for option in reversed(_confirm_options):
        fn = option(fn)
    return fn


@review_group.command("accept", short_help="Затвердити звіт для зведення.")
@click.argument("executors", nargs=-1, required=True)
@_period_option
@_operator_option
@click.option("--force", is_flag=True, help="Затвердити навіть звіт із помилками (не знімає блокування значень).")
@_with_confirm
@with_workspace
@refreshes_status
def review_accept(
    ws: Workspace,
    executors: tuple[str, ...],
    period: str | None,
    operator: str | None,
    force: bool,
    confirm_refs: tuple[str, ...],
    reason: str,
):
    """Затвердити останній звіт виконавця (кількох) для зведеного звіту.

    Значення в рази більші за план (сума в гривнях замість тисяч, кількість замість відсотка) блокують затвердження,
    доки їх не підтверджено з причиною (--confirm … --reason …) або виконавець не надішле виправлений файл.
    """
    from .workflows.review import accept

    r = accept(ws, executors, period, operator=operator, force=force, confirm_refs=confirm_refs, reason=reason)
    for d in r.decisions:
        click.echo(
            f"{_capital(SlotState.APPROVED.label)}: {ws.catalogue.executor_label(d.executor)}, "
            f"звіт №{d.submission_id} ({r.operator}, {d.decided_at})"
        )


@review_group.command("confirm", short_help="Підтвердити значення, що блокують затвердження.")
@click.argument("executor")
@_period_option
@_operator_option
@_with_confirm
@with_workspace
@refreshes_status
def review_confirm(
    ws: Workspace, executor: str, period: str | None, operator: str | None, confirm_refs: tuple[str, ...], reason: str
):
    """Підтвердити значення звіту, що блокують затвердження, з причиною (кожне своєю командою, якщо причини різні)."""
    from .workflows.review import confirm

    r = confirm(ws, executor, confirm_refs, reason, period, operator=operator)
    for c in r.confirmations:
        click.echo(
            f"Підтверджено: {ws.catalogue.executor_label(c.executor)}, {c.ref} = {c.value:g} "
            f"({r.operator}, {c.confirmed_at}); причина: {c.reason}"
        )
    if not r.confirmations:
        click.echo("Ці значення вже підтверджено; нічого не змінено.")


@review_group.command("return", short_help="Повернути звіт на доопрацювання.")
@click.argument("executor")
@click.option("--comment", "-c", required=True, help="Що виправити (обов’язково): увійде до листа виконавцю.")
@_period_option
@_operator_option
@with_workspace
@refreshes_status
def review_return(ws: Workspace, executor: str, comment: str, period: str | None, operator: str | None):
    """Повернути звіт на доопрацювання з коментарем; готує лист виконавцю з коментарем і зауваженнями."""
    from .workflows.review import return_for_rework

    r = return_for_rework(ws, executor, comment, period, operator=operator)
    (d,) = r.decisions
    click.echo(f"Повернуто на доопрацювання: {ws.catalogue.executor_label(d.executor)}, звіт №{d.submission_id}")
    _show_letters(r.letters)


@main.command("adjust", short_help="Установити національне значення вручну.")
@click.argument("item_id")
@click.argument("value", type=float, required=False)
@click.option("--reason", "-r", default="", help="Чому значення встановлено вручну (обов’язково).")
@click.option("--force", is_flag=True, help="Дозволити значення поза межами повідомлених даних.")
@click.option("--undo", is_flag=True, help="Скасувати чинне коригування показника.")
@_period_option
@_operator_option
@with_workspace
@refreshes_status
def adjust_cmd(
    ws: Workspace,
    item_id: str,
    value: float | None,
    reason: str,
    force: bool,
    undo: bool,
    period: str | None,
    operator: str | None,
):
    """Установити національне значення показника вручну (у межах від найбільшого повідомленого до їх суми).

    Кожне коригування записується з оператором, часом і причиною; --undo скасовує його (запис лишається).
    """
    from .workflows.reconcile import adjust, undo_adjustment

    if undo:
        r = undo_adjustment(ws, item_id, period=period, operator=operator)
        click.echo(f"Коригування {item_id} скасовано ({r.operator}); діє значення за правилом зведення.")
        return
    a = adjust(ws, item_id, value, reason, period=period, operator=operator, force=force).adjustment
    click.echo(f"Значення {item_id} встановлено: {a.value:g} ({a.operator}, {a.made_at}); причина: {a.reason}")


# ---------------------------------------------------------------------------------
# quarantine: files not accepted, and the clerk's decision whose they are
# ---------------------------------------------------------------------------------


@main.group("quarantine", short_help="Неприйняті файли: перелік, призначення виконавця.")
def quarantine_group():
    """Файли, які не прийнято (карантин): оригінальні назви, виконавці, причини; призначення виконавця."""


@quarantine_group.command("list", short_help="Неприйняті файли з причинами.")
@click.option("--json", "as_json", is_flag=True, help="Вивести як JSON.")
@with_workspace
def quarantine_list(ws: Workspace, as_json: bool):
    """Усі неприйняті файли: коли надійшли, оригінальна назва, виконавець (якщо відомий), причини.

    Код виходу 1, якщо в карантині щось є.
    """
    from .status import format_time
    from .workflows.quarantine import list_quarantine

    result = list_quarantine(ws)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        finish(result.exit_code)
    if not result.files:
        click.echo("Карантин порожній.")
    for f in result.files:
        click.secho(f"  {format_time(f.received_at)}  «{f.original_name}»  {f.sha256[:12]}", bold=True)
        click.echo(
            f"      виконавець: {f.executor_label}"
            + (f"; період: {f.period}" if f.period else "")
            + (f"; збережено як {f.kept_as}" if f.kept_as else "")
        )
        for line in grouped_findings(f.reasons, None, indent="      "):
            click.echo(line)
        for _, code, period, who, reason, when, _ in f.assignments:
            click.echo(
                f"      призначено {code} за {period} ({who}, {format_time(when)}) — файл однаково не "
                f"прочитано" + (f"; причина: {reason}" if reason else "")
            )
    if result.files:
        click.echo(
            f"Усього в карантині: {plural(len(result.files), 'файл')}. Якщо файл від відомого виконавця "
            f"(напр. старий шаблон без службових відомостей): consolidate quarantine assign SHA256 КОД."
        )
    finish(result.exit_code)


@quarantine_group.command("assign", short_help="Призначити неприйнятий файл виконавцю.")
@click.argument("file", metavar="ФАЙЛ")
@click.argument("executor", metavar="ВИКОНАВЕЦЬ")
@_period_option
@_operator_option
@click.option("--reason", "-r", default="", help="Чому файл належить цьому виконавцю (запишеться в журнал).")
@click.option("--json", "as_json", is_flag=True, help="Вивести результат як JSON.")
@with_workspace
@refreshes_status
def quarantine_assign(
    ws: Workspace, file: str, executor: str, period: str | None, operator: str | None, reason: str, as_json: bool
):
    """Рішення працівника: неприйнятий файл (ФАЙЛ — SHA-256 або назва з «quarantine list») є звітом ВИКОНАВЦЯ.

    Рішення записується в журнал (хто, коли, чому), а файл читається знову як звіт цього виконавця за
    період: перевіряється кожна клітинка; прочитаний файл стає чинним звітом і виходить з карантину.
    """
    from .model import QUARANTINED
    from .workflows.quarantine import assign_file

    code = _executor_code(ws, executor)
    result = assign_file(ws, file, code, resolve_period(ws, period), _operator(ws, operator), reason)
    a = result.assigned
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        finish(result.exit_code)
    click.echo(
        f"Файл «{a.file.original_name}» призначено: {ws.catalogue.executor_label(code)}, {a.period} "
        f"({a.operator}, {a.assigned_at})."
    )
    if a.status == QUARANTINED:
        click.echo("Файл однаково не вдалося прочитати — лишається в карантині:")
    else:
        click.echo(
            f"Прочитано як звіт №{a.file.submission_id}: {result.state_label}"
            + (f"; замінює звіт №{a.superseded}" if a.superseded else "")
            + "."
        )
    for line in grouped_findings(a.findings, INTAKE_SHOWN_PER_KIND):
        click.echo(line)
    finish(result.exit_code)


# ---------------------------------------------------------------------------------
# the web console and its accounts
# ---------------------------------------------------------------------------------


@main.command("serve", short_help="Вебконсоль: увесь цикл у браузері.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Адреса: типово лише цей комп’ютер (вхід за ключем із рядка запуску); будь-яка інша потребує "
    "облікових записів (consolidate users add).",
)
@click.option("--port", default=8765, show_default=True, type=int, help="Порт.")
@click.option("--no-browser", is_flag=True, help="Не відкривати браузер.")
@click.option("--accounts", is_flag=True, help="Вхід за обліковими записами навіть на 127.0.0.1.")
@with_workspace
def serve_cmd(ws: Workspace, host: str, port: int, no_browser: bool, accounts: bool):
    """Вебконсоль: увесь цикл звітування в браузері (прийом, розгляд, зведення, звіт, шаблони, журнал)."""
    from .web.server import serve

    serve(ws.root, host, port, open_browser=not no_browser, accounts=accounts, echo=click.echo)


@main.group("users", short_help="Облікові записи вебконсолі.")
def users_group():
    """Облікові записи вебконсолі (потрібні, коли вона слухає не лише 127.0.0.1)."""


@users_group.command("add", short_help="Додати користувача вебконсолі.")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["clerk", "reviewer", "viewer"]),
    required=True,
    help="clerk — усе; reviewer — розгляд, коригування, звіт; viewer — лише перегляд.",
)
@click.option("--replace", is_flag=True, help="Змінити пароль чи роль наявного користувача.")
@click.password_option(
    "--password",
    prompt="Пароль",
    confirmation_prompt="Повторіть пароль",
    help="Пароль (типово запитується; не менше 10 символів).",
)
@with_workspace
def users_add(ws: Workspace, name: str, role: str, replace: bool, password: str):
    """Додати користувача вебконсолі (пароль зберігається як хеш scrypt)."""
    from .web.accounts import ROLE_LABELS, Store

    Store(ws.root).add_user(name, role, password, replace=replace)
    click.echo(f"Користувача «{name}» збережено, роль: {ROLE_LABELS[role]}.")


@users_group.command("remove", short_help="Видалити користувача вебконсолі.")
@click.argument("name")
@with_workspace
def users_remove(ws: Workspace, name: str):
    """Видалити користувача (його сеанси закриваються)."""
    from .web.accounts import Store

    if not Store(ws.root).remove_user(name):
        raise ConsolidateError(f"Користувача «{name}» немає.")
    click.echo(f"Користувача «{name}» видалено.")


@users_group.command("list", short_help="Перелік користувачів і ролей.")
@with_workspace
def users_list(ws: Workspace):
    """Перелік користувачів і ролей."""
    from .web.accounts import ROLE_LABELS, Store

    rows = Store(ws.root).users()
    for name, role, created in rows:
        click.echo(f"  {name:<24} {ROLE_LABELS.get(role, role):<10} з {created[:10]}")
    if not rows:
        click.echo("Користувачів немає.")


# ---------------------------------------------------------------------------------
# the reporting mailbox
# ---------------------------------------------------------------------------------

MAIL_EXIT_HELP = """\b
Коди виходу:
  0 — усі нові листи оброблено, усі файли прийнято;
  1 — є листи без звіту, з помилками чи з відхиленими файлами, або лист оброблено не до кінця;
  2 — помилка (налаштування, з’єднання з сервером, робоча тека)."""


@main.group("mail", short_help="Звіти з поштової скриньки і квитанції.")
def mail_group():
    """Звіти з поштової скриньки (IMAP) і квитанції відправникам."""


def _mailbox_password(ws: Workspace) -> str | None:
    """The mailbox password typed at a prompt, when the environment has none and a person is at the console
    (None: from the environment, or not needed — an application's token under [mailbox] auth = "oauth2")."""
    import os
    import sys

    from .mailbox import PASSWORD_ENV as IMAP_PASSWORD_ENV
    from .oauth import OAUTH2, auth_method

    env_name = str(ws.setting("mailbox", "password_env") or IMAP_PASSWORD_ENV)
    by_token = auth_method(ws.config.get("mailbox") or {}, "mailbox") == OAUTH2
    if not os.environ.get(env_name) and ws.setting("mailbox", "host") and not by_token and sys.stdin.isatty():
        return click.prompt(f"Пароль до скриньки {ws.setting('mailbox', 'user', '')}", hide_input=True, err=True)
    return None


@mail_group.command("fetch", epilog=MAIL_EXIT_HELP, short_help="Прийняти звіти з листів і надіслати квитанції.")
@click.option(
    "--watch",
    is_flag=True,
    help="Перевіряти скриньку постійно: новий лист — одразу, якщо сервер підтримує IMAP IDLE "
    "(вимкнути — [mailbox] idle = false), і щонайдовше кожні [mailbox] poll_minutes хвилин "
    "(зупинити — Ctrl+C); збій з’єднання не зупиняє перевірку.",
)
@click.option("--json", "as_json", is_flag=True, help="Вивести результат як JSON.")
@_smtp_options
@with_workspace
@refreshes_status
def mail_fetch_cmd(ws: Workspace, watch: bool, as_json: bool, smtp):
    """Прийняти звіти з листів поштової скриньки ([mailbox] у consolidate.toml) і надіслати квитанції.

    Кожне вкладення-таблицю (також з архіву zip, пересланого листа чи winmail.dat) прийнято так само, як
    з inbox/; відправник отримує відповідь у тій самій розмові з переліком зауважень (аркуш, клітинка);
    лист переміщено до «Оброблено» або «Не прийнято».  Пароль — зі змінної середовища або на запит.
    Квитанції надсилаються через [smtp] у consolidate.toml або --smtp.
    """
    from .workflows import mail as wf

    settings, smtp = wf.settings_for(ws, password=_mailbox_password(ws), smtp=smtp)

    def show(m) -> None:
        if as_json:
            return
        from .mailbox import reply_label
        from .status import format_time

        if m.duplicate:
            click.echo(f"Повторний лист від {m.sender} («{m.subject}») — вже оброблено, переміщено до «{m.moved_to}».")
            return
        when = f" від {format_time(m.sent_at)}" if m.sent_at else ""
        click.secho(f"Лист {m.sender}{when}: «{m.subject}»", bold=True)
        for f in m.files:
            where = f" ({f.container})" if f.container else ""
            reason = f": {f.reason}" if f.reason else ""
            extra = f", зауважень {len(f.findings)}" if f.findings else ""
            click.echo(f"  «{f.name}»{where} — {f.label}{reason}{extra}")
        if not m.files:
            click.echo("  файлів звіту немає")
        click.echo(f"  {reply_label(m.reply)}" + (f"; переміщено до «{m.moved_to}»" if m.moved_to else ""))
        if m.error:
            click.secho(f"  не завершено (продовжимо наступного разу): {m.error}", fg="red")

    def summary(result) -> None:
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        elif not result.new:
            click.echo(
                f"Нових листів немає ({result.mailbox}, тека «{result.folder}»)"
                + (f"; повторних: {result.duplicates}" if result.duplicates else "")
                + "."
            )
        else:
            click.echo(
                f"Оброблено {plural(len(result.new), 'лист', 'листи', 'листів')}"
                + (f", повторних: {result.duplicates}" if result.duplicates else "")
                + "."
            )

    if not watch:
        result = wf.fetch(ws, settings=settings, smtp=smtp, on_message=show)
        summary(result)
        finish(result.exit_code)
        return

    def round_done(result, error: str) -> None:
        stamp = dt.datetime.now().strftime("%d.%m.%Y %H:%M")
        if error:
            click.secho(f"{stamp} Помилка: {error}", fg="red", err=True)
        else:
            click.echo(f"{stamp} ", nl=False)
            summary(result)

    def waiting(idle: bool, seconds: float, why: str) -> None:
        import math

        minutes = f"{math.ceil(seconds / 6) / 10:g}".replace(".", ",")  # to a tenth of a minute, up
        if idle:
            click.echo(f"Очікування нових листів (IMAP IDLE), щонайдовше {minutes} хв.", err=True)
        else:
            click.echo(f"Наступна перевірка через {minutes} хв." + (f" Без IMAP IDLE: {why}" if why else ""), err=True)

    click.echo(
        f"Стежимо за скринькою {settings.address} (тека «{settings.folder}»): перевірка "
        + ("щонайдовше " if settings.idle else "")
        + f"кожні {settings.poll_minutes:g}".replace(".", ",")
        + " хв"
        + (", новий лист — одразу, якщо сервер підтримує IMAP IDLE" if settings.idle else "")
        + "; зупинити — Ctrl+C.",
        err=True,
    )
    try:
        wf.watch(ws, settings=settings, smtp=smtp, on_round=round_done, on_wait=waiting, on_message=show)
    except KeyboardInterrupt:
        click.echo("Зупинено.", err=True)


MAIL_CHECK_EXIT_HELP = """\b
Коди виходу:
  0 — скринька і сервер для квитанцій працюють (зауваження, напр. «немає IMAP IDLE», не заважають);
  1 — щось не працює: вхід, тека, токен OAuth 2.0 або SMTP (див. причину);
  2 — налаштування не прочитано (немає [mailbox], пароля, неправильне значення)."""


@mail_group.command("check", epilog=MAIL_CHECK_EXIT_HELP, short_help="Перевірити скриньку і SMTP, нічого не змінюючи.")
@click.option("--json", "as_json", is_flag=True, help="Вивести результат як JSON.")
@_smtp_options
@with_workspace
def mail_check_cmd(ws: Workspace, as_json: bool, smtp):
    """Перевірити, що mail fetch зможе працювати: токен OAuth 2.0 (якщо auth = "oauth2"), вхід до скриньки,
    тека (відкрито лише для читання), можливості сервера (IDLE, MOVE), теки «Оброблено» і «Не прийнято»,
    вхід на сервер SMTP для квитанцій.  Жоден лист не прочитано, не переміщено і не надіслано.
    """
    from .mailbox import FAILED, NOTED, PASSED, SKIPPED
    from .workflows import mail as wf

    settings, smtp = wf.settings_for(ws, password=_mailbox_password(ws), smtp=smtp)
    result = wf.check(ws, settings=settings, smtp=smtp)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        marks = {PASSED: ("✓", "green"), NOTED: ("!", "yellow"), FAILED: ("✗", "red"), SKIPPED: ("–", None)}
        for step in result.steps:
            mark, colour = marks[step.state]
            click.secho(f"{mark} {step.text}", fg=colour)
        failed = sum(1 for step in result.steps if step.state == FAILED)
        if failed:
            click.secho(
                f"Не працює: {plural(failed, 'перевірка', 'перевірки', 'перевірок')} з {len(result.steps)}.", fg="red"
            )
        else:
            click.secho("Усе готово: mail fetch зможе приймати звіти й надсилати квитанції.", fg="green")
    finish(result.exit_code)


for _param in (*mail_fetch_cmd.params, *mail_check_cmd.params):  # the shared SMTP options, said for receipts
    if _param.name == "smtp_server":
        _param.help = (
            "Поштовий сервер SMTP для квитанцій (типово — з розділу [smtp] у consolidate.toml); "
            "без сервера команда не працює, якщо квитанції не вимкнено в розділі [mailbox]."
        )


if __name__ == "__main__":  # pragma: no cover
    main()
