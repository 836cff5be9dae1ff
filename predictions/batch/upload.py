"""Check a batch input before it is stored: UTF-8 CSV, the model's columns, within the limits."""

import csv
import io
import json
from collections import Counter
from contextlib import contextmanager
from http import HTTPStatus

from django.conf import settings
from django.core.files.base import ContentFile

from models_registry.training.datasets import HEADER_BYTES_PER_COLUMN, header_fields

# Excel writes a byte-order mark before UTF-8 CSV; it is not part of the first column name.
CSV_ENCODING = "utf-8-sig"
# Text never holds NUL bytes; a binary file (xlsx, parquet, gzip) nearly always does early on.
SNIFF_BYTES = 8192
# A header may name this many columns beyond the model's features and still be told which
# are unknown; a wider one is refused from its first bytes (BATCH_MAX_COLUMNS caps it too).
HEADER_MARGIN_COLUMNS = 10
# Values are numbers and category names: a row longer than this per column it may have is
# refused (Python's csv module would make a string of each of its fields, 30 times its size).
ROW_CHARS_PER_COLUMN = 1024
# Names quoted back in an error: enough to act on, never the whole of a hostile header
# (nor of a very wide model).
LISTED_NAMES = 10
LISTED_FEATURES = 50
LISTED_NAME_CHARS = 60


class BadUpload(Exception):
    """The input is refused before any quota is taken; `status` is the HTTP answer."""

    def __init__(self, message, status=HTTPStatus.UNPROCESSABLE_ENTITY):
        super().__init__(message)
        self.status = status


def max_upload_bytes():
    return settings.BATCH_MAX_UPLOAD_MB * 1024 * 1024


@contextmanager
def csv_reader(binary, schema):
    """The rows of a binary CSV file, decoded strictly as UTF-8; leaves the file open.

    No record may be longer than max_row_chars: csv.reader makes a string of every field, so
    one hostile 50 MB line of commas would otherwise cost gigabytes before any check ran.
    """
    text = io.TextIOWrapper(binary, encoding=CSV_ENCODING, newline="")
    budget = _RecordBudget(schema)
    try:
        yield budget.rows(csv.reader(budget.lines(text)))
    finally:
        text.detach()  # a wrapper closes its file when collected; the caller owns it


class _RecordBudget:
    """Counts the characters of the record csv.reader is reading, which may span lines."""

    def __init__(self, schema):
        self.schema = schema
        self.limit = max_row_chars(schema)
        self.taken = self.start = 0

    def lines(self, text):
        for number, line in enumerate(text, start=1):
            if not self.taken:
                self.start = number
            self.taken += len(line)
            if self.taken > self.limit:
                raise _too_long(f"The row starting on line {self.start}", self.schema)
            yield line

    def rows(self, reader):
        for row in reader:
            self.taken = 0  # csv.reader takes the next record's lines only after this
            yield row


def data_rows(reader):
    """The rows after the header; blank lines are skipped (and not numbered)."""
    return (row for row in reader if row)


def plain_lines(data):
    """(header fields, data lines) of a plain file, else None (see predictions.batch.plain).

    Plain: no quotes, and every non-blank data line has as many fields as the header.
    """
    if b'"' in data:
        return None
    try:
        text = data.decode(CSV_ENCODING)
    except UnicodeDecodeError:
        return None  # the row-by-row path reports it
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if any("\r" in line for line in lines):
        return None  # old Mac line ends: the csv module knows them, str.split does not
    if not lines or not lines[0]:
        return None  # no header: the csv path says so
    header = lines[0].split(",")
    commas = len(header) - 1
    body = [line for line in lines[1:] if line]  # blank lines are skipped, not numbered
    if any(line.count(",") != commas for line in body):
        return None
    return header, body


def max_columns(schema):
    """The widest header a model's input may have."""
    return min(len(schema) + HEADER_MARGIN_COLUMNS, settings.BATCH_MAX_COLUMNS)


def max_row_chars(schema):
    """The longest line (or quoted record) a model's input may have."""
    return max_columns(schema) * ROW_CHARS_PER_COLUMN


def check_width(data, schema):
    """Refuse a header wider than the model can use, looking at the first line's bytes only.

    Runs before anything is decoded or split: the work is bounded by the model's width, not
    by the file (a 100,000-name header once held a worker past gunicorn's timeout).
    """
    limit = max_columns(schema)
    max_bytes = limit * HEADER_BYTES_PER_COLUMN
    fields, complete = header_fields(data, max_bytes=max_bytes)
    if fields > limit:
        raise _too_wide(f"{'' if complete else 'at least '}{fields}", schema)
    if not complete:
        raise BadUpload(
            f"The CSV header row is longer than {max_bytes // 1024} KB, too long for the "
            f"model's {len(schema)} columns: {_expected(schema)}."
        )


def _too_wide(count, schema):
    return BadUpload(
        f"The CSV header has {count} columns; the model takes {len(schema)} "
        f"({_expected(schema)}) and at most {max_columns(schema)} are read."
    )


def _features(schema):
    return [feature["name"] for feature in schema]


def _expected(schema):
    return _listed(_features(schema), LISTED_FEATURES)


def _listed(names, limit=LISTED_NAMES):
    """Names for an error message: the first `limit`, each cut short, and how many more."""
    shown = [
        name if len(name) <= LISTED_NAME_CHARS else f"{name[: LISTED_NAME_CHARS - 1]}…"
        for name in names[:limit]
    ]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def check_columns(header, schema):
    """Raise BadUpload unless the header names each required feature once and nothing else.

    Linear in the header: counted once, looked up in sets.
    """
    if len(header) > max_columns(schema):  # a quoted header over several lines gets here
        raise _too_wide(len(header), schema)
    names = [name.strip() for name in header]
    features = _features(schema)
    known = set(features)
    counts = Counter(names)
    duplicated = sorted(name for name, count in counts.items() if count > 1)
    unknown = [name for name in names if name not in known]
    missing = [f["name"] for f in schema if f.get("required", True) and f["name"] not in counts]
    problems = []
    if duplicated:
        problems.append(f"duplicated column(s): {_listed(duplicated)}")
    if unknown:
        problems.append(f"unknown column(s): {_listed(unknown)}")
    if missing:
        problems.append(f"missing column(s): {_listed(missing, LISTED_FEATURES)}")
    if problems:
        raise BadUpload(
            f"The CSV header does not match the model: {'; '.join(problems)}. "
            f"Expected columns: {_expected(schema)}."
        )
    return names


def inspect_csv(upload, schema):
    """Count the data rows of an uploaded CSV, refusing a file that cannot be a valid input."""
    limit = max_upload_bytes()
    if upload.size > limit:
        raise BadUpload(
            f"The file is {upload.size / 2**20:.1f} MB; the limit is "
            f"{settings.BATCH_MAX_UPLOAD_MB} MB.",
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    if upload.size == 0:
        raise BadUpload("The file is empty.")
    upload.seek(0)
    head = upload.read(max(SNIFF_BYTES, max_columns(schema) * HEADER_BYTES_PER_COLUMN + 1))
    if b"\0" in head[:SNIFF_BYTES]:
        raise BadUpload("The file is not a CSV text file.", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    check_width(head, schema)
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    plain = plain_lines(data)
    if plain is not None:  # the common case, counted without parsing a field
        check_columns(plain[0], schema)
        _check_line_lengths(plain[1], schema)  # as the row-by-row path would, should it run
        return _rows_checked(len(plain[1]))
    rows = 0
    try:
        with csv_reader(upload.file, schema) as reader:
            header = next(reader, None)
            if not header:
                raise BadUpload("The file is empty: expected a header row with feature names.")
            check_columns(header, schema)
            for _ in data_rows(reader):
                rows += 1
                if rows > settings.BATCH_MAX_ROWS:
                    _rows_checked(rows)
    except UnicodeDecodeError:
        raise BadUpload(
            "The file is not UTF-8 text: save the CSV as UTF-8.", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        ) from None
    except csv.Error as exc:
        raise BadUpload(f"The file is not a valid CSV: {exc}.") from None
    finally:
        upload.seek(0)
    return _rows_checked(rows)


def _check_line_lengths(lines, schema):
    limit = max_row_chars(schema)
    if max(map(len, lines), default=0) > limit:
        row = next(n for n, line in enumerate(lines, start=1) if len(line) > limit)
        raise _too_long(f"Data row {row}", schema)


def _too_long(row, schema):
    return BadUpload(
        f"{row} is longer than {max_row_chars(schema) // 1024} KB, too long for the model's "
        f"{len(schema)} columns."
    )


def _rows_checked(rows):
    if rows > settings.BATCH_MAX_ROWS:
        raise BadUpload(
            f"The file has more than {settings.BATCH_MAX_ROWS} rows, the most one job may carry.",
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    if rows == 0:
        raise BadUpload("The file has a header but no data rows.")
    return rows


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def rows_to_csv(rows, schema):
    """JSON rows as the same CSV an upload would be, so the worker reads one format."""
    if not rows:
        raise BadUpload("Send at least one row.")
    if len(rows) > settings.BATCH_MAX_ROWS:
        raise BadUpload(
            f"{len(rows)} rows is more than {settings.BATCH_MAX_ROWS}, the most one job may carry.",
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    columns = _features(schema)
    limit = max_columns(schema)
    for number, row in enumerate(rows, start=1):
        if len(row) > limit:  # refused before any key is looked at
            raise BadUpload(
                f"Row {number} has {len(row)} fields; the model takes {len(columns)} "
                f"({_expected(schema)})."
            )
    known = set(columns)
    unknown = sorted({key for row in rows for key in row} - known)
    if unknown:
        raise BadUpload(f"Unknown feature(s): {_listed(unknown)}. Expected: {_expected(schema)}.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    longest = max_row_chars(schema)
    for number, row in enumerate(rows, start=1):
        start = buffer.tell()
        writer.writerow([_cell(row.get(c)) for c in columns])
        if buffer.tell() - start > longest:  # the worker's reader would refuse it
            raise _too_long(f"Row {number}", schema)
    return ContentFile(buffer.getvalue().encode())
