"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server."""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the test's own ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SIGN_IN_PASSWORD = "e2e-sign-in-passphrase"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shot(request, page):
    """shot("step") saves a screenshot as test-artifacts/<test name>-<step>.png (of=page: another browser's page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w-]", "_", request.node.name)

    def take(step: str, *, full_page: bool = True, of=None):
        (of or page).screenshot(path=str(ARTIFACTS / f"{name}-{step}.png"), full_page=full_page)

    return take


@pytest.fixture
def sign_in(page):
    def sign_in(membership):
        # Set here rather than shared with tests/conftest.py: the browser tests own the password they type.
        membership.user.set_password(SIGN_IN_PASSWORD)
        membership.user.save(update_fields=["password"])
        page.goto("/login/")
        page.fill("#id_username", membership.user.email)
        page.fill("#id_password", SIGN_IN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        return page

    return sign_in


@pytest.fixture
def worker_process(transactional_db, tmp_path):
    """worker_process(env=) -> a running `flexbill worker` on the test database (tests/reliability's helper)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
    from reliability_server import start_worker

    workers = []

    def start(**kwargs):
        worker = start_worker(tmp_path / f"worker-{len(workers)}.log", **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
