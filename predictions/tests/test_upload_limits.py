"""Every upload path refuses a header wider than the model can use, early and in linear time."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http import HTTPStatus

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import QuotaKind, TokenScope
from accounts.quotas import quota_reserve, quota_status
from accounts.tests.factories import make_token
from models_registry import services as registry
from models_registry.training.datasets import HEADER_BYTES_PER_COLUMN
from portal.tests.processes import (
    child_env,
    free_port,
    gunicorn_args,
    http_ok,
    running,
    wait_until,
)
from predictions.batch.run import batch_job_run
from predictions.batch.upload import (
    HEADER_MARGIN_COLUMNS,
    BadUpload,
    check_columns,
    check_width,
    inspect_csv,
    rows_to_csv,
)
from predictions.models import BatchJob, BatchJobStatus

FEATURES = ["sepal_length_(cm)", "sepal_width_(cm)", "petal_length_(cm)", "petal_width_(cm)"]
SCHEMA = [{"name": name, "type": "number"} for name in FEATURES]
URL = "/api/v1/models/iris-model/jobs"
WIDE = 100_000
# Generous: each check does milliseconds of work; the quadratic one took 30 s for 50,000 names.
FAST_SECONDS = 5
# Far below gunicorn's default 60 s, so a request that hangs shows as a killed worker quickly.
GUNICORN_TIMEOUT_SECONDS = 15


def wide_csv(columns=WIDE, rows=1):
    header = ",".join(f"c{i}" for i in range(columns))
    return (header + "\n" + ("1," * (columns - 1) + "1\n") * rows).encode()


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


def _refused(call):
    started = time.monotonic()
    with pytest.raises(BadUpload) as refused:
        call()
    assert time.monotonic() - started < FAST_SECONDS
    return str(refused.value)


# ---------------------------------------------------------------- the checks themselves
def test_a_million_name_header_is_refused_from_its_first_bytes():
    data = wide_csv(1_000_000, rows=0)
    message = _refused(lambda: check_width(data, SCHEMA))
    # "at least": only the first bytes were counted, never the million names.
    counted = int(message.split("has at least ")[1].split(" ")[0])
    assert len(SCHEMA) + HEADER_MARGIN_COLUMNS < counted
    assert counted < (len(SCHEMA) + HEADER_MARGIN_COLUMNS) * HEADER_BYTES_PER_COLUMN
    assert "the model takes 4 (sepal_length_(cm), " in message
    assert len(message) < 500


def test_a_header_of_one_long_name_is_refused_unsplit():
    data = b"x" * 10_000_000 + b"\n1\n"
    assert "header row is longer than 14 KB" in _refused(lambda: check_width(data, SCHEMA))


def test_the_width_allows_the_features_plus_a_margin(settings):
    at_limit = ",".join(FEATURES + [f"extra{i}" for i in range(HEADER_MARGIN_COLUMNS)])
    check_width(f"{at_limit}\n1\n".encode(), SCHEMA)  # wide enough to be told what is wrong
    message = _refused(lambda: check_columns(at_limit.split(","), SCHEMA))
    extras = ", ".join(f"extra{i}" for i in range(HEADER_MARGIN_COLUMNS))
    assert f"unknown column(s): {extras}. Expected columns: sepal_length_(cm), " in message
    _refused(lambda: check_width(f"{at_limit},one_more\n".encode(), SCHEMA))
    settings.BATCH_MAX_COLUMNS = 3  # the hard cap wins over the model's width
    _refused(lambda: check_width(b"a,b,c,d\n", SCHEMA))


def test_commas_inside_quoted_names_are_not_columns():
    names = [f"{name}, a, b, c, d" for name in FEATURES]  # 20 commas, 4 columns
    quoted = ",".join(f'"{name}"' for name in names) + '\n"1,5",2,3,4\n'
    check_width(quoted.encode(), [{"name": name, "type": "number"} for name in names])


def test_the_column_check_is_linear(settings):
    # Schema and header both wide, so nothing is refused by width: every name is looked up.
    width = 20_000
    settings.BATCH_MAX_COLUMNS = 2 * width
    schema = [{"name": f"f{i}", "type": "number"} for i in range(width)]
    names = [f"f{i}" for i in range(width)]
    started = time.monotonic()
    assert check_columns(names, schema) == names
    assert time.monotonic() - started < FAST_SECONDS
    header = names[: width // 2] + names[: width // 4] + [f"x{i}" for i in range(width // 4)]
    message = _refused(lambda: check_columns(header, schema))
    assert "duplicated column(s): f0, f1, f10, " in message
    assert "and 4990 more" in message  # 5,000 duplicated, ten of them named
    assert "unknown column(s): x0, x1, x2, " in message
    assert len(message) < 4 * 1024


def test_json_rows_wider_than_the_model_are_refused_by_their_width():
    row = {f"c{i}": 1 for i in range(WIDE)}
    message = _refused(lambda: rows_to_csv([{FEATURES[0]: 1}, row], SCHEMA))
    assert message.startswith(f"Row 2 has {WIDE} fields; the model takes 4")
    long_value = [{FEATURES[0]: 1}, {FEATURES[0]: "9" * 20_000}]
    assert _refused(lambda: rows_to_csv(long_value, SCHEMA)).startswith("Row 2 is longer than")
    many_unknown = [{f"c{i}": 1} for i in range(WIDE)]
    message = _refused(lambda: rows_to_csv(many_unknown, SCHEMA))
    assert "Unknown feature(s): c0, c1, " in message
    assert len(message) < 1024


@pytest.mark.parametrize(
    ("body", "words"),
    [
        # Quoted, so the csv module would read it: 100,000 fields on one line.
        (b'"1",' + b"1," * WIDE + b"1\n", "The row starting on line 2 is longer than 14 KB"),
        # Short lines, but a quote left open runs one record over all of them.
        (b'1,2,3,"\n' + (b"1," * 500 + b"\n") * 200 + b'",4\n', "starting on line 2 is longer"),
        # Plain (no quotes, as many commas as the header), one value of 20 KB.
        (b"1,2,3,4\n1,2,3," + b"9" * 20_000 + b"\n", "Data row 2 is longer than 14 KB"),
    ],
    ids=["quoted-wide-line", "open-quote", "plain-long-value"],
)
def test_rows_longer_than_the_model_can_use_are_refused(body, words):
    content = (",".join(FEATURES) + "\n").encode() + body
    upload = SimpleUploadedFile("long.csv", content, content_type="text/csv")
    assert words in _refused(lambda: inspect_csv(upload, SCHEMA))


def test_an_upload_is_refused_before_it_is_read_whole():
    upload = SimpleUploadedFile("wide.csv", wide_csv(rows=10), content_type="text/csv")
    assert "at least" in _refused(lambda: inspect_csv(upload, SCHEMA))


# ---------------------------------------------------------------- every way in
def test_the_api_and_the_page_refuse_a_wide_csv_with_a_reason(served, client, user):
    token = make_token(user, scope=TokenScope.PREDICT)[1]
    response = client.post(
        URL,
        {"file": SimpleUploadedFile("wide.csv", wide_csv(), content_type="text/csv")},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "The CSV header has at least" in response.json()["detail"]
    client.force_login(user)
    page = client.post(
        "/jobs/new/",
        {"model": "iris-model", "file": SimpleUploadedFile("wide.csv", wide_csv(), "text/csv")},
    )
    assert page.status_code == HTTPStatus.OK
    assert b"The CSV header has at least" in page.content
    assert not BatchJob.objects.exists()
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 0


def test_the_worker_checks_the_width_again_before_splitting(served, user):
    # A file stored by an older release, or a model whose version changed under it.
    quota = quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=1)
    job = BatchJob(
        owner=user,
        model=served.model,
        version=served,
        rows_total=1,
        quota_day=quota.resets_at.date() - timedelta(days=1),
    )
    job.input_file.save(f"{job.pk}.csv", ContentFile(wide_csv()), save=False)
    job.save()
    started = time.monotonic()
    assert batch_job_run(job.pk) == BatchJobStatus.FAILED
    assert time.monotonic() - started < FAST_SECONDS
    job.refresh_from_db()
    assert "The CSV header has at least" in job.error
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 0


# ---------------------------------------------------------------- under gunicorn
@pytest.mark.integration
def test_gunicorn_answers_a_wide_header_fast_and_stays_up(
    transactional_db, train, user, settings, tmp_path
):
    version = train()
    registry.version_promote(version=version)
    token = make_token(user, scope=TokenScope.PREDICT)[1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(MEDIA_ROOT=settings.MEDIA_ROOT, GUNICORN_TIMEOUT=GUNICORN_TIMEOUT_SECONDS)
    log = tmp_path / "gunicorn.log"
    with running(gunicorn_args(port, workers=2), env=env, log_path=log) as server:
        wait_until(lambda: http_ok(f"{base}/health", timeout=30), what="gunicorn", process=server)
        wide = wide_csv()

        def upload(_):
            started = time.monotonic()
            response = httpx.post(
                f"{base}{URL}",
                files={"file": ("wide.csv", wide, "text/csv")},
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=2 * GUNICORN_TIMEOUT_SECONDS,
            )
            return response, time.monotonic() - started

        # Two at once, as in the probe that made /health take 79 s.
        with ThreadPoolExecutor(max_workers=2) as pool:
            uploads = [pool.submit(upload, i) for i in range(2)]
            started = time.monotonic()
            assert http_ok(f"{base}/health", timeout=GUNICORN_TIMEOUT_SECONDS)
            assert time.monotonic() - started < FAST_SECONDS
            answers = [future.result() for future in uploads]
        for response, seconds in answers:
            assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.text[:300]
            assert response.headers["content-type"].startswith("application/json")
            assert "The CSV header has at least" in response.json()["detail"]
            assert seconds < FAST_SECONDS
        assert http_ok(f"{base}/health")
    assert "WORKER TIMEOUT" not in log.read_text()
    assert not BatchJob.objects.exists()
