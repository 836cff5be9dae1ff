"""One chunk of CSV rows: validated column by column, predicted at once, laid out as result rows.

This is the path for any CSV the csv module reads (quoted fields, ragged rows); plain files
take the faster path in predictions.batch.plain, which lays out its rows with chunk_result.

Checks run vectorised over the whole chunk; only rows they flag go through the per-row
validator (predictions.validation), so the messages are exactly those of the predict API.
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from predictions.csv_cells import safe_cell, safe_row
from predictions.validation import validate_rows

PREDICTION_COLUMN = "prediction"
PROBABILITY_PREFIX = "probability_"
ERROR_COLUMN = "error"
RANGE_KEYS = ("min", "max")


@dataclass
class ChunkResult:
    # Per row: [prediction, *probabilities, error], what follows its input fields in the
    # result CSV, text cells already made spreadsheet-safe (predictions.csv_cells).
    tails: list
    failed: int = 0
    errors: list = field(default_factory=list)  # [{"row", "field", "message"}]
    # {feature: rows served with it outside its range} (models that do not enforce ranges).
    out_of_range: Counter = field(default_factory=Counter)


def classes_of(predictor):
    return None if predictor.classes is None else [str(c) for c in predictor.classes]


def result_header(header, predictor):
    classes = classes_of(predictor) or []
    return [
        *header,
        PREDICTION_COLUMN,
        *(f"{PROBABILITY_PREFIX}{c}" for c in classes),
        ERROR_COLUMN,
    ]


def _feature_values(feature, raw):
    """(model-ready values, mask of rows the feature rejects) for one column of strings."""
    text = raw.str.strip()
    empty = text.eq("").to_numpy()
    required = feature.get("required", True)
    if feature["type"] == "category":
        values = text.where(~empty, None).astype(object)
        bad = empty & required
        categories = feature.get("categories") or []
        if categories:
            bad |= ~empty & ~text.isin(categories).to_numpy()
        return values, bad
    numbers = pd.to_numeric(text.where(~empty), errors="coerce").astype("float64")
    array = numbers.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = (empty & required) | (~empty & ~np.isfinite(array))
        if feature["type"] == "integer":
            bad |= np.isfinite(array) & (array != np.floor(array))
        if feature.get("min") is not None:
            bad |= array < feature["min"]
        if feature.get("max") is not None:
            bad |= array > feature["max"]
    return numbers, bad


def _rows_for_messages(schema, frame, values, positions):
    """Flagged rows as the per-row validator sees them: parsed where parsable, else raw text."""
    columns = [
        (
            f["name"],
            f["type"] == "category",
            frame[f["name"]].to_numpy(),
            values[f["name"]].to_numpy(),
        )
        for f in schema
        if f["name"] in frame  # an optional column the file leaves out is simply absent
    ]
    rows = []
    for position in positions:
        row = {}
        for name, is_category, raw, parsed in columns:
            text = raw[position].strip()
            if text == "":
                row[name] = None
            elif is_category or parsed[position] != parsed[position]:  # NaN: not a number
                row[name] = text
            else:
                row[name] = float(parsed[position])
        rows.append(row)
    return rows


def feature_columns(schema, frame, check):
    """({feature: model-ready values}, rows any feature rejects), `check` deciding per column.

    A feature the file leaves out (an optional one) is missing on every row.
    """
    values, flagged = {}, np.zeros(len(frame), dtype=bool)
    for feature in schema:
        name = feature["name"]
        if name in frame:
            values[name], bad = check(feature, frame[name])
            flagged |= bad
        elif feature["type"] == "category":
            values[name] = pd.Series([None] * len(frame), dtype=object)
        else:
            values[name] = pd.Series(np.nan, index=frame.index)
    return values, flagged


def row_problems(schema, positions, rows):
    """{position: [(field, message)]}: the per-row validator's word on the flagged `rows`."""
    found = {p: [] for p in positions}
    for error in validate_rows(schema, rows):
        found[positions[error["loc"][2]]].append((error["loc"][-1], error["msg"]))
    # The vectorised checks mirror the validator; should they ever flag more, say so.
    return {p: messages or [(None, "Invalid row")] for p, messages in found.items()}


def checked_schema(version):
    """The schema rows are held to: its ranges dropped unless the model enforces them."""
    if version.model.enforce_input_ranges:
        return version.input_schema
    return [{k: v for k, v in f.items() if k not in RANGE_KEYS} for f in version.input_schema]


def count_out_of_range(result, version, values, good):
    """Note in `result` the good rows served with a value outside its feature's range.

    Only for models that do not enforce ranges (the others refused such rows already).
    """
    if version.model.enforce_input_ranges:
        return result
    for feature in version.input_schema:
        low, high = feature.get("min"), feature.get("max")
        if feature["type"] == "category" or (low is None and high is None):
            continue
        array = np.asarray(values[feature["name"]], dtype=np.float64)[good]
        outside = np.zeros(len(array), dtype=bool)
        if low is not None:
            outside |= array < low
        if high is not None:
            outside |= array > high
        if count := int(outside.sum()):
            result.out_of_range[feature["name"]] += count
    return result


def score_chunk(rows, *, header, version, predictor, first_row):
    """Validate and predict a chunk of raw CSV rows; `first_row` numbers its first row."""
    schema = checked_schema(version)
    width = len(header)
    problems = {}  # position -> [(field, message)]
    for position, row in enumerate(rows):
        if len(row) != width:
            problems[position] = [(None, f"Expected {width} fields, got {len(row)}")]
            rows[position] = (row + [""] * width)[:width]
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    values, flagged = feature_columns(schema, frame, _feature_values)
    # A ragged row's cells are shifted: its field count says it all.
    positions = [int(p) for p in np.flatnonzero(flagged) if p not in problems]
    problems |= row_problems(
        schema, positions, _rows_for_messages(schema, frame, values, positions)
    )
    good = np.ones(len(rows), dtype=bool)
    good[list(problems)] = False
    result = _result(frame, values, good, problems, version, predictor, first_row)
    return count_out_of_range(result, version, values, good)


def result_lines(rows, result):
    """The result CSV lines of a chunk scored by score_chunk: each row's cells, then its tail.

    Input cells are echoed spreadsheet-safe, as predictions.batch.plain echoes its lines.
    """
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(
        safe_row(row) + tail for row, tail in zip(rows, result.tails, strict=True)
    )
    return text.getvalue()


def _result(frame, values, good, problems, version, predictor, first_row):
    features = pd.DataFrame({f["name"]: values[f["name"]][good] for f in version.input_schema})
    return chunk_result(features.reset_index(drop=True), good, problems, predictor, first_row)


def chunk_result(features, good, problems, predictor, first_row):
    """Predict the good rows (`features` holds them alone) and lay out every row's tail."""
    rows = len(good)
    predictions = [None] * rows
    probabilities = [()] * rows
    if good.any():
        predicted, proba = predictor.predict_frame(features)
        positions = np.flatnonzero(good).tolist()
        for position, value in zip(positions, predicted.tolist(), strict=True):
            predictions[position] = value
        if proba is not None:
            for position, row in zip(positions, np.round(proba, 6).tolist(), strict=True):
                probabilities[position] = row
    empty = [None] * len(predictor.classes or ())
    messages = {}
    errors = []
    for position in sorted(problems):
        found = problems[position]
        messages[position] = "; ".join(f"{f}: {m}" if f else m for f, m in found)
        errors.extend(
            {"row": first_row + int(position), "field": f, "message": m} for f, m in found
        )
    # Class labels and messages (which quote feature names) are written to CSV: made safe here.
    tails = [
        [safe_cell(predictions[i]), *(probabilities[i] or empty), safe_cell(messages.get(i, ""))]
        for i in range(rows)
    ]
    return ChunkResult(tails=tails, failed=len(problems), errors=errors)
