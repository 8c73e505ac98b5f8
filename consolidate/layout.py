"""The contract between template.py (writes workbooks) and intake.py (reads them back).

Every data sheet carries, in a hidden row 1, the code of each column, and in hidden column A
the stable row key (a funding line id, a measure id, an indicator id, or a proposal key).
Intake finds sheets by their content (not their names), columns by the codes in row 1 and rows
by key, so renamed sheets, inserted/deleted/re-sorted rows and inserted columns still map.
"""

from __future__ import annotations

PROGRAMME_TAG = "consolidate-496"  # marks a workbook as ours (meta sheet and custom properties)

# Sheet names as the executor sees them.
SHEET_TITLE = "Титульний аркуш"
SHEET_FUNDING = "I. Фінансування"
SHEET_EXECUTION = "II. Виконання"
SHEET_PROPOSALS = "III. Пропозиції"
SHEET_META = "_meta"

# Row 1 of each data sheet holds the column codes (hidden); the header is in rows 2..HEADER_ROWS.
CODE_ROW = 1  # 1-based
HEADER_ROWS = 4  # rows 1..4 are code row, sheet title, hint, column header
FIRST_DATA_ROW = 5  # 1-based

FUNDING_COLUMNS = (
    ("key", "Ключ"),
    ("task", "Завдання"),
    ("measure", "Захід"),
    ("source", "Джерело фінансування"),
    ("programme_amount", "Річний обсяг, передбачений програмою, тис. грн"),
    ("planned", "Річний обсяг, передбачений на рік, тис. грн"),
    ("financed", "Фактично профінансовано, тис. грн"),
    ("cash", "Касові видатки, тис. грн"),
    ("budget_code", "Код та назва бюджетної програми"),
    ("nil", "Фінансування не здійснювалось"),
    ("comment", "Примітка"),
    ("required", "req"),
)
FUNDING_INPUTS = ("financed", "cash", "budget_code", "nil", "comment")

EXECUTION_COLUMNS = (
    ("key", "Ключ"),
    ("item", "Завдання / захід / показник"),
    ("unit", "Одиниця"),
    ("planned", "Очікуваний результат (план)"),
    ("actual", "Фактично досягнуто"),
    ("numerator", "Чисельник (для відсотка)"),
    ("denominator", "Знаменник (для відсотка)"),
    ("status", "Стан виконання"),
    ("narrative", "Інформація про виконання (текст для звіту)"),
    ("required", "req"),
)
EXECUTION_INPUTS = ("actual", "numerator", "denominator", "status", "narrative")

PROPOSAL_COLUMNS = (("key", "Ключ"), ("text", "Пропозиції щодо подальшого виконання програми"))
PROPOSAL_KEYS = tuple(f"P{i}" for i in range(1, 6))

STATUS_VALUES = ("виконано", "виконано частково", "не виконано", "триває", "не здійснювалось")
NIL_STATUS = "не здійснювалось"
NIL_FUNDING = "так"

# Keys of the meta sheet (column A key, column B value) and of the custom document properties.
META_KEYS = (
    "programme",
    "programme_code",
    "template_id",
    "template_version",
    "catalogue_hash",
    "executor_code",
    "executor_name",
    "period",
    "generated_at",
)
CUSTOM_PREFIX = "consolidate."
# Below the META_KEYS rows, after one empty row, the meta sheet lists every row key of the template:
# a marker row (column A META_ROW_KEYS, column B the number of keys), then one row per key:
# column A the key, column B the sheet kind (a key of SHEET_KINDS), column C the row type (ROW_TYPES).
META_ROW_KEYS = "row_keys"
ROW_TYPES = ("funding", "task", "measure", "indicator", "proposal")

# Title sheet: the cell right of this label holds the executor's full name (fallback identification).
TITLE_EXECUTOR_LABEL = "Виконавець:"
TITLE_PERIOD_LABEL = "Звітний період:"

SHEET_KINDS = {"funding": FUNDING_COLUMNS, "execution": EXECUTION_COLUMNS, "proposals": PROPOSAL_COLUMNS}
