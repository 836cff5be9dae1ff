"""Project-wide fixtures: role users, API tokens, and a guard that tests run on PostgreSQL."""

import os

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.servers.basehttp import WSGIServer
from django.db import connection

from accounts.models import Role, TokenScope
from accounts.tests.factories import UserFactory, make_token
from models_registry.models import TrainingJob
from models_registry.serving import clear_loaded
from models_registry.training.pipeline import run_training
from portal.tests import redis_guard
from portal.tests.browser import CHROMIUM, CHROMIUM_ARGS
from predictions import logbook

# The live test server keeps Django's listen backlog of 10; the concurrency tests open
# dozens of connections at once, which would otherwise be reset before they are accepted.
WSGIServer.request_queue_size = 128


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker):
    """The suite's promises (atomic quotas, append-only triggers) are PostgreSQL's."""
    if os.environ.get("ALLOW_SQLITE_TESTS"):
        return
    with django_db_blocker.unblock():
        vendor = connection.vendor
    if vendor != "postgresql":
        pytest.exit(
            f"The suite needs PostgreSQL but DATABASE_URL points at {vendor}: run `make test`.",
            returncode=3,
        )


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def user(db):
    return UserFactory(username="user", role=Role.USER)


@pytest.fixture
def viewer(db):
    return UserFactory(username="viewer", role=Role.VIEWER)


@pytest.fixture
def role_users(admin_user, user, viewer):
    return {Role.ADMIN: admin_user, Role.USER: user, Role.VIEWER: viewer}


@pytest.fixture
def bearer():
    """Build the Authorization header for a plaintext token."""

    def build(plaintext):
        return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}

    return build


@pytest.fixture
def user_token(user):
    return make_token(user, scope=TokenScope.ALL)[1]


@pytest.fixture
def viewer_token(viewer):
    return make_token(viewer, scope=TokenScope.READ)[1]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs ~0.3 s per user; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _redis_owned_by_the_suite():
    """The Redis databases the fixtures below empty, each checked to be the suite's own.

    Named to sort before the database fixtures: a refused Redis stops the run before any
    test database is created.
    """
    databases = redis_guard.suite_databases(django_settings)
    for setting, url in databases.items():
        redis_guard.claim(setting, url)
    return databases


@pytest.fixture(autouse=True)
def _empty_cache(_redis_owned_by_the_suite):
    # Login rate-limit counters live in the cache; one test's failures must not block another.
    url = _redis_owned_by_the_suite.get("CACHE_URL")
    if url is None:
        cache.clear()  # an in-process cache: nothing else is in it
    else:
        redis_guard.empty(url)
    yield
    if url is not None:
        redis_guard.mark(url)  # a test that ran cache.clear() itself removed the mark


@pytest.fixture(autouse=True)
def _empty_log_buffer(_redis_owned_by_the_suite):
    # Records one test left buffered name users and models the next test never had.
    if "PREDICTION_LOG_BUFFER_URL" in _redis_owned_by_the_suite:
        client = logbook.buffer()
        client.delete(logbook.PENDING_KEY, logbook.LEASES_KEY, logbook.DRAIN_FLAG_KEY)
        keys = list(client.scan_iter(f"{logbook.PROCESSING_PREFIX}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Artifacts and uploads written by a test stay in that test's own folder.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def train(admin_user):
    """Train a version through the real pipeline (small data, fast estimator)."""
    clear_loaded()

    def run(name="iris-model", dataset="iris", estimator="logistic_regression", params=None):
        job = TrainingJob.objects.create(
            model_name=name,
            dataset=dataset,
            estimator=estimator,
            params=params or {},
            created_by=admin_user,
        )
        version = run_training(job.pk)
        job.refresh_from_db()
        assert version is not None, job.error
        return version

    return run


# ---------------------------------------------------------------- browser tests
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (bin/ensure-chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread for the whole session;
    # the ORM work the tests (and database teardown) do around page actions is still
    # synchronous, so Django's async-safety guard is lifted while the browser lives.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh context per test: no cookies or storage leak between tests.

    Every browser test is also a Content-Security-Policy test: a script, style or image the
    policy refused on any page the test visited fails it.
    """
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and refused.append(message.text),
    )
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"
