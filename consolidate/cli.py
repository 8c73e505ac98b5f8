"""Command line: a thin click layer over the library.  Messages are Ukrainian."""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from . import __version__
from .errors import CatalogueError, ConsolidateError
from .numbers import format_amount
from .workspace import Workspace, init_workspace, open_workspace

workspace_option = click.option(
    "--workspace", "-w", "workspace_dir", default=".", show_default=True,
    type=click.Path(file_okay=False, path_type=Path), help="Робоча тека (templates/, inbox/, out/ …).",
)


def _fail(message: str, code: int = 1):
    click.secho(f"Помилка: {message}", fg="red", err=True)
    sys.exit(code)


def friendly(fn):
    """Turn expected errors into clear messages and exit codes, never tracebacks."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CatalogueError as exc:
            click.secho("Каталог програми містить помилки:", fg="red", err=True)
            for p in exc.problems:
                click.echo(f"  • {p}", err=True)
            sys.exit(2)
        except ConsolidateError as exc:
            _fail(str(exc))
    return wrapper


def with_workspace(fn):
    """Add --workspace, open it, and report errors (of opening too) as clear messages."""
    @workspace_option
    @functools.wraps(fn)
    @friendly
    def wrapper(workspace_dir, *args, **kwargs):
        return fn(open_workspace(workspace_dir), *args, **kwargs)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="consolidate")
def main():
    """consolidate — звітування за державною цільовою програмою (розпорядження КМУ № 496-р).

    Шаблони для виконавців → прийом звітів → зведення → національний звіт.
    """


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Перезаписати каталог у наявній робочій теці.")
@friendly
def init_cmd(directory: Path, force: bool):
    """Створити нову робочу теку з вбудованим каталогом програми 496-р."""
    ws = init_workspace(directory, force=force)
    cat = ws.catalogue
    click.echo(f"Створено робочу теку {ws.root}")
    click.echo(f"  каталог: {len(cat.tasks)} завдань, {len(cat.measures)} заходів, {len(cat.indicators)} показників, "
               f"{len(cat.funding)} рядків фінансування, {len(cat.registry)} виконавців")
    click.echo(f"  кладіть повернені звіти в {ws.inbox}")


@main.group("catalogue")
def catalogue_group():
    """Каталог програми: завдання, заходи, показники, фінансування, виконавці."""


@catalogue_group.command("check")
@with_workspace
def catalogue_check(ws: Workspace):
    """Перевірити каталог і реєстр виконавців, показати кількості."""
    cat = ws.catalogue
    click.echo(f"Каталог {ws.templates_dir} коректний.")
    click.echo(f"  програма: {cat.programme.title} ({cat.programme.act})")
    click.echo(f"  звітний рік: {cat.programme.report_year}, строк подання: {cat.programme.deadline:%d.%m.%Y}")
    click.echo(f"  завдань: {len(cat.tasks)}")
    click.echo(f"  заходів: {len(cat.measures)}")
    click.echo(f"  показників: {len(cat.indicators)}")
    click.echo(f"  рядків фінансування: {len(cat.funding)}")
    click.echo(f"  виконавців: {len(cat.registry)} (звітують: {len(cat.expected_executors())})")
    click.echo(f"  версія шаблонів: {cat.template_version}")


@catalogue_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Вивести каталог як JSON.")
@with_workspace
def catalogue_show(ws: Workspace, as_json: bool):
    """Показати каталог (завдання → заходи → показники і фінансування)."""
    cat = ws.catalogue
    if as_json:
        payload = {
            "programme": {k: str(v) for k, v in asdict(cat.programme).items()},
            "template_version": cat.template_version,
            "tasks": [asdict(t) for t in cat.tasks],
            "measures": [asdict(m) for m in cat.measures],
            "indicators": [asdict(i) for i in cat.indicators],
            "funding": [asdict(f) for f in cat.funding],
            "executors": [asdict(e) for e in cat.registry],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for task in cat.tasks:
        click.secho(f"{task.id}. {task.name}", bold=True)
        for m in cat.measures_of_task(task.id):
            execs = ", ".join(cat.executor_label(c) for c in m.executors)
            click.echo(f"  {m.id}  {m.number}) {m.text[:100]}{'…' if len(m.text) > 100 else ''}")
            click.echo(f"        виконавці: {execs}")
            for i in cat.indicators_of(m.id):
                planned = "" if i.planned is None else f"план {i.planned:g}"
                click.echo(f"        [{i.id}] {i.name[:80]} — {planned}, правило {i.rule}")
            for f in cat.funding_of(m.id):
                click.echo(f"        [{f.id}] {cat.executor_label(f.holder)}, {f.source_label}: "
                           f"програма {f.programme_amount if f.programme_amount is not None else '-'}, "
                           f"план {f.planned if f.planned is not None else '-'} тис. грн")


def _period_option(fn):
    return click.option("--period", "-p", default=None,
                        help="Звітний період: РРРР або РРРР-Q1…Q4 (типово — звітний рік каталогу).")(fn)


def resolve_period(ws: Workspace, period: str | None) -> str:
    return ws.catalogue.check_period(period or ws.catalogue.default_period())


@main.command("templates")
@click.option("--executor", "-e", "executors", multiple=True, help="Код виконавця (можна кілька разів); типово — усі.")
@_period_option
@click.option("--timestamp", default=None, metavar="ISO",
              help="Позначка часу створення у файлах (ISO, напр. 2025-01-10T09:00:00); типово — стала, "
                   "тож ті самі дані дають побайтово однакові файли.")
@with_workspace
def templates_cmd(ws: Workspace, executors: tuple[str, ...], period: str | None, timestamp: str | None):
    """Згенерувати шаблони звітів для виконавців у out/templates/<період>/."""
    from .template import DEFAULT_TIMESTAMP, parse_timestamp, write_templates

    period = resolve_period(ws, period)
    password = str(ws.setting("templates", "sheet_password", "496-r"))
    generated_at = parse_timestamp(timestamp) if timestamp else DEFAULT_TIMESTAMP
    contact = ws.setting("templates", "contact")
    if not contact and ws.setting("mail", "sender"):
        contact = ", ".join(str(x) for x in (ws.setting("mail", "sender_name"), ws.setting("mail", "sender")) if x)
    files = write_templates(ws.catalogue, ws.out / "templates", period, password, list(executors) or None,
                            generated_at=generated_at, contact=str(contact) if contact else None)
    for f in files:
        click.echo(f"  {f.path.name}")
    click.echo(f"Згенеровано шаблонів: {len(files)} у {ws.out / 'templates' / period} (версія {ws.catalogue.template_version})")
    click.echo(f"Маніфест: {ws.out / 'templates' / period / 'manifest.csv'}")


@main.command("reconcile")
@_period_option
@click.option("--json", "as_json", is_flag=True, help="Вивести зведення і всі зауваження звірки як JSON.")
@with_workspace
def reconcile_cmd(ws: Workspace, period: str | None, as_json: bool):
    """Звести останні прийняті звіти виконавців: фінансування, показники за правилами, зауваження."""
    from .ledger import Ledger
    from .reconcile import reconcile_ledger, summary_dict

    period = resolve_period(ws, period)
    cat = ws.catalogue
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(cat, ledger, period)
    if as_json:
        click.echo(json.dumps(summary_dict(cat, rec), ensure_ascii=False, indent=2, default=str))
        return
    total = rec.subtotal(None, "total")
    click.echo(f"Зведення за {period}: звіти від {len(rec.reported)} з {len(rec.expected)} виконавців.")
    if total is not None:
        click.echo(f"  Разом по програмі, тис. грн: програмою {format_amount(total.programme_amount)}, "
                   f"передбачено {format_amount(total.planned)}, профінансовано {format_amount(total.financed)}, "
                   f"касові {format_amount(total.cash)}"
                   + (" (дані неповні)" if total.incomplete else ""))
    done = sum(1 for r in rec.indicators if r.value is not None and not r.incomplete)
    click.echo(f"  Показників із повними даними: {done} з {len(rec.indicators)}")
    if rec.missing_executors:
        click.echo("  Не подали: " + ", ".join(cat.executor_label(c) for c in rec.missing_executors))
    by_kind: dict[str, int] = {}
    for c in rec.conflicts:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    click.echo(f"  Зауважень звірки: {len(rec.conflicts)}" + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(by_kind.items())) + ")" if by_kind else ""))
    for c in rec.conflicts:
        if c.severity == "помилка":
            click.echo(f"    [{c.severity}] {c.item}: {c.message}")


@main.command("explain")
@click.argument("item_id")
@_period_option
@with_workspace
def explain_cmd(ws: Workspace, item_id: str, period: str | None):
    """Показати походження національного значення: ID показника (T2.6.1), рядка фінансування (F.…) або заходу."""
    from .ledger import Ledger
    from .reconcile import explain_lines, reconcile_ledger

    period = resolve_period(ws, period)
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, period)
    lines = explain_lines(ws.catalogue, rec, item_id)
    if not lines:
        _fail(f"Немає показника, рядка фінансування чи заходу з ідентифікатором «{item_id}»")
    for line in lines:
        click.echo(line)


@main.command("report")
@_period_option
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Файл звіту (типово out/report-<період>.<формат>).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "docx", "pdf", "all"]), default="xlsx", show_default=True,
              help="Формат звіту.")
@with_workspace
def report_cmd(ws: Workspace, period: str | None, out_file: Path | None, fmt: str):
    """Сформувати національний звіт (розділи I–III, звірка, стан звітування, джерела)."""
    from .ledger import Ledger
    from .reconcile import reconcile_ledger
    from .report import atomic_write, build_report, default_status_rows

    period = resolve_period(ws, period)
    cat = ws.catalogue
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(cat, ledger, period)
    status_rows = default_status_rows(cat, rec)
    formats = ["xlsx", "docx", "pdf"] if fmt == "all" else [fmt]
    base = out_file.with_suffix("") if out_file else ws.out / f"report-{period}"
    docx_bytes = None
    for f in formats:
        target = base.with_suffix(f".{f}") if (out_file is None or fmt == "all") else out_file
        if f == "xlsx":
            atomic_write(target, build_report(cat, rec, status_rows))
        else:
            from .report_docx import build_docx, write_pdf

            if docx_bytes is None:
                docx_bytes = build_docx(cat, rec, status_rows)
            if f == "docx":
                atomic_write(target, docx_bytes)
            else:
                write_pdf(docx_bytes, target)
        click.echo(f"Звіт записано: {target}")
    if rec.missing_executors:
        click.echo("Увага: не подали звіт — " + ", ".join(cat.executor_label(c) for c in rec.missing_executors)
                   + "; відповідні показники позначено як неповні.")


if __name__ == "__main__":  # pragma: no cover
    main()
