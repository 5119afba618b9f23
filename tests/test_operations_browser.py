"""The admin in a real browser: Playwright for Python driving Debian's chromium (Playwright's
own browser download is not used), against `live_server`, with the Todoist simulator.

The re-sync action queues a job; the test settings run django-q2 in sync mode, so the job runs
inline in the live server's thread, as a worker would, before the page answers.
Skipped, saying why, only when no chromium can be found (`.ci/run` installs Debian's).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone

from tests.factories import make_map
from todoist_sync.models import TodoistTaskMap

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

State = TodoistTaskMap.SyncState

# As the machine's own checks start it: no sandbox (root in CI), and none of the background
# connections a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    candidates = [
        os.environ.get("CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture
def page(tmp_path, monkeypatch):
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no chromium to drive: install Debian's (`apt-get install -y chromium`, as .ci/run "
            "does) or set CHROMIUM to a Chromium binary"
        )
    # Playwright's sync API runs an event loop on this thread; the test's own ORM calls are
    # still plain synchronous code between Playwright's calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user data dir
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            # Under Playwright's event loop the ORM works on connections of that context, not
            # the thread's: close them here, or the test database cannot be dropped at the end.
            connections.close_all()


def log_in(page, live_server) -> None:
    get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-1")
    page.click("input[type=submit]")
    playwright_api.expect(page.locator("#site-name")).to_be_visible()


def screenshot(page, tmp_path, name: str) -> Path:
    """Into SCREENSHOTS_DIR when set (docs/screenshots/ keeps the README's), else tmp_path."""
    path = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path) / name
    page.evaluate("window.scrollTo(0, 0)")  # from the header, wherever a click scrolled to
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000  # something was drawn
    print(f"screenshot: {path}")
    return path


@pytest.mark.django_db(transaction=True)
def test_the_mapping_list_reads_at_a_glance(page, live_server, user, settings, tmp_path):
    expect = playwright_api.expect
    settings.TODOIST_SYNC_ON_CHANGE = False  # the rows below are made as they are
    for n, title in enumerate(["Buy milk", "Call the bank", "Water the plants", "Book a table"]):
        make_map(user, title=title, todoist_task_id=f"6X7rM899{n}", last_synced_at=timezone.now())
    page.set_viewport_size({"width": 1280, "height": 540})
    log_in(page, live_server)

    # Healthy: every row says Synced, and nothing on the page is an error mark.
    page.goto(f"{live_server.url}/admin/todoist_sync/todoisttaskmap/")
    page.click("#toggle-nav-sidebar")  # the list, not the app index, in the screenshots
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.locator(".field-sync_status")).to_have_text(["Synced"] * 4)
    expect(page.locator("#result_list img[src*='icon-no'], #result_list .errornote")).to_have_count(
        0
    )
    screenshot(page, tmp_path, "mappings-healthy.png")

    # One permanent error: that row says Error and why, the full reason on hover.
    reason = "validation: content: too long (at most 500 characters)"
    make_map(user, title="Pay the rent", state=State.ERROR, permanent=True, last_error=reason)
    page.reload()
    broken = rows.filter(has_text="Pay the rent").locator(".field-sync_status")
    expect(broken).to_have_text(f"Error {reason}")
    expect(broken.locator("[title]")).to_have_attribute("title", re.compile(re.escape(reason)))
    expect(rows.locator(".field-sync_status", has_text="Synced")).to_have_count(4)
    screenshot(page, tmp_path, "mappings-one-error.png")


@pytest.mark.django_db(transaction=True)
def test_resync_errors_from_the_admin_in_a_browser(
    page, live_server, sim, user, settings, tmp_path
):
    expect = playwright_api.expect
    # Committed at once here: saving a task would sync it before its mapping is made below.
    settings.TODOIST_SYNC_ON_CHANGE = False
    get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    broken = make_map(user, title="Pay the rent", state=State.ERROR, permanent=True)
    make_map(user, title="Call the bank", state=State.ERROR)
    make_map(user, title="Already there", state=State.SYNCED, todoist_task_id="td-kept")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-1")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()

    # The mappings in error, all selected, re-synced.
    page.goto(f"{live_server.url}/admin/todoist_sync/todoisttaskmap/?sync_state__exact=error")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    page.check("#action-toggle")
    page.select_option("select[name=action]", label="Re-sync selected with Todoist")
    page.click("button[name=index]")
    expect(page.locator(".messagelist .success")).to_have_text(
        "Re-sync with Todoist queued for 2 Todoist task mappings."
    )

    # Once the worker has run (inline here): nothing left in error, both synced.
    page.goto(f"{live_server.url}/admin/todoist_sync/todoisttaskmap/?sync_state__exact=error")
    expect(page.locator("#result_list")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/todoist_sync/todoisttaskmap/?sync_state__exact=synced")
    synced = page.locator("#result_list tbody tr")
    expect(synced).to_have_count(3)
    expect(synced.filter(has_text="Pay the rent")).to_have_count(1)
    expect(synced.filter(has_text="Call the bank")).to_have_count(1)

    # The task's own page, with its mapping inline: synced, linked to its Todoist task.
    page.goto(f"{live_server.url}/admin/planner/task/{broken.local_task_id}/change/")
    inline = page.locator(".inline-group")
    expect(inline).to_contain_text("Synced")
    broken.refresh_from_db()
    assert broken.sync_state == State.SYNCED and broken.todoist_task_id
    expect(inline.locator(f'a[href="{broken.todoist_url}"]')).to_have_text(broken.todoist_task_id)
    assert sorted(t["content"] for t in sim.tasks("alice")) == ["Call the bank", "Pay the rent"]

    screenshot = Path(tmp_path) / "task-change-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
