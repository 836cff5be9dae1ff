"""Plain CSV files take the fast path, and come out exactly as the row-by-row path writes them."""

import csv
import io
from types import SimpleNamespace

import pytest

from models_registry.models import TaskType
from models_registry.predictor import predictor_build
from models_registry.tests.test_predictor import fit, shop
from models_registry.training.schema import infer_input_schema
from predictions.batch.frames import result_lines, score_chunk
from predictions.batch.plain import NotPlain, score_plain
from predictions.batch.upload import check_columns, plain_lines

HEADER = "basket,visits,discount,channel"


@pytest.fixture(scope="module")
def model():
    X, _, label = shop()
    schema = infer_input_schema(X)
    pipeline = fit("logistic_regression", X, label, TaskType.CLASSIFICATION)
    # What the scorers read of a version; ranges enforced, so the range messages compare too.
    version = SimpleNamespace(input_schema=schema, model=SimpleNamespace(enforce_input_ranges=True))
    return version, predictor_build(pipeline, schema=schema, output_classes=["high", "low"])


@pytest.fixture
def lenient(model):
    """The same model, serving values outside its ranges (the default)."""
    version, predictor = model
    return SimpleNamespace(
        **{**vars(version), "model": SimpleNamespace(enforce_input_ranges=False)}
    ), predictor


def _both(model, text):
    """(plain result text, row-by-row result text, plain errors, row errors) for one chunk."""
    version, predictor = model
    header, lines = plain_lines(text.encode())
    header = check_columns(header, version.input_schema)
    fast, fast_result = score_plain(
        lines, header=header, version=version, predictor=predictor, first_row=1
    )
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    slow_result = score_chunk(
        rows, header=header, version=version, predictor=predictor, first_row=1
    )
    slow = result_lines(rows, slow_result)
    return fast, slow, fast_result.errors, slow_result.errors


def test_a_clean_file_comes_out_the_same_both_ways(model):
    body = "\n".join(f"{10 + i}.5,{i},0.{i},{('web', 'app', 'store')[i % 3]}" for i in range(50))
    fast, slow, fast_errors, slow_errors = _both(model, f"{HEADER}\n{body}\n")
    assert fast == slow
    assert fast_errors == slow_errors == []
    assert fast.splitlines()[0].startswith("10.5,0,0.0,web,")


def test_out_of_range_rows_are_served_and_counted_the_same_both_ways(lenient):
    lines = ["80.5,3,0.2,web", "-5000,3,0.2,web", "80.5,-40,0.2,app", "-5000,-40,0.2,store"]
    version, predictor = lenient
    header, plain = plain_lines((HEADER + "\n" + "\n".join(lines) + "\n").encode())
    header = check_columns(header, version.input_schema)
    fast, fast_result = score_plain(
        plain, header=header, version=version, predictor=predictor, first_row=1
    )
    rows = list(csv.reader(io.StringIO("\n".join(plain))))
    slow_result = score_chunk(
        rows, header=header, version=version, predictor=predictor, first_row=1
    )
    assert fast == result_lines(rows, slow_result)
    assert fast_result.errors == slow_result.errors == []
    assert fast_result.out_of_range == slow_result.out_of_range == {"basket": 2, "visits": 2}


def test_flagged_rows_get_the_same_messages_both_ways(model):
    lines = [
        "80.5,3,0.2,web",  # fine
        "-5000,3,0.2,web",  # below the range
        "80.5,2.5,0.2,web",  # not a whole number of visits
        "80.5,3,0.2,fax",  # unknown category
        ",3,0.2,web",  # a required value missing
        "80.5,3,,app",  # an optional value missing: fine
        " 80.5 ,3, 0.2 , store ",  # spaces around values: fine, as the csv path strips them
        "80.5,3,0.2,",  # a required category missing
    ]
    fast, slow, fast_errors, slow_errors = _both(model, HEADER + "\n" + "\n".join(lines) + "\n")
    assert fast == slow
    assert fast_errors == slow_errors
    assert [e["row"] for e in fast_errors] == [2, 3, 4, 5, 8]


@pytest.mark.parametrize(
    "text",
    [
        f'{HEADER}\n"80.5",3,0.2,web\n',  # quoted: the csv module's job
        f"{HEADER}\n80.5,3,0.2\n",  # ragged
        f"{HEADER}\r80.5,3,0.2,web\r",  # old Mac line ends
        b"\xff\xfe not utf-8",
    ],
)
def test_files_that_are_not_plain_are_left_to_the_csv_path(text):
    assert plain_lines(text if isinstance(text, bytes) else text.encode()) is None


def test_bom_crlf_and_blank_lines_are_plain():
    header, lines = plain_lines(
        f"\ufeff{HEADER}\r\n80.5,3,0.2,web\r\n\r\n81,4,0.1,app\r\n".encode()
    )
    assert header == HEADER.split(",")
    assert lines == ["80.5,3,0.2,web", "81,4,0.1,app"]


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-Infinity", "0x10"])
def test_a_word_in_a_numeric_column_sends_the_file_to_the_csv_path(model, value):
    version, predictor = model
    with pytest.raises(NotPlain):
        score_plain(
            [f"{value},3,0.2,web"],
            header=HEADER.split(","),
            version=version,
            predictor=predictor,
            first_row=1,
        )
