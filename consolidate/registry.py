"""Executor registry: who reports (code, names, kind, contacts)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import CatalogueError

KINDS = ("central", "oblast", "kyiv_city", "hromada", "department")
KIND_LABELS = {
    "central": "центральний орган",
    "oblast": "обласна адміністрація",
    "kyiv_city": "Київська міська адміністрація",
    "hromada": "територіальна громада",
    "department": "структурний підрозділ (департамент, управління, служба)",
}
REGIONAL_KINDS = ("oblast", "kyiv_city")
FIELDS = ("code", "short_name", "full_name", "kind", "parent", "emails", "contact_person", "aliases")


@dataclass(frozen=True)
class Executor:
    code: str
    short_name: str
    full_name: str
    kind: str
    parent: str = ""
    emails: tuple[str, ...] = ()
    contact_person: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def is_regional(self) -> bool:
        return self.kind in REGIONAL_KINDS

    @property
    def names(self) -> tuple[str, ...]:
        """Every name under which the executor may appear in text, longest first."""
        return tuple(sorted({self.short_name, self.full_name, *self.aliases}, key=len, reverse=True))


class Registry:
    """Ordered collection of executors (order = order of the file)."""

    def __init__(self, executors: list[Executor]):
        self.executors = list(executors)
        self._by_code = {e.code: e for e in self.executors}
        self._by_name: dict[str, Executor] | None = None  # normalised name → first executor with it

    def __iter__(self):
        return iter(self.executors)

    def __len__(self) -> int:
        return len(self.executors)

    def __contains__(self, code: str) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Executor | None:
        return self._by_code.get(code)

    def __getitem__(self, code: str) -> Executor:
        return self._by_code[code]

    def regional(self) -> list[Executor]:
        return [e for e in self.executors if e.is_regional]

    def of_kind(self, *kinds: str) -> list[Executor]:
        return [e for e in self.executors if e.kind in kinds]

    def find_by_name(self, name: str) -> Executor | None:
        """Executor whose short name, full name or alias equals ``name`` (case and spaces ignored)."""
        if self._by_name is None:
            by_name: dict[str, Executor] = {}
            for e in self.executors:
                for n in e.names:
                    by_name.setdefault(_norm(n), e)
            self._by_name = by_name
        return self._by_name.get(_norm(name))


def _norm(text: str) -> str:
    return " ".join(str(text).replace("'", "’").split()).casefold()


def _split(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").replace(",", ";").split(";") if p.strip())


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """The registry's text and the encoding it was saved in.

    Excel saves «CSV UTF-8» with a BOM, plain «CSV» in the system's ANSI code page (Windows-1251 on a
    Ukrainian Windows) and «Unicode Text» as UTF-16 with a BOM; LibreOffice and editors save UTF-8.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise CatalogueError([f"{path}: файл у кодуванні UTF-16 пошкоджено (байт {exc.start + 1})"]) from exc
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1251"), "Windows-1251"
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CatalogueError(
            [
                f"{path}, рядок {line}, символ {col}: байт 0x{raw[exc.start]:02X} не є текстом ні в UTF-8, ні в "
                f"Windows-1251; збережіть файл в Excel як «CSV UTF-8 (розділювачі-коми)» або «CSV (розділювачі-коми)»"
            ]
        ) from exc


def _is_comment(line: str) -> bool:
    # Excel keeps a comment line as the text of cell A1: quoted when it held the separator, padded with
    # empty cells (`# …;;;;;;;`) to the width of the sheet.
    return line.lstrip().lstrip('"').startswith("#")


def _delimiter(header: str) -> str:
    """The separator of the header line: the one that splits it into the known column names."""
    best, best_hits = ",", -1
    for delim in (",", ";", "\t"):
        cells = [c.strip().strip('"').strip() for c in header.split(delim)]
        hits = sum(c in FIELDS for c in cells)
        if hits > best_hits:
            best, best_hits = delim, hits
    return best


DELIMITER_NAMES = {",": "кома", ";": "крапка з комою", "\t": "табуляція"}


def load_registry(path: Path) -> Registry:
    """Load ``executors.csv`` as Excel, LibreOffice or an editor saved it; lines starting with '#' are comments.

    Read: UTF-8 (with or without BOM), Windows-1251, UTF-16 (Excel's «Unicode Text»); separated by ``,``,
    ``;`` or tab (whichever splits the header into the known columns).  Every problem names the line and
    the column; nothing here raises anything but ``CatalogueError``.
    """
    from xlsxwriter.utility import xl_col_to_name  # column letters in the messages (0 → A)

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError([f"{path}: не вдалося прочитати реєстр виконавців ({exc.strerror})"]) from exc
    text, encoding = _decode(path, raw)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise CatalogueError([f"{path}, рядок {line}: у файлі є нульовий байт — це не текстовий CSV"])
    lines = text.splitlines()
    body = [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not _is_comment(line)]
    if not body:
        raise CatalogueError([f"{path}: реєстр виконавців порожній (очікується рядок заголовка: {','.join(FIELDS)})"])
    delim = _delimiter(body[0][1])
    try:
        rows = list(csv.reader([line for _, line in body], delimiter=delim))
    except csv.Error as exc:  # pragma: no cover - the csv module accepts nearly anything line by line
        raise CatalogueError([f"{path}: файл не є коректним CSV ({exc})"]) from exc
    header = [c.strip() for c in rows[0]]
    header_line = body[0][0]
    missing = [f for f in FIELDS if f not in header]
    if missing:
        found = ", ".join(f"«{c}»" for c in header if c) or "жодної"
        raise CatalogueError(
            [
                f"{path}, рядок {header_line} (заголовок): бракує колонок {', '.join(missing)}; прочитано колонки "
                f"{found} з розділювачем «{DELIMITER_NAMES[delim]}» і кодуванням {encoding}. Очікується заголовок "
                f"{delim.join(FIELDS)} (розділювач — кома, крапка з комою або табуляція)"
            ]
        )
    col = {name: header.index(name) for name in FIELDS}
    records = []
    problems: list[str] = []
    for (lineno, _), cells in zip(body[1:], rows[1:]):
        if len(cells) == 1 and delim in cells[0]:
            # A comma file opened in Excel with another list separator keeps each line in column A and saves
            # it back as one quoted cell: the line is still there, one level of quotes down.
            cells = next(csv.reader([cells[0]], delimiter=delim))
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.append(
                f"{path}, рядок {lineno}: клітинок більше ({len(cells)}), ніж колонок у заголовку ({len(header)}), "
                f"починаючи з колонки {xl_col_to_name(len(header))} — можливо, у назві є розділювач "
                f"«{DELIMITER_NAMES[delim]}» без лапок"
            )
            continue
        records.append((lineno, {name: (cells[i] if i < len(cells) else "") for name, i in col.items()}))

    def where(lineno: int, name: str | None = None) -> str:
        if name is None:
            return f"{path}, рядок {lineno}"
        return f"{path}, рядок {lineno}, колонка {xl_col_to_name(col[name])} «{name}»"

    return registry_from_records(records, where, problems, f"{path}")


def registry_from_records(records, where, problems: list[str] | None = None, origin: str = "") -> Registry:
    """A validated registry from ``(position, {field: text})`` records; ``where(position, field)`` names a cell.

    Shared by the CSV file and the catalogue workbook's «Виконавці» sheet.
    """
    problems = list(problems or [])
    executors: list[Executor] = []
    seen: dict[str, object] = {}
    parents_to_check: list = []
    for pos, row in records:

        def get(name: str, row=row) -> str:
            value = row.get(name)
            return "" if value is None else str(value).strip()

        code = get("code")
        if not code:
            if any(get(n) for n in FIELDS):
                problems.append(f"{where(pos, 'code')}: порожній код виконавця")
            continue
        if code in seen:
            problems.append(f"{where(pos, 'code')}: код виконавця «{code}» повторюється (уперше: {seen[code]})")
            continue
        seen[code] = where(pos)
        kind = get("kind")
        if kind not in KINDS:
            problems.append(
                f"{where(pos, 'kind')}: невідомий тип виконавця «{kind}» для «{code}» (очікується: {', '.join(KINDS)})"
            )
        short = get("short_name")
        if not short:
            problems.append(f"{where(pos, 'short_name')}: порожня коротка назва виконавця «{code}»")
        executors.append(
            Executor(
                code=code,
                short_name=short,
                full_name=get("full_name") or short,
                kind=kind,
                parent=get("parent"),
                emails=_split(get("emails")),
                contact_person=get("contact_person"),
                aliases=_split(get("aliases")),
            )
        )
        if executors[-1].parent:
            parents_to_check.append((pos, executors[-1]))
    codes = {e.code for e in executors}
    for pos, e in parents_to_check:
        if e.parent not in codes:
            problems.append(
                f"{where(pos, 'parent')}: виконавець «{e.code}» посилається на невідомого батьківського «{e.parent}»"
            )
    if problems:
        raise CatalogueError(problems)
    return Registry(executors)


def registry_text(registry: Registry, header_comment: str = "") -> str:
    buf = io.StringIO()
    if header_comment:
        buf.write(f"# {header_comment}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for e in registry:
        w.writerow(
            [
                e.code,
                e.short_name,
                e.full_name,
                e.kind,
                e.parent,
                ";".join(e.emails),
                e.contact_person,
                ";".join(e.aliases),
            ]
        )
    return buf.getvalue()


def write_registry(registry: Registry, path: Path, header_comment: str = "") -> None:
    Path(path).write_text(registry_text(registry, header_comment), encoding="utf-8")
