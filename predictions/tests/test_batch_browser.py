"""A user uploads a CSV on the Jobs page, watches the job finish, and downloads the results."""

import csv
import io
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD
from models_registry import services as registry
from portal.celery import app as celery_app
from portal.tests.browser import log_in
from portal.tests.processes import celery_worker_args, child_env, running

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning"),
]

CSV = (
    "sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n"
    "5.1,3.5,1.4,0.2\n"
    "6.3,3.3,six,2.5\n"
    "6.3,3.3,6.0,2.5\n"
)


@pytest.fixture
def queue():
    """The live server publishes to this queue; the test starts a worker for it when ready."""
    name = f"browser-batch-{uuid.uuid4().hex[:8]}"
    saved = {key: celery_app.conf.get(key) for key in ("task_always_eager", "task_default_queue")}
    celery_app.conf.update(task_always_eager=False, task_default_queue=name)
    yield name
    celery_app.conf.update(saved)


def test_user_uploads_a_csv_sees_progress_and_downloads_results(
    page, live_server, user, train, queue, settings, tmp_path
):
    registry.version_promote(version=train())
    upload = tmp_path / "flowers.csv"
    upload.write_text(CSV)
    log_in(page, live_server.url, "user", DEFAULT_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Jobs").click()
    form = page.get_by_test_id("job-form")
    form.locator("select[name=model]").select_option("iris-model")
    form.locator("input[name=file]").set_input_files(str(upload))
    form.get_by_role("button", name="Start job").click()

    status = page.get_by_test_id("job-status")
    # No worker yet: the job waits in the queue, and the page keeps asking.
    expect(status).to_have_attribute("data-status", "queued")
    expect(page.locator("progress")).to_have_attribute("value", "0")
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        # htmx polls the status partial until the worker has finished the job.
        expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator("progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("rows-done")).to_have_text("3")
    expect(page.get_by_test_id("rows-failed")).to_have_text("1")
    expect(page.get_by_test_id("row-errors")).to_contain_text("Expected a number")

    with page.expect_download() as info:
        page.get_by_test_id("download-result").click()
    download = info.value
    assert download.suggested_filename.startswith("iris-model-job-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["prediction"] for r in rows] == ["setosa", "", "virginica"]
    assert rows[1]["petal_length_(cm)"] == "six"
    assert rows[1]["error"] == "petal_length_(cm): Expected a number"

    page.get_by_role("link", name="all jobs").click()
    table = page.get_by_test_id("jobs-table")
    expect(table).to_contain_text("flowers.csv")
    expect(table).to_contain_text("Succeeded")
