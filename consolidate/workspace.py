"""Workspace: a folder with templates/ (catalogue, registry), inbox/ and the tool's state.

Layout::

    consolidate.toml     settings (sheet password, mail sender, operator); optional
    templates/           catalogue.yaml, executors.csv (the first reporting year)
    templates/2025/      catalogue.yaml, executors.csv of each later year (``consolidate catalogue new-year``)
    inbox/               returned workbooks are dropped here
    archive/             every received file, byte-identical, named by sha256
    quarantine/          rejected files with a .txt of reasons beside each
    ledger.sqlite        the ledger
    out/                 generated templates, reports, mail, status pages
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .catalogue import CATALOGUE_FILE, PERIOD_RE, REGISTRY_FILE, Catalogue, load_catalogue
from .errors import ConsolidateError
from .outliers import DEFAULT_CONFIG as OUTLIER_CONFIG

CONFIG_FILE = "consolidate.toml"
_YEAR_DIR = re.compile(r"^\d{4}$")
DEFAULT_SHEET_PASSWORD = "consolidate"
CONFIG_TEMPLATE = """\
# Налаштування робочої теки consolidate.  Рядок після «#» — пояснення; значення — у лапках.
[templates]
# Пароль захисту аркушів у шаблонах.  Захист лише підказує, що заповнювати;
# це не засіб безпеки (пароль аркуша Excel легко зняти).
sheet_password = {password}
# Хто відповідає на питання щодо заповнення (друкується в шаблонах і листах).
# Якщо не вказано — назва і скринька з [mail], ім’я і телефон з [operator].
# contact = "Назва установи, відділ, тел. +380 44 000 00 00"

[mail]
# ЗАГЛУШКА: скринька для звітів; доки тут example.org, листи не надсилаються.
sender = "reports@example.org"
sender_name = {sender_name}

[operator]
# ЗАГЛУШКА: ім’я працівника, який підписує листи і приймає рішення; доки тут «Оператор»,
# листи не надсилаються.
name = "Оператор"
# Телефон для довідок (увійде до рядка «З питань заповнення звертайтеся»).
phone = ""
"""
BUNDLED_CONFIG = "workspace.toml"  # consolidate/data/: the settings of the bundled programme's workspace


def config_for(sender_name: str = "", password: str = DEFAULT_SHEET_PASSWORD) -> str:
    """Settings of a new workspace (TOML): the mail sender named after the programme's customer."""
    import json

    return (
        CONFIG_TEMPLATE.format(
            password=json.dumps(password, ensure_ascii=False), sender_name=json.dumps(sender_name, ensure_ascii=False)
        )
        + OUTLIER_CONFIG
    )


def bundled_config() -> str:
    return (resources.files("consolidate") / "data" / BUNDLED_CONFIG).read_text(encoding="utf-8") + OUTLIER_CONFIG


DEFAULT_CONFIG = config_for()  # a workspace without consolidate.toml


@dataclass
class Workspace:
    root: Path
    _catalogue: Catalogue | None = field(default=None, repr=False)
    _config: dict | None = field(default=None, repr=False)
    _loaded: dict = field(default_factory=dict, repr=False)  # templates folder → its catalogue

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
        """The catalogue of the selected year (``use_period``); by default, of the latest year."""
        if self._catalogue is None:
            later = self.later_years()
            self._catalogue = self._load(later[max(later)] if later else self.templates_dir)
        return self._catalogue

    def _load(self, folder: Path) -> Catalogue:
        if folder not in self._loaded:
            self._loaded[folder] = load_catalogue(folder)
        return self._loaded[folder]

    def later_years(self) -> dict[int, Path]:
        """Years started after the first, each in templates/<year>/ (in year order)."""
        if not self.templates_dir.is_dir():
            return {}
        found = {
            int(d.name): d
            for d in self.templates_dir.iterdir()
            if _YEAR_DIR.match(d.name) and (d / CATALOGUE_FILE).is_file()
        }
        return dict(sorted(found.items()))

    def years(self) -> dict[int, Path]:
        """Every reporting year of the workspace → the folder of its catalogue and registry."""
        first = self._load(self.templates_dir).programme.report_year
        return {first: self.templates_dir, **{y: d for y, d in self.later_years().items() if y != first}}

    def templates_dir_of(self, year: int) -> Path:
        later = self.later_years()
        return later.get(year) or self.templates_dir

    def catalogue_for(self, period: str | int) -> Catalogue:
        """The catalogue of the year a period belongs to; a clear error for a year not started."""
        year = self._year_of(period)
        years = self.years()
        if year not in years:
            listed = ", ".join(str(y) for y in years)
            raise ConsolidateError(
                f"Період «{period}» не належить до жодного звітного року робочої теки ({listed}). Новий рік "
                f"починають командою «consolidate catalogue new-year {year}»."
            )
        return self._load(years[year])

    def use_period(self, period: str) -> str:
        """Select the catalogue of ``period``'s year for the commands that follow; returns the period checked."""
        self._year_of(period)
        self._catalogue = self.catalogue_for(period)
        return self._catalogue.check_period(period)

    @staticmethod
    def _year_of(period: str | int) -> int:
        m = PERIOD_RE.match(str(period or ""))
        if not m:
            raise ConsolidateError(
                f"Неправильний звітний період «{period}»: очікується РРРР або РРРР-Q1…Q4 (рік або квартал року)"
            )
        return int(m.group(1))

    def forget_catalogues(self) -> None:
        """Drop loaded catalogues (after the files changed)."""
        self._catalogue = None
        self._loaded.clear()

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

    @property
    def sheet_password(self) -> str:
        return str(self.setting("templates", "sheet_password", DEFAULT_SHEET_PASSWORD))

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
    """Create a fresh workspace from the bundled catalogue and registry (the demo's programme)."""
    dest = Path(dest).resolve()
    tdir = dest / "templates"
    if (tdir / CATALOGUE_FILE).exists() and not force:
        raise ConsolidateError(f"У «{dest}» вже є робоча тека (templates/{CATALOGUE_FILE}); нічого не змінено.")
    tdir.mkdir(parents=True, exist_ok=True)
    for name, data in bundled_templates():
        (tdir / name).write_bytes(data)
    cfg = dest / CONFIG_FILE
    if not cfg.exists():
        cfg.write_text(bundled_config(), encoding="utf-8")
    ws = Workspace(dest)
    ws.ensure_dirs()
    return ws
