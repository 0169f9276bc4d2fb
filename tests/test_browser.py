"""The documentation pages in a real browser: Swagger UI and ReDoc, with no outside network.

Playwright drives the system's Chromium (Debian's `chromium` package;
`.ci/run` installs it) against gunicorn serving the demo data. Every request
the page makes is checked: one that leaves the server under test fails the
test: both pages, ReDoc's bundle included, are served by the service itself.
Screenshots go to `build/screenshots/`.
"""

import json
import os
import shutil

import pytest

from tests.live import ROOT, call, gunicorn, migrate_and_seed

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

# On one worker: the tests share one server.
pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.xdist_group("browser")]

SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REDOC_FOOTER_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
DEMO_LOGIN = {"email": "user1@test.com", "password": "password123"}
# The demo data books John Doe (user1) on these three events; the conference's
# title carries the year it happens in.
DEMO_USER_EVENTS = {"Tech Conference", "Startup Pitch Competition", "Sourdough Baking Class"}


def find_chromium():
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    return next((shutil.which(c) for c in candidates if c and shutil.which(c)), None)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn serving a SQLite database prepared as `make run` does."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'eventbook.db'}"
    migrate_and_seed(database_url)
    with gunicorn(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.skip("No Chromium found (apt-get install chromium); the browser tests need one")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh page whose requests may only go to the server under test.

    Any other request is aborted and recorded in `page.outside`.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.outside = []

    def only_the_server(route):
        if route.request.url.startswith(f"{server}/"):
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    page.set_default_timeout(30_000)
    yield page
    context.close()


def documented_operations(server):
    status, spec, _ = call("GET", f"{server}/openapi.json")
    assert status == 200
    return spec, {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def try_it_out(operation):
    """Unfold an operation and switch it to 'Try it out'."""
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()


def execute(operation):
    """Execute an operation in 'Try it out' mode; return its status and parsed body."""
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table .response")
    status = response.locator(".response-col_status").inner_text()
    text = response.locator(".highlight-code pre").inner_text()
    return int(status.strip()), json.loads(text)


def test_swagger_ui_lists_every_operation_and_runs_an_authorized_call(page, server):
    _, operations = documented_operations(server)
    page.goto(f"{server}/docs")
    playwright.expect(page.locator(".opblock")).to_have_count(len(operations))

    listed = {
        (
            block.locator(".opblock-summary-method").inner_text(),
            block.locator("[data-path]").get_attribute("data-path"),
        )
        for block in page.locator(".opblock").all()
    }
    assert listed == operations
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "swagger-ui.png", full_page=True)

    # Log in with the documented example, as a newcomer would.
    login = page.locator("#operations-auth-login")
    try_it_out(login)
    assert json.loads(login.locator("textarea.body-param__text").input_value()) == DEMO_LOGIN
    status, tokens = execute(login)
    assert status == 200 and tokens["token_type"] == "bearer"

    page.locator(".auth-wrapper .authorize").click()
    page.locator(".modal-ux input").fill(tokens["access_token"])
    page.locator(".modal-ux .auth-btn-wrapper .authorize").click()
    page.locator(".modal-ux .btn-done").click()

    bookings = page.locator("#operations-bookings-listMyBookings")
    try_it_out(bookings)
    status, body = execute(bookings)
    assert status == 200
    titles = {booking["event"]["title"] for booking in body}
    assert {
        title.removesuffix(f" {title[-4:]}") if title[-4:].isdigit() else title for title in titles
    } == DEMO_USER_EVENTS
    assert "Authorization: Bearer" in bookings.locator(".curl-command").inner_text()

    # From the operation's title to its live answer; boxes are relative to the viewport.
    scrolled = page.evaluate("window.scrollY")
    top = bookings.bounding_box()["y"]
    answer = bookings.locator(".live-responses-table").bounding_box()
    page.screenshot(
        path=SCREENSHOTS / "swagger-ui-my-bookings.png",
        full_page=True,
        clip={
            "x": 0,
            "y": scrolled + top,
            "width": 1280,
            "height": answer["y"] + answer["height"] - top,
        },
    )
    assert page.outside == [], "Swagger UI asked for something outside the server"


def test_redoc_renders_every_operation(page, server):
    spec, operations = documented_operations(server)
    page.goto(f"{server}/redoc")
    # ReDoc renders lazily: wait until every operation has its section.
    shown_operations = page.locator("[data-section-id*='/operation/']")
    playwright.expect(shown_operations).to_have_count(len(operations))

    summaries = {
        operation["summary"]
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "summary" in operation
    }
    shown = {heading.inner_text() for heading in page.locator("h2").all()}
    assert summaries <= shown

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "redoc.png")
    # ReDoc's bundle itself asks its vendor's CDN for the footer logo and hides
    # the image when that fails; nothing else may leave the server.
    assert set(page.outside) <= {REDOC_FOOTER_LOGO}, "ReDoc asked for something outside"
