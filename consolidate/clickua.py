"""click in Ukrainian: help pages, usage lines and usage errors without an English word.

click marks its own strings for gettext, but picks the language from the environment (LANGUAGE,
LANG …), which a clerk's Windows does not set.  So the CLI uses click's public extension points
instead: a ``HelpFormatter`` (usage prefix, section headings, «[типово: …]»), a ``Context`` that
uses it, ``Command``/``Group`` classes (help option's text, metavars, unknown commands) and usage
errors re-raised as :class:`UaUsageError`, whose ``show`` prints Ukrainian.  The messages click
builds from its own strings are matched by the patterns in ``MESSAGES`` (one table, tested).

``cli.py`` needs only ``@click.group(cls=UaGroup)``: its subcommands and subgroups take these classes
through ``Group.command_class`` / ``group_class``.
"""

from __future__ import annotations

import difflib
import re
import sys

import click
from click.exceptions import NoArgsIsHelpError

HEADINGS = {
    "Options": "Параметри",
    "Commands": "Команди",
    "Positional arguments": "Аргументи",
    "Arguments": "Аргументи",
}
USAGE_PREFIX = "Використання: "
HELP_TEXT = "Показати цю довідку і вийти."
VERSION_HELP = "Показати версію і вийти."
VERSION_MESSAGE = "%(prog)s, версія %(version)s"
OPTIONS_METAVAR = "[ПАРАМЕТРИ]"
SUBCOMMAND_METAVAR = "КОМАНДА [АРГУМЕНТИ]..."

# Metavars: click's type names and argument names as shown in usage lines and option lists.
METAVARS = {
    "TEXT": "ТЕКСТ",
    "PATH": "ШЛЯХ",
    "FILE": "ФАЙЛ",
    "DIRECTORY": "ТЕКА",
    "FLOAT": "ЧИСЛО",
    "INTEGER": "ЦІЛЕ",
    "BOOLEAN": "ТАК|НІ",
    "FILENAME": "ФАЙЛ",
    "ITEM_ID": "ІДЕНТИФІКАТОР",
    "EXECUTOR": "ВИКОНАВЕЦЬ",
    "EXECUTORS": "ВИКОНАВЕЦЬ",
    "PATHS": "ШЛЯХ",
    "VALUE": "ЗНАЧЕННЯ",
    "PERIOD": "ПЕРІОД",
    "DATE": "ДАТА",
    "OPTIONS": "ПАРАМЕТРИ",
    "COMMAND": "КОМАНДА",
    "ARGS": "АРГУМЕНТИ",
    "NAME": "НАЗВА",
    "CODE": "КОД",
    "YEAR": "РІК",
    "SOURCE": "ДЖЕРЕЛО",
    "TARGET": "ЦІЛЬ",
    "USER": "КОРИСТУВАЧ",
    "ROLE": "РОЛЬ",
    "HOST": "ХОСТ",
    "PORT": "ПОРТ",
    "URL": "АДРЕСА",
    "ID": "ІДЕНТИФІКАТОР",
    "SHA256": "SHA256",
}
_METAVAR_RE = re.compile(r"(?<![\w-])[A-Z][A-Z0-9_]*(?![\w-])")
_EXTRA_RE = re.compile(r"\s*\[([^\[\]]*)\]\s*$")

# click's messages (as it formats them in English) → Ukrainian.  Groups are re-inserted as «…».
PATH_KINDS = {"file": "Файл", "directory": "Тека", "path": "Шлях", "File": "Файл", "Directory": "Тека", "Path": "Шлях"}
MESSAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(p, re.S), r)
    for p, r in [
        (r"^'(.*)' is not one of (.*)\.$", "«{0}» — не з переліку: {1}."),
        (r"^'(.*)' is not '(.*)'\.$", "«{0}» — очікується «{1}»."),
        (r"^'(.*)' is not a valid float(?: range)?\.$", "«{0}» — не число."),
        (r"^'(.*)' is not a valid integer(?: range)?\.$", "«{0}» — не ціле число."),
        (r"^'(.*)' is not a valid boolean\.$", "«{0}» — очікується так або ні."),
        (r"^'(.*)' is not a valid UUID\.$", "«{0}» — не UUID."),
        (r"^'(.*)' does not match the formats? (.*)\.$", "«{0}» — не відповідає формату {1}."),
        (r"^(.*) is not in the range (.*)\.$", "{0} — поза межами {1}."),
        (r"^(File|Directory|Path|file|directory|path) '(.*)' does not exist\.$", "{kind} «{1}» не існує."),
        (r"^(File|Directory|Path|file|directory|path) '(.*)' is a file\.$", "«{1}» — файл, а очікується тека."),
        (r"^(File|Directory|Path|file|directory|path) '(.*)' is a directory\.$", "«{1}» — тека, а очікується файл."),
        (r"^(File|Directory|Path|file|directory|path) '(.*)' is not readable\.$", "{kind} «{1}» не можна прочитати."),
        (r"^(File|Directory|Path|file|directory|path) '(.*)' is not writable\.$", "{kind} «{1}» не можна записати."),
        (r"^(File|Directory|Path|file|directory|path) '(.*)' is not executable\.$", "{kind} «{1}» не можна виконати."),
        (r"^Option '(.*)' requires an argument\.$", "Параметр «{0}» потребує значення."),
        (r"^Option '(.*)' requires (\d+) arguments\.$", "Параметр «{0}» потребує {1} значень."),
        (r"^Option '(.*)' does not take a value\.$", "Параметр «{0}» не приймає значення."),
        (r"^Argument '(.*)' takes (\d+) values\.$", "Аргумент «{0}» потребує {1} значень."),
        (r"^Got unexpected extra arguments? \((.*)\)$", "Зайві аргументи: {0}"),
        (r"^Missing command\.$", "Не вказано команду."),
        (r"^Value must be an iterable\.$", "Значення має бути переліком."),
        (r"^Takes (\d+) values but (\d+) (?:was|were) given\.$", "Потрібно значень: {0}, отримано: {1}."),
        (r"^unknown error$", "невідома помилка"),
    ]
]


def translate(message: str) -> str:
    """One of click's English messages in Ukrainian (the message itself if it is not click's)."""
    for pattern, template in MESSAGES:
        m = pattern.match(message.strip())
        if m:
            groups = tuple(re.sub(r"'([^']*)'", r"«\1»", g) if g and "', '" in g else g for g in m.groups())
            return template.format(*groups, kind=PATH_KINDS.get(groups[0], "Шлях") if groups else "")
    return message


def ua_metavars(text: str) -> str:
    """Uppercase metavars (TEXT, PATH, ITEM_ID …) in a usage line or an option's name column."""
    return _METAVAR_RE.sub(lambda m: METAVARS.get(m.group(0), m.group(0)), text)


def ua_extra(help_text: str) -> str:
    """An option's trailing «[default: x; required]» → «[типово: x; обов’язково]»."""
    m = _EXTRA_RE.search(help_text)
    if not m:
        return help_text
    items = []
    for item in m.group(1).split("; "):
        if item.startswith("default: "):
            value = item[len("default: ") :]
            value = {"True": "так", "False": "ні"}.get(value, value)
            items.append(f"типово: {value}")
        elif item == "required":
            items.append("обов’язково")
        elif item.startswith("env var: "):
            items.append("змінна середовища: " + item[len("env var: ") :])
        else:
            items.append(item)
    return help_text[: m.start()] + "  [" + "; ".join(items) + "]"


def _quoted(names) -> str:
    return " / ".join(f"«{n}»" for n in names)


def _suggest(possibilities) -> str:
    if not possibilities:
        return ""
    shown = ", ".join(f"«{p}»" for p in sorted(possibilities))
    return f" Можливо, ви мали на увазі {shown}?" if len(possibilities) == 1 else f" Можливо, одне з: {shown}?"


def ua_message(exc: click.ClickException) -> str:
    """The Ukrainian text of a click exception (without «Помилка: »)."""
    if isinstance(exc, click.exceptions.NoSuchCommand):
        return f"Немає команди «{exc.command_name}».{_suggest(exc.possibilities)}"
    if isinstance(exc, click.NoSuchOption):
        return f"Немає параметра «{exc.option_name}».{_suggest(exc.possibilities)}"
    if isinstance(exc, click.MissingParameter):
        param = exc.param
        if isinstance(param, click.Argument):
            return f"Бракує аргументу «{ua_metavars(param.human_readable_name)}»."
        if param is not None:
            return f"Бракує обов’язкового параметра {_quoted(param.opts + param.secondary_opts)}."
        return "Бракує обов’язкового параметра."
    if isinstance(exc, click.BadParameter):
        where = ""
        if exc.param is not None:
            where = (
                f" аргументу «{ua_metavars(exc.param.human_readable_name)}»"
                if isinstance(exc.param, click.Argument)
                else f" параметра {_quoted(exc.param.opts)}"
            )
        elif exc.param_hint:
            hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint)
            where = " " + " / ".join(f"«{h.strip(chr(39))}»" for h in hints)
        return f"Неправильне значення{where}: {translate(exc.message)}"
    if isinstance(exc, click.FileError):
        return f"Не вдалося відкрити файл «{exc.ui_filename}»: {translate(exc.message)}"
    return translate(exc.format_message())


class UaClickException(click.ClickException):
    """A click exception shown in Ukrainian (same exit code)."""

    def __init__(self, original: click.ClickException):
        super().__init__(ua_message(original))
        self.exit_code = original.exit_code  # type: ignore[misc]  # click declares it a ClassVar; per error here

    def show(self, file=None) -> None:
        click.echo(f"Помилка: {self.message}", file=file or sys.stderr)


class UaUsageError(click.UsageError):
    """A usage error shown in Ukrainian: usage line, where to find help, the error."""

    def __init__(self, original: click.UsageError, message: str | None = None):
        super().__init__(message or ua_message(original), ctx=original.ctx)
        self.exit_code = original.exit_code  # type: ignore[misc]  # click declares it a ClassVar; per error here

    def show(self, file=None) -> None:
        file = file or sys.stderr
        color = self.ctx.color if self.ctx is not None else None
        if self.ctx is not None:
            hint = ""
            if self.ctx.command.get_help_option(self.ctx) is not None:
                names = self.ctx.command.get_help_option_names(self.ctx)
                hint = f"Довідка: {self.ctx.command_path} {max(names, key=len)}\n"
            click.echo(f"{self.ctx.get_usage()}\n{hint}", file=file, color=color)
        click.echo(f"Помилка: {self.message}", file=file, color=color)


def _ukrainian(exc: click.ClickException) -> click.ClickException:
    """click's own exceptions in Ukrainian; the application's (already Ukrainian) pass as they are."""
    if isinstance(exc, (UaUsageError, UaClickException, NoArgsIsHelpError)) or not type(exc).__module__.startswith(
        "click"
    ):
        return exc
    if isinstance(exc, click.UsageError):
        return UaUsageError(exc)
    return UaClickException(exc)


class UaHelpFormatter(click.HelpFormatter):
    """click's help layout with Ukrainian words."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, ua_metavars(args), USAGE_PREFIX if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        super().write_heading(HEADINGS.get(heading, heading))

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(ua_metavars(first), ua_extra(second)) for first, second in rows], col_max, col_spacing)


class UaContext(click.Context):
    formatter_class = UaHelpFormatter


class UaCommand(click.Command):
    """A command whose help and usage errors are Ukrainian."""

    context_class = UaContext

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            raise _ukrainian(exc) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if exc.ctx is None:
                exc.ctx = ctx  # the usage line and the help hint of this command
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            raise _ukrainian(exc) from None
        except click.Abort:
            raise UaClickException(click.ClickException("Перервано.")) from None


class UaGroup(UaCommand, click.Group):
    """A group of Ukrainian commands; its subcommands and subgroups are made Ukrainian too."""

    command_class = UaCommand
    group_class = type  # subgroups: this same class

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            close = (
                exc.possibilities
                or [c for c in self.commands if c.startswith(exc.command_name)]
                or difflib.get_close_matches(exc.command_name, list(self.commands), cutoff=0.5)
            )
            raise UaUsageError(exc, f"Немає команди «{exc.command_name}».{_suggest(close)}") from None
