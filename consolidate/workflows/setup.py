"""``init``, ``templates``, ``verify``, ``demo``: a workspace made, its templates written, its files checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConsolidateError
from ..workspace import Workspace, init_workspace
from .base import ExitCode, Result
from .common import executor_codes, resolve_period


@dataclass
class WorkspaceMade(Result):
    workspace: Workspace

    def to_dict(self) -> dict[str, Any]:
        cat = self.workspace.catalogue
        return {
            "root": str(self.workspace.root),
            "tasks": len(cat.tasks),
            "measures": len(cat.measures),
            "indicators": len(cat.indicators),
            "funding": len(cat.funding),
            "executors": len(cat.registry),
            "ok": self.ok,
            "exit_code": int(self.exit_code),
        }


def init(directory: Path | str, force: bool = False) -> WorkspaceMade:
    """A fresh workspace with the bundled catalogue and registry."""
    return WorkspaceMade(init_workspace(directory, force=force))


@dataclass
class TemplatesWritten(Result):
    period: str
    folder: Path
    version: str
    files: list = field(default_factory=list)  # template.TemplateFile per executor

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.csv"


def templates(ws: Workspace, period: str | None = None, executors=(), timestamp: str | None = None) -> TemplatesWritten:
    """Protected workbooks per executor in out/templates/<period>/; the same data give byte-identical files."""
    from ..history import record_templates
    from ..mail import template_contact
    from ..template import DEFAULT_TIMESTAMP, parse_timestamp, write_templates

    period = resolve_period(ws, period)
    codes = executor_codes(ws, executors) if executors else None
    generated_at = parse_timestamp(timestamp) if timestamp else DEFAULT_TIMESTAMP
    files = write_templates(
        ws.catalogue,
        ws.out / "templates",
        period,
        ws.sheet_password,
        codes,
        generated_at=generated_at,
        contact=template_contact(ws),
    )
    record_templates(ws, ws.catalogue, files)  # which catalogue version each template used
    return TemplatesWritten(period, ws.out / "templates" / period, ws.catalogue.template_version, files)


@dataclass
class TemplateRow:
    """One expected executor's template as the manifest lists it ("" when none was written yet)."""

    code: str
    file: str = ""
    version: str = ""
    current: bool = False  # written with the catalogue's current version
    letter: Any = None  # ledger.MailRecord of the last letter that sent it, or None


@dataclass
class TemplatesListed(Result):
    period: str
    version: str  # the catalogue's template version
    rows: list[TemplateRow] = field(default_factory=list)  # per expected executor, in the registry's order

    @property
    def letters(self) -> dict[str, Any]:
        """executor → the last template letter recorded for it."""
        return {r.code: r.letter for r in self.rows if r.letter is not None}


def templates_listing(ws: Workspace, period: str | None = None) -> TemplatesListed:
    """Which templates out/templates/<period>/ holds (current or outdated) and when each was last sent."""
    from ..ledger import Ledger
    from ..status import TEMPLATE
    from ..template import MANIFEST, read_manifest

    period = resolve_period(ws, period)
    cat = ws.catalogue
    version = cat.template_version  # a digest of the whole catalogue: once, not per row
    path = ws.out / "templates" / period / MANIFEST
    listed = {row["executor"]: row for row in read_manifest(path)} if path.is_file() else {}
    with Ledger(ws.ledger_path) as ledger:
        letters = {m.executor: m for m in ledger.mails(period=period, kind=TEMPLATE)}
    rows = []
    for code in cat.expected_executors():
        row = listed.get(code, {})
        written = row.get("template_version", "")
        rows.append(TemplateRow(code, row.get("file", ""), written, written == version, letters.get(code)))
    return TemplatesListed(period, version, rows)


@dataclass
class TemplateFiles(Result):
    period: str
    expected: list[str]  # the executors asked for
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # executor → (file name, bytes)

    @property
    def missing(self) -> list[str]:
        """Those asked for whose current template is not there (only when nothing was to be generated)."""
        return [c for c in self.expected if c not in self.files]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "files": {code: name for code, (name, _) in self.files.items()},
            "missing": self.missing,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
        }


def template_files(ws: Workspace, period: str | None = None, executors=(), *, generate: bool = True) -> TemplateFiles:
    """The current template of each executor (default: every expected one) as (file name, bytes).

    A missing or outdated template is generated first (as :func:`templates` does) — unless ``generate`` is
    false (a reader who changes nothing): then it is left out (:attr:`TemplateFiles.missing`)."""
    from ..mail import template_files as current_templates

    period = resolve_period(ws, period)
    codes = executor_codes(ws, executors)
    return TemplateFiles(period, codes, current_templates(ws, period, codes, generate=generate))


@dataclass
class Verified(Result):
    verification: Any  # verify.Verification

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.CLEAN if self.verification.ok else ExitCode.PROBLEMS

    def to_dict(self) -> dict[str, Any]:
        return self.verification.as_dict()


def verify(ws: Workspace) -> Verified:
    """Ledger, archive and quarantine agree (read only)."""
    from ..verify import verify_workspace

    return Verified(verify_workspace(ws))


@dataclass
class DemoRun(Result):
    run: Any  # demo.DemoResult


def demo(directory: Path | str | None = None, echo=print, mail: bool | None = None) -> DemoRun:
    """The whole 2024 cycle on the bundled data, in a new folder (./demo, or a temporary one if that exists).

    ``mail``: None — the mail round when this computer can run a throw-away mail server; True — it must;
    False — none (:func:`consolidate.demo.run`)."""
    import tempfile

    from ..demo import run

    if directory is None:
        directory = Path("demo")
        if directory.exists():
            directory = Path(tempfile.mkdtemp(prefix="consolidate-demo-"))
    elif Path(directory).exists() and any(Path(directory).iterdir()):
        raise ConsolidateError(f"Тека «{directory}» не порожня: демонстрація потребує нової теки.")
    return DemoRun(run(Path(directory), echo=echo, mail=mail))
