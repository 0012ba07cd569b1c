"""CSV cells that a spreadsheet opens as text, never as a formula (CSV/formula injection).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, after a leading tab or carriage return, whatever follows). A participant's Prolific ID, an
LLM's answer or an item's text in a download could then run ``=HYPERLINK(...)`` or worse on a
researcher's machine. Following OWASP's advice, every CSV this platform serves escapes such a
text cell by prefixing a single quote ``'``; the spreadsheet shows the text and does not evaluate it.

Numbers stay numbers: a cell that reads as a plain decimal number (``-0.25``, ``+3``, ``-1e-05``)
is left alone, whether it arrives as a float or already formatted as text. Every other cell is
unchanged, so the tidy CSV keeps its columns and values. No Django here: plain values and DataFrames.
"""

import re

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = re.compile(r"[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def spreadsheet_cell(value):
    """``value``, or ``"'" + value`` for text a spreadsheet would evaluate as a formula.

    Examples
    --------
    >>> spreadsheet_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> spreadsheet_cell("-0.25"), spreadsheet_cell(-0.25), spreadsheet_cell("Benevolence")
    ('-0.25', -0.25, 'Benevolence')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``spreadsheet_cell`` applied to its text cells, column by column.

    Numeric, boolean and datetime columns are never touched; the input frame is not modified.
    """
    escaped = None
    for column in frame.columns:
        values = frame[column]
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        try:
            risky = values.str.match(_FORMULA_START, na=False) & ~values.str.fullmatch(_PLAIN_NUMBER, na=False)
        except AttributeError:  # an object column without any text (e.g. all None)
            continue
        if risky.any():
            escaped = frame.copy() if escaped is None else escaped
            escaped[column] = values.mask(risky, "'" + values[risky].astype(str))
    return frame if escaped is None else escaped
