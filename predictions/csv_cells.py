"""CSV cells a spreadsheet shows as text: OWASP's rule against formula (CSV) injection.

A cell starting with = + - @ tab or carriage return may be run as a formula when the file is
opened in Excel or LibreOffice; a single quote before it makes it text. Numbers such as -1.5,
+3 or -2e5 start the same way and are left as they are.
"""

import re

QUOTE = "'"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"[=+\-@\t\r]"
# A tab or carriage return first is quoted whatever follows (OWASP): only signs lead numbers.
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[ \t]*"
# A cell that starts like a formula, unless all of it is a number.
_UNSAFE_CELL = re.compile(rf"(?={_FORMULA_START})(?!{_NUMBER}\Z)")
# The same rule for the fields after the first of a plain line (commas only, no quotes).
_UNSAFE_FIELD = re.compile(rf",(?={_FORMULA_START})(?!{_NUMBER}(?:,|\Z))")
_UNSAFE_FIRST_FIELD = re.compile(rf"(?={_FORMULA_START})(?!{_NUMBER}(?:,|\Z))")


def safe_cell(value):
    """`value` with a quote before it if a spreadsheet could take it for a formula."""
    if isinstance(value, str) and _UNSAFE_CELL.match(value):
        return QUOTE + value
    return value


def safe_row(values):
    return [safe_cell(value) for value in values]


def safe_lines(lines):
    """Plain CSV lines (no quotes, no line breaks), each field as safe_cell would write it.

    Only a line with a field that starts like a formula is rebuilt; the rest come back as
    they were. Plain substring tests find them (a chunk without any of the characters is
    done after one fast scan per character), so clean files stay fast.
    """
    text = "\n".join(lines)
    present = [start for start in FORMULA_STARTS if start in text]
    if not present:
        return lines
    after_comma = tuple("," + start for start in present)
    return [
        _safe_line(line)
        if line.startswith(FORMULA_STARTS) or any(s in line for s in after_comma)
        else line
        for line in lines
    ]


def _safe_line(line):
    line = _UNSAFE_FIELD.sub("," + QUOTE, line)
    return QUOTE + line if _UNSAFE_FIRST_FIELD.match(line) else line
