"""Plain CSV files, the common case, scored without a Python object per cell.

A file without quotes, whose every data line has the header's number of fields, can be cut
into lines and parsed by pandas' C reader, and the input part of each result line is the
input line itself (a quote put before any cell a spreadsheet could run as a formula, as the
row-by-row path writes it). Anything else goes through predictions.batch.frames, row by row:
quoted fields, ragged lines, and any value the checks here could not report exactly as that
path does (text where a number belongs, `nan`, `inf`), in which case the whole file starts
again there. Both paths lay out results with frames.chunk_result, so their output is the same.
"""

import csv
import io

import numpy as np
import pandas as pd

from predictions.batch.frames import (
    checked_schema,
    chunk_result,
    count_out_of_range,
    feature_columns,
    row_problems,
)
from predictions.csv_cells import safe_lines


class NotPlain(Exception):
    """This file (or a value in it) needs the row-by-row path."""


def _parse(lines, header, schema):
    features = {f["name"]: f for f in schema}
    dtypes = {
        name: (str if features[name]["type"] == "category" else np.float64) for name in header
    }
    try:
        return pd.read_csv(
            io.StringIO("\n".join(lines)),
            header=None,
            names=header,
            dtype=dtypes,
            na_values=[""],
            keep_default_na=False,
            skipinitialspace=True,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise NotPlain(str(exc)) from None


def _check(feature, column):
    """(model-ready values, rows the feature rejects), as frames._feature_values decides."""
    required = feature.get("required", True)
    if feature["type"] == "category":
        text = column.str.strip()
        empty = text.isna().to_numpy() | text.eq("").to_numpy()
        # None for a missing category, as the csv path has it (a str column would hold NaN).
        values = pd.Series(np.where(empty, None, text.to_numpy(dtype=object)), dtype=object)
        bad = empty & required
        if feature.get("categories"):
            bad |= ~empty & ~text.isin(feature["categories"]).to_numpy()
        return values, bad
    array = column.to_numpy(dtype=np.float64)
    if np.isinf(array).any():
        raise NotPlain("inf in a numeric column")  # the C reader read a word as a number
    empty = np.isnan(array)  # only empty fields: a word like `nan` fails the C reader
    bad = empty & required
    if feature["type"] == "integer":
        bad |= ~empty & (array != np.floor(array))
    if feature.get("min") is not None:
        bad |= array < feature["min"]
    if feature.get("max") is not None:
        bad |= array > feature["max"]
    return column, bad


def score_plain(lines, *, header, version, predictor, first_row):
    """Score a chunk of plain lines; (result text, ChunkResult). Raises NotPlain."""
    schema = checked_schema(version)
    frame = _parse(lines, header, schema)
    values, flagged = feature_columns(schema, frame, _check)
    positions = np.flatnonzero(flagged).tolist()
    problems = row_problems(schema, positions, [_row(schema, values, p) for p in positions])
    good = ~flagged
    features = pd.DataFrame({f["name"]: values[f["name"]][good] for f in schema})
    result = chunk_result(features.reset_index(drop=True), good, problems, predictor, first_row)
    count_out_of_range(result, version, values, good)
    tails = io.StringIO()
    csv.writer(tails, lineterminator="\n").writerows(result.tails)
    tails = tails.getvalue().split("\n")[:-1]
    if len(tails) != len(lines):
        raise NotPlain("a class label holds a line break")  # quoted over two lines
    echoed = safe_lines(lines)  # as the row-by-row path writes each cell
    return "".join(f"{line},{tail}\n" for line, tail in zip(echoed, tails, strict=True)), result


def _row(schema, values, position):
    """A flagged row as the per-row validator sees it (parsed numbers, stripped text)."""
    row = {}
    for feature in schema:
        value = values[feature["name"]].iloc[position]
        if feature["type"] == "category":
            row[feature["name"]] = value
        else:
            row[feature["name"]] = None if value != value else float(value)
    return row
