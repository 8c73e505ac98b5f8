"""Executor registry: who reports (code, names, kind, contacts)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import CatalogueError

KINDS = ("central", "oblast", "kyiv_city", "hromada")
KIND_LABELS = {
    "central": "центральний орган",
    "oblast": "обласна адміністрація",
    "kyiv_city": "Київська міська адміністрація",
    "hromada": "територіальна громада",
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


def load_registry(path: Path) -> Registry:
    """Load ``executors.csv``; lines starting with '#' are comments."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CatalogueError([f"{path}: не вдалося прочитати реєстр виконавців ({exc.strerror})"]) from exc
    lines = text.splitlines()
    body = [(n, line) for n, line in enumerate(lines, 1) if not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in body)))
    problems: list[str] = []
    missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise CatalogueError([f"{path}: у заголовку бракує колонок: {', '.join(missing)}"])
    executors: list[Executor] = []
    seen: dict[str, int] = {}
    for idx, row in enumerate(reader):
        lineno = body[idx + 1][0] if idx + 1 < len(body) else len(lines)
        where = f"{path}, рядок {lineno}"
        code = (row.get("code") or "").strip()
        if not code:
            problems.append(f"{where}: порожній код виконавця")
            continue
        if code in seen:
            problems.append(f"{where}: код виконавця «{code}» повторюється (уперше в рядку {seen[code]})")
            continue
        seen[code] = lineno
        kind = (row.get("kind") or "").strip()
        if kind not in KINDS:
            problems.append(f"{where}: невідомий тип виконавця «{kind}» для «{code}» (очікується: {', '.join(KINDS)})")
        short = (row.get("short_name") or "").strip()
        if not short:
            problems.append(f"{where}: порожня коротка назва виконавця «{code}»")
        executors.append(Executor(
            code=code,
            short_name=short,
            full_name=(row.get("full_name") or "").strip() or short,
            kind=kind,
            parent=(row.get("parent") or "").strip(),
            emails=_split(row.get("emails") or ""),
            contact_person=(row.get("contact_person") or "").strip(),
            aliases=_split(row.get("aliases") or ""),
        ))
    codes = {e.code for e in executors}
    for e in executors:
        if e.parent and e.parent not in codes:
            problems.append(f"{path}: виконавець «{e.code}» посилається на невідомого батьківського «{e.parent}»")
    if problems:
        raise CatalogueError(problems)
    return Registry(executors)


def write_registry(registry: Registry, path: Path, header_comment: str = "") -> None:
    buf = io.StringIO()
    if header_comment:
        buf.write(f"# {header_comment}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for e in registry:
        w.writerow([e.code, e.short_name, e.full_name, e.kind, e.parent, ";".join(e.emails),
                    e.contact_person, ";".join(e.aliases)])
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
