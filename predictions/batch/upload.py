"""Check a batch input before it is stored: UTF-8 CSV, the model's columns, within the limits."""

import csv
import io
import json
from contextlib import contextmanager
from http import HTTPStatus

from django.conf import settings
from django.core.files.base import ContentFile

# Excel writes a byte-order mark before UTF-8 CSV; it is not part of the first column name.
CSV_ENCODING = "utf-8-sig"
# Text never holds NUL bytes; a binary file (xlsx, parquet, gzip) nearly always does early on.
SNIFF_BYTES = 8192


class BadUpload(Exception):
    """The input is refused before any quota is taken; `status` is the HTTP answer."""

    def __init__(self, message, status=HTTPStatus.UNPROCESSABLE_ENTITY):
        super().__init__(message)
        self.status = status


def max_upload_bytes():
    return settings.BATCH_MAX_UPLOAD_MB * 1024 * 1024


@contextmanager
def csv_reader(binary):
    """A csv.reader over a binary file, decoding UTF-8 strictly; leaves the file open."""
    text = io.TextIOWrapper(binary, encoding=CSV_ENCODING, newline="")
    try:
        yield csv.reader(text)
    finally:
        text.detach()  # a wrapper closes its file when collected; the caller owns it


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


def check_columns(header, schema):
    """Raise BadUpload unless the header names each required feature once and nothing else."""
    names = [name.strip() for name in header]
    features = [feature["name"] for feature in schema]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    unknown = [name for name in names if name not in features]
    missing = [f["name"] for f in schema if f.get("required", True) and f["name"] not in names]
    problems = []
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if problems:
        raise BadUpload(
            f"The CSV header does not match the model: {'; '.join(problems)}. "
            f"Expected columns: {', '.join(features)}."
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
    if b"\0" in upload.read(SNIFF_BYTES):
        raise BadUpload("The file is not a CSV text file.", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    plain = plain_lines(data)
    if plain is not None:  # the common case, counted without parsing a field
        check_columns(plain[0], schema)
        return _rows_checked(len(plain[1]))
    rows = 0
    try:
        with csv_reader(upload.file) as reader:
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
    columns = [feature["name"] for feature in schema]
    known = set(columns)
    unknown = sorted({key for row in rows for key in row} - known)
    if unknown:
        raise BadUpload(
            f"Unknown feature(s): {', '.join(unknown)}. Expected: {', '.join(columns)}."
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return ContentFile(buffer.getvalue().encode())
