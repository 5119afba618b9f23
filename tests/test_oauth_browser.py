"""Connecting Todoist through OAuth in a real browser (Playwright with Debian's chromium, as
tests/test_operations_browser.py): the bot's link, the simulator's consent page, Allow, and the
page the callback answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.test_operations_browser import page  # noqa: F401 (the fixture)
from todoist_sync.models import TodoistCredential

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_connect_through_the_consent_page_in_a_browser(
    page,  # noqa: F811
    live_server,
    sim,
    user,
    api_client,
    settings,
    decision,
):
    expect = playwright_api.expect
    sim.oauth_register(
        client_id="bot-client",
        client_secret="bot-client-secret-123",
        redirect_url=f"{live_server.url}/todoist/oauth/callback",
    )
    settings.TODOIST_CLIENT_ID = "bot-client"
    settings.TODOIST_CLIENT_SECRET = "bot-client-secret-123"
    settings.TODOIST_OAUTH_URL = sim.root_url
    settings.TODOIST_OAUTH_REDIRECT_URL = f"{live_server.url}/todoist/oauth/callback"

    link = api_client.post(reverse("todoist-sync-connect")).json()["authorize_url"]
    page.goto(link)
    expect(page.locator("h1")).to_contain_text("Authorize")
    page.click(f"#{decision}")
    if decision == "allow":
        expect(page.locator("#title")).to_have_text("Todoist is connected")
        expect(page.locator("#message")).to_have_text(
            "Todoist is connected; you can go back to the chat."
        )
        assert TodoistCredential.objects.get(user=user).kind == "oauth"
    else:
        expect(page.locator("#title")).to_have_text("Connection declined")
        assert not TodoistCredential.objects.exists()
    # The same link again: its state is used.
    page.goto(link)
    page.click("#allow")
    expect(page.locator("#title")).to_have_text("Todoist is not connected")
    expect(page.locator("#message")).to_contain_text("Ask the bot for a new one")
