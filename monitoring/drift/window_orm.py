"""The drift window's reads for databases other than PostgreSQL (the embedded demo's SQLite).

The same answers as monitoring.drift.window, bucket for bucket, but worked out in Python over
the window's records read through the ORM: fine for a demo's thousands of rows, while
production's millions stay in PostgreSQL.
"""

import bisect
import json
import random
from collections import Counter
from itertools import zip_longest

from monitoring.drift.columns import OUTPUT
from monitoring.drift.window import SAMPLE_ROWS, WindowCounts
from predictions.models import Prediction, PredictionStatus


def _records(version, start, end, fraction=1.0):
    rows = Prediction.objects.filter(
        version=version, status=PredictionStatus.OK, created_at__gte=start, created_at__lt=end
    ).values_list("inputs", "outputs")
    for inputs, outputs in rows.iterator():
        if isinstance(inputs, list) and (fraction >= 1 or random.random() < fraction):  # noqa: S311
            yield inputs, outputs


def _rows(version, start, end, fraction=1.0):
    """(input row, output) pairs, as PostgreSQL's ROWS FROM pairs them (the shorter padded)."""
    for inputs, outputs in _records(version, start, end, fraction):
        yield from zip_longest(inputs, outputs if isinstance(outputs, list) else [])


def _value(column, row, output):
    raw = output if column.source == OUTPUT else (row.get(column.name) if row else None)
    if raw is None or isinstance(raw, (dict, list)):
        return None
    if column.numeric_values:
        try:
            return float(raw)
        except (TypeError, ValueError):
            return None
    return raw if isinstance(raw, str) else json.dumps(raw)


def _digit(column, value):
    """0 missing, then 1.. per bin or category, and the last digit for an unknown category."""
    if value is None:
        return 0
    if column.numeric:
        return bisect.bisect_right(column.edges, value) + 1  # as width_bucket
    try:
        return column.categories.index(value) + 1
    except ValueError:
        return len(column.categories) + 1


def out_of_range_rows(version, start, end):
    found = Counter()
    rows = Prediction.objects.filter(
        version=version,
        status=PredictionStatus.OK,
        created_at__gte=start,
        created_at__lt=end,
        out_of_range__isnull=False,
    ).values_list("out_of_range", flat=True)
    for flagged in rows.iterator():
        if isinstance(flagged, dict):
            found.update({key: int(count) for key, count in flagged.items()})
    return dict(found)


def window_rows(version, start, end):
    return sum(len(inputs) for inputs, _ in _records(version, start, end))


def bucket_counts(version, columns, start, end, *, fraction=1.0):
    missing = [0] * len(columns)
    counts = [[0] * c.bucket_count for c in columns]
    rows = 0
    for row, output in _rows(version, start, end, fraction):
        rows += 1
        for index, column in enumerate(columns):
            digit = _digit(column, _value(column, row, output))
            if digit:
                counts[index][digit - 1] += 1
            else:
                missing[index] += 1
    return WindowCounts(
        rows=rows if columns else 0, columns=list(zip(missing, counts, strict=True))
    )


def numeric_sample(version, columns, start, end, *, fraction=1.0, size=SAMPLE_ROWS):
    if not columns:
        return {}
    sample = {column.name: [] for column in columns}
    for taken, (row, output) in enumerate(_rows(version, start, end, fraction)):
        if taken >= size:
            break
        for column in columns:
            value = _value(column, row, output)
            if value is not None:
                sample[column.name].append(value)
    return sample
