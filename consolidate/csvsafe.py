"""CSV cells that a spreadsheet opens as text, never as a formula (CSV injection).

Excel and LibreOffice treat a CSV cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some
versions, a tab or a carriage return before them) as a formula: a file name like
``=HYPERLINK("http://…")`` or ``=cmd|' /C calc'!A0`` sent by an executor would run when the clerk
opens the CSV.  Such text gets a leading apostrophe, the spreadsheets' own mark for "text"; numbers
are written as they are.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """``value`` made safe for a CSV cell: text that a spreadsheet would read as a formula starts with "'"."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
