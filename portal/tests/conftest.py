import pytest

from portal.tests.browser import CHROMIUM, CHROMIUM_ARGS

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
    """A fresh context per test: no cookies or storage leak between tests."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
