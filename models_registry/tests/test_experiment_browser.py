"""An admin creates and starts an A/B experiment in the portal and reads its results."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD
from models_registry.experiments.models import Experiment, ExperimentStatus
from models_registry.tests.experiments import two_versions
from portal.tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_starts_and_reads_an_experiment(page, live_server, admin_user, train):
    two_versions(train)
    log_in(page, live_server.url, "admin", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/models/iris-model/")
    page.get_by_role("link", name="New experiment").click()
    page.fill("input[name=name]", "bigger C")
    # The first row comes prefilled with the production version as the control.
    expect(page.locator("input[name=arms-0-name]")).to_have_value("control")
    page.select_option("select[name=arms-1-version]", label="v2 (Staging, logistic_regression)")
    page.fill("input[name=arms-0-weight]", "0")
    page.fill("input[name=arms-1-weight]", "100")
    page.get_by_role("button", name="Create experiment").click()

    expect(page.get_by_test_id("experiment-status")).to_have_text("Draft")
    page.get_by_role("button", name="Start experiment").click()
    expect(page.get_by_test_id("experiment-status")).to_have_text("Running")
    expect(page.get_by_test_id("verdict")).to_contain_text("No requests yet")
    assert Experiment.objects.get().status == ExperimentStatus.RUNNING

    # A prediction on the model page is now answered by the candidate arm ...
    page.goto(f"{live_server.url}/models/iris-model/")
    expect(page.get_by_test_id("experiments-link")).to_contain_text("bigger C")
    page.get_by_test_id("predict-form").get_by_role("button", name="Predict").click()
    expect(page.get_by_test_id("predict-result")).to_contain_text("v2 predicts")
    # ... and counted on the results page.
    page.get_by_test_id("experiments-link").get_by_role("link", name="bigger C").click()
    row = page.locator("tr[data-arm=candidate]")
    expect(row.locator("td[data-col=requests]")).to_have_text("1")
    expect(page.get_by_test_id("verdict")).to_contain_text("Only arm candidate has served")
    page.get_by_role("navigation").get_by_role("link", name="Models").click()
    expect(page.get_by_test_id("models-table")).to_contain_text("100% → v2 (candidate)")
