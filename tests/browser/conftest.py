"""Browser tests: Debian's Chromium driven by Playwright (sync API) against pytest-django's
`live_server`.

Every test under tests/browser/ is marked `browser` and skipped, with a message saying how
to enable it, when /usr/bin/chromium is missing. Tests need
`@pytest.mark.django_db(transaction=True)` (the live server runs in another thread, so data
must be committed) and use the fixtures below:

    def test_something(page, live_server, staff_user):
        login(page, live_server, staff_user)          # or login(page, live_server, "sales", pw)
        page.goto(live_server.url + "/admin/crm/leads/")
        screenshot(page, "lead-list")                  # <SCREENSHOTS>/lead-list.png

`page` is a 1440×900 window; `sized_page` runs the test once at 390×844 (a phone) and once
at 1440×900, and `sideways(page)` measures how far the page scrolls sideways.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Every run takes the screenshots; `UPDATE_SCREENSHOTS=1 make test` writes them over the
# README's (docs/screenshots/), other runs into var/screenshots/ so the tree stays clean.
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else ROOT / "var" / "screenshots"
)
SKIP_REASON = (
    f"browser tests need Chromium at {CHROMIUM}: install it with `apt-get install chromium` "
    "(or set CHROMIUM_PATH) to run them"
)

# Passwords of the users created by tests/conftest.py's fixtures, so `login(page, url, user)`
# works with the fixture user objects directly.
FIXTURE_PASSWORDS = {
    "staff": "pw-staff-123",
    "sales": "pw-sales-123",
    "viewer": "pw-viewer-123",
    "root": "pw-root-123",
}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    skip = pytest.mark.skip(reason=SKIP_REASON) if not CHROMIUM.exists() else None
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if skip:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


# The two sizes every page is checked at (issue 17): a phone and a desktop. The phone is a
# plain 390 px window, not Chromium's mobile emulation, which widens its layout viewport to
# fit a page that overflows and would hide the very overflow the tests measure.
SIZES = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1440, "height": 900},
}


def _page(browser, viewport):
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.set_default_timeout(10_000)
    return context, context.new_page()


@pytest.fixture
def page(browser):
    context, pg = _page(browser, SIZES["desktop"])
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(params=list(SIZES))
def sized_page(request, browser):
    """A page at each of SIZES in turn (the test runs once per size); `sized_page.size` is
    "phone" or "desktop"."""
    context, pg = _page(browser, SIZES[request.param])
    pg.size = request.param
    try:
        yield pg
    finally:
        context.close()


def sideways(page) -> int:
    """How many pixels the page scrolls sideways (0 when it fits its window)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def login(page, live_server, user, password: str | None = None) -> None:
    """Log `user` (a User or a username) in through the real login form."""
    username = user if isinstance(user, str) else user.get_username()
    password = password or FIXTURE_PASSWORDS[username]
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/accounts/login/" not in page.url, f"login failed for {username!r}"


def screenshot(page, name: str) -> Path:
    """Full-page screenshot to <SCREENSHOTS>/<name>.png (docs/screenshots/ is the README's)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
