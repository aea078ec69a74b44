"""The "What patients asked" page in headless Chromium, on conversations the real servers
stored: an unanswerable message sent through the REST channel shows up grouped, and labelling
it previews and appends the example to (a temporary copy of) the review file."""

from __future__ import annotations

import json
import urllib.request
import uuid

import yaml
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, ReportWebApp, Servers

NONSENSE = "flibbertigibbet wobblefrotz zanzibarian"


def send(servers: Servers, sender: str, message: str) -> list[dict]:
    request = urllib.request.Request(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_an_unanswered_message_is_grouped_and_labelled(
    servers: Servers, report_webapp: ReportWebApp, browser
) -> None:
    run = uuid.uuid4().hex[:8]
    replies = send(servers, f"report-a-{run}", NONSENSE)
    assert replies[-1]["custom"]["reply"]["type"] in ("fallback", "out_of_scope")
    send(servers, f"report-b-{run}", NONSENSE + "?")
    send(servers, f"report-c-{run}", "how much is prp")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(report_webapp.url + "/staff/report")
        page.fill("#token", report_webapp.token)
        page.click("button[type=submit]")
        page.goto(report_webapp.url + "/staff/report?days=7")
        group = page.locator("article.group", has_text=NONSENSE).first
        expect(group).to_be_visible()
        expect(group.locator(".count")).to_have_text("2")  # both messages, one group
        expect(page.locator("#chart-conversations svg")).to_be_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "report-desktop.png")
        page.screenshot(path=SCREENSHOTS / "report-desktop-full.png", full_page=True)

        group.locator("select[name=intent]").select_option("out_of_scope")
        group.locator("button", has_text="Preview label").click()
        expect(page.locator("pre.diff .add").last).to_contain_text(f"- {NONSENSE}")
        assert NONSENSE not in report_webapp.review_file.read_text(encoding="utf-8")
        page.screenshot(path=SCREENSHOTS / "report-label-preview.png")

        page.click("text=Save to the review file")
        expect(page.locator("[role=status]")).to_contain_text("Saved")
        data = yaml.safe_load(report_webapp.review_file.read_text(encoding="utf-8"))
        saved = {block["intent"]: block["examples"] for block in data["nlu"]}
        assert NONSENSE in saved["out_of_scope"]
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
