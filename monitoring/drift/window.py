"""Read a window of the prediction log in PostgreSQL: totals, per-column bucket counts, a sample.

A million logged rows never reach Python. A first scan counts the window from plain columns.
A second expands each record's input rows (zipped with its outputs), turns every checked
column into a bucket digit (reference bin or category, 'other', or missing) and counts them;
past HISTOGRAM_MAX_ROWS it does so on a uniform random sample of records, since parsing JSON is
the whole cost and a hundred thousand rows pin bin proportions down to about 0.1%.
A third, bounded query draws the raw values the KS and Wasserstein tests need.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction

from monitoring.drift.columns import OUTPUT
from predictions.models import Prediction, PredictionStatus

# Codes are pack number * PACK_LIMIT + the pack's columns' bucket digits in mixed radix.
PACK_LIMIT = 4096
SAMPLE_ROWS = 5000
HISTOGRAM_MAX_ROWS = 100_000
NAME_BYTES = 64  # PostgreSQL's NAMEDATALEN

TABLE = Prediction._meta.db_table
WINDOW_WHERE = (
    "p.version_id = %s AND p.status = %s AND p.created_at >= %s AND p.created_at < %s"
    " AND jsonb_typeof(p.inputs) = 'array'"
)
# Each input row alongside its own output; outputs that are not a list count as missing.
ROWS_FROM = (
    "CROSS JOIN LATERAL ROWS FROM (jsonb_array_elements(p.inputs), jsonb_array_elements("
    "CASE WHEN jsonb_typeof(p.outputs) = 'array' THEN p.outputs ELSE '[]'::jsonb END)) AS x(e, o)"
)


@dataclass
class WindowCounts:
    rows: int  # input rows counted (all of the window's, or the sampled records' rows)
    # per column: (missing, [count per bucket])
    columns: list


@contextmanager
def _scan_cursor():
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner likes to memoize the per-row unnest on the input row: a cache that never
        # hits, costing half the query.
        cursor.execute("SET LOCAL enable_memoize = off")
        # JIT-compiling a few hundred bucket expressions costs more than it saves here.
        cursor.execute("SET LOCAL jit = off")
        yield cursor


def _elsewhere():
    """The Python twin of this module, when the database is not PostgreSQL (the demo)."""
    if connection.vendor == "postgresql":
        return None
    from monitoring.drift import window_orm

    return window_orm


def window_rows(version, start, end):
    """Input rows logged in the window (from the rows column: no JSON is read)."""
    if other := _elsewhere():
        return other.window_rows(version, start, end)
    sql = f"SELECT coalesce(sum(p.rows), 0) FROM {TABLE} p WHERE {WINDOW_WHERE}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, _window_params(version, start, end))
        return int(cursor.fetchone()[0])


def out_of_range_rows(version, start, end):
    """{feature: rows served with it outside the schema's range} in the window, from the log.

    Reads only the records the writer flagged (the `out_of_range` column), never the inputs.
    """
    if other := _elsewhere():
        return other.out_of_range_rows(version, start, end)
    sql = (
        f"SELECT f.key, sum(f.value::bigint) FROM {TABLE} p"  # noqa: S608
        " CROSS JOIN LATERAL jsonb_each_text(p.out_of_range) AS f"
        f" WHERE {WINDOW_WHERE} AND p.out_of_range IS NOT NULL"
        " AND jsonb_typeof(p.out_of_range) = 'object' GROUP BY f.key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, _window_params(version, start, end))
        return {key: int(rows) for key, rows in cursor.fetchall()}


def _sampled(fraction):
    # Tied to p on purpose: a qual naming no table is evaluated after the joins, i.e. after
    # every row's JSON was already parsed; this one filters records as they are scanned.
    return (" AND (p.id IS NULL OR random() < %s)", [fraction]) if fraction < 1 else ("", [])


def _identifier(name):
    # Doubled quotes per SQL; doubled percent signs, as the text then goes through %s binding.
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


def _record(columns):
    """`jsonb_to_record` over each input row: one pass types every column (4x faster than ->>)."""
    fields = [
        f"{_identifier(c.name)} {'float8' if c.numeric_values else 'text'}"
        for c in columns
        if c.source != OUTPUT and _fits(c)
    ]
    return f"CROSS JOIN LATERAL jsonb_to_record(x.e) AS r({', '.join(fields)})" if fields else ""


def _fits(column):
    # Longer names would be truncated as record fields and silently never match a key.
    return len(column.name.encode()) < NAME_BYTES


def _value(column):
    """SQL (and params) reading one column's value of the current row, typed for its buckets."""
    cast = "::float8" if column.numeric_values else ""
    if column.source == OUTPUT:
        return f"(x.o #>> '{{}}'){cast}", []
    if _fits(column):
        return f"r.{_identifier(column.name)}", []
    return f"(x.e ->> %s){cast}", [column.name]


def _digit(column):
    """SQL for the column's bucket as a digit: 0 missing, then 1.. per bin or category."""
    value, params = _value(column)
    if column.numeric:
        # width_bucket over the inner edges: 0 below the first, len(edges) at or above the last.
        return f"coalesce(width_bucket({value}, %s::float8[]) + 1, 0)", [*params, column.edges]
    # NULL first: array_position matches it (IS NOT DISTINCT FROM), so missing -> 0, then the
    # categories from 1, and anything unknown falls through to the last, "other", digit.
    kind = "float8" if column.numeric_values else "text"
    return (
        f"coalesce(array_position(%s::{kind}[], {value}) - 1, {len(column.categories) + 1})",
        [[None, *column.categories], *params],
    )


def _radix(column):
    return column.bucket_count + 1


def _packs(columns):
    """Column indexes grouped so each group's digits pack into one code below PACK_LIMIT."""
    packs, current, size = [], [], 1
    for index, column in enumerate(columns):
        if current and size * _radix(column) > PACK_LIMIT:
            packs.append(current)
            current, size = [], 1
        current.append(index)
        size *= _radix(column)
    return [*packs, current] if current else packs


def _window_params(version, start, end):
    return [version.pk, PredictionStatus.OK, start, end]


def bucket_counts(version, columns, start, end, *, fraction=1.0):
    if other := _elsewhere():
        return other.bucket_counts(version, columns, start, end, fraction=fraction)
    # Several columns share one code (mixed-radix digits), so each row feeds the aggregate a
    # handful of codes rather than one per column: the aggregate is most of the query's cost.
    packs = _packs(columns)
    codes, params = [], []
    for number, pack in enumerate(packs):
        terms, weight = [], 1
        for index in pack:
            sql, column_params = _digit(columns[index])
            terms.append(f"{weight} * {sql}")
            params.extend(column_params)
            weight *= _radix(columns[index])
        codes.append(f"{number * PACK_LIMIT} + " + " + ".join(terms))
    sql = (
        f"SELECT code, count(*) FROM {TABLE} p {ROWS_FROM} {_record(columns)}"  # noqa: S608
        f" CROSS JOIN LATERAL unnest(ARRAY[{', '.join(codes)}]::int[]) AS code"
        f" WHERE {WINDOW_WHERE}{_sampled(fraction)[0]} GROUP BY code"
    )
    with _scan_cursor() as cursor:
        window = _window_params(version, start, end) + _sampled(fraction)[1]
        cursor.execute(sql, params + window)
        found = cursor.fetchall()
    missing = [0] * len(columns)
    counts = [[0] * c.bucket_count for c in columns]
    for code, count in found:
        number, packed = divmod(code, PACK_LIMIT)
        for index in packs[number]:
            packed, digit = divmod(packed, _radix(columns[index]))
            if digit:
                counts[index][digit - 1] += count
            else:
                missing[index] += count
    rows = (missing[0] + sum(counts[0])) if columns else 0
    return WindowCounts(rows=rows, columns=list(zip(missing, counts, strict=True)))


def numeric_sample(version, columns, start, end, *, fraction=1.0, size=SAMPLE_ROWS):
    """About `size` random rows of the window: {column name: [values, missing ones dropped]}.

    `fraction` is the share of records to draw, e.g. size / window rows.
    """
    if other := _elsewhere():
        return other.numeric_sample(version, columns, start, end, fraction=fraction, size=size)
    if not columns:
        return {}
    values, params = [], []
    for column in columns:
        sql, column_params = _value(column)
        values.append(sql)
        params.extend(column_params)
    where, where_params = _sampled(fraction)
    sql = (
        f"SELECT {', '.join(values)} FROM {TABLE} p {ROWS_FROM} {_record(columns)}"  # noqa: S608
        f" WHERE {WINDOW_WHERE}{where} LIMIT %s"
    )
    with _scan_cursor() as cursor:
        cursor.execute(sql, params + _window_params(version, start, end) + where_params + [size])
        rows = cursor.fetchall()
    return {
        column.name: [row[i] for row in rows if row[i] is not None]
        for i, column in enumerate(columns)
    }
