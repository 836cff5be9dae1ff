"""An admin trains a model in the browser, watches the job finish, and promotes it."""

import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD
from models_registry import services as registry
from models_registry.models import MLModel, Stage
from portal.celery import app as celery_app
from portal.tests.browser import log_in
from portal.tests.processes import celery_worker_args, child_env, running

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path, settings):
    """A real Celery worker; the live server publishes to it instead of running eagerly."""
    queue = f"browser-{uuid.uuid4().hex[:8]}"
    saved = {key: celery_app.conf.get(key) for key in ("task_always_eager", "task_default_queue")}
    celery_app.conf.update(task_always_eager=False, task_default_queue=queue)
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT)
    try:
        with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
            yield
    finally:
        celery_app.conf.update(saved)


def test_admin_trains_watches_progress_and_promotes(page, live_server, admin_user, worker):
    log_in(page, live_server.url, "admin", DEFAULT_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Models").click()
    page.get_by_role("link", name="Train a model").click()
    page.fill("input[name=model_name]", "browser-wine")
    page.select_option("select[name=dataset]", "wine")
    page.select_option("select[name=estimator]", "random_forest")
    page.fill("textarea[name=params]", "n_estimators=20")
    page.get_by_role("button", name="Start training").click()

    status = page.get_by_test_id("job-status")
    expect(status).to_be_visible()
    # htmx polls until the worker has finished every stage.
    expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator("progress")).to_have_attribute("value", "100")
    expect(page.locator("ol.stages li.stage-done")).to_have_count(6)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / "training-job.png"), full_page=True)

    page.get_by_role("button", name="Promote v1").click()
    expect(page.get_by_text("browser-wine v1 is now in production.")).to_be_visible()
    expect(page.locator("#version-1")).to_contain_text("Production")
    assert MLModel.objects.get(name="browser-wine").production_version.stage == Stage.PRODUCTION
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / "model.png"), full_page=True)


def test_user_predicts_on_the_model_page_and_finds_it_in_history(page, live_server, user, train):
    registry.version_promote(version=train())
    log_in(page, live_server.url, "user", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/models/iris-model/")
    form = page.get_by_test_id("predict-form")
    form.locator("input[name='petal_length_(cm)']").fill("1.4")
    form.locator("input[name='petal_width_(cm)']").fill("0.2")
    form.get_by_role("button", name="Predict").click()
    expect(page.get_by_test_id("prediction")).to_have_text("setosa")
    page.get_by_test_id("predict-result").get_by_role("link", name="history").click()
    expect(page.get_by_test_id("history-table")).to_contain_text("iris-model v1")
    expect(page.get_by_test_id("history-table").locator("tbody tr")).to_have_count(1)
