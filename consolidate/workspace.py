"""Workspace: a folder with templates/ (catalogue, registry), inbox/ and the tool's state.

Layout::

    consolidate.toml     settings (sheet password, mail sender, operator); optional
    templates/           catalogue.yaml, executors.csv
    inbox/               returned workbooks are dropped here
    archive/             every received file, byte-identical, named by sha256
    quarantine/          rejected files with a .txt of reasons beside each
    ledger.sqlite        the ledger
    out/                 generated templates, reports, mail, status pages
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .catalogue import CATALOGUE_FILE, REGISTRY_FILE, Catalogue, load_catalogue
from .errors import ConsolidateError
from .outliers import DEFAULT_CONFIG as OUTLIER_CONFIG

CONFIG_FILE = "consolidate.toml"
DEFAULT_CONFIG = """\
# Settings of this consolidate workspace.
[templates]
# Password of the sheet protection in generated templates.  Protection guides input;
# it is no security (Excel's sheet password is a weak 16-bit hash).
sheet_password = "496-r"

[mail]
sender = "antitrafficking@example.org"   # PLACEHOLDER: the ministry's reporting mailbox
sender_name = "Мінсоцполітики, протидія торгівлі людьми"

[operator]
name = "Оператор"
""" + OUTLIER_CONFIG


@dataclass
class Workspace:
    root: Path
    _catalogue: Catalogue | None = field(default=None, repr=False)
    _config: dict | None = field(default=None, repr=False)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.sqlite"

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = load_catalogue(self.templates_dir)
        return self._catalogue

    @property
    def config(self) -> dict:
        if self._config is None:
            path = self.root / CONFIG_FILE
            text = path.read_text(encoding="utf-8") if path.exists() else DEFAULT_CONFIG
            try:
                self._config = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ConsolidateError(f"{path}: помилка в налаштуваннях ({exc})") from exc
        return self._config

    def setting(self, section: str, key: str, default=None):
        return (self.config.get(section) or {}).get(key, default)

    def ensure_dirs(self) -> None:
        for d in (self.inbox, self.archive, self.quarantine, self.out):
            d.mkdir(parents=True, exist_ok=True)


def open_workspace(root: Path | str = ".") -> Workspace:
    root = Path(root).resolve()
    if not (root / "templates" / CATALOGUE_FILE).exists():
        raise ConsolidateError(
            f"«{root}» не є робочою текою consolidate: немає templates/{CATALOGUE_FILE}. "
            f"Створіть її командою «consolidate init ТЕКА» або вкажіть --workspace."
        )
    return Workspace(root)


def bundled_templates() -> list[tuple[str, bytes]]:
    """The catalogue and registry shipped with the package.

    A wheel carries the repository's templates/ as the package ``consolidate.bundled``;
    a source checkout (editable install) reads templates/ beside the package.
    """
    try:
        pkg = resources.files("consolidate.bundled")
        files = [(name, (pkg / name).read_bytes()) for name in (CATALOGUE_FILE, REGISTRY_FILE)]
    except (ModuleNotFoundError, FileNotFoundError):
        src = Path(__file__).resolve().parent.parent / "templates"
        files = [(name, (src / name).read_bytes()) for name in (CATALOGUE_FILE, REGISTRY_FILE)]
    return files


def init_workspace(dest: Path | str, force: bool = False) -> Workspace:
    """Create a fresh workspace from the bundled 496-р catalogue and registry."""
    dest = Path(dest).resolve()
    tdir = dest / "templates"
    if (tdir / CATALOGUE_FILE).exists() and not force:
        raise ConsolidateError(f"У «{dest}» вже є робоча тека (templates/{CATALOGUE_FILE}); нічого не змінено.")
    tdir.mkdir(parents=True, exist_ok=True)
    for name, data in bundled_templates():
        (tdir / name).write_bytes(data)
    cfg = dest / CONFIG_FILE
    if not cfg.exists():
        cfg.write_text(DEFAULT_CONFIG, encoding="utf-8")
    ws = Workspace(dest)
    ws.ensure_dirs()
    return ws

