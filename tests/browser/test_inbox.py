"""The front-desk inbox in headless Chromium: the web app alone (``python -m webapp``) with a
temporary ticket database, tickets made in the test through the store, as the action server
would make them. No Rasa server or model is needed."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clinic.frontdesk.store import Ticket, TicketStore
from scripts.servers import PROJECT_ROOT, free_port, server_env, stop, wait_until_up

TOKEN = "browser-test-staff-token-0123456789abcdef"
SCREENSHOTS = PROJECT_ROOT / "results" / "browser"
COST_PRP = '/ask_cost{"treatment":"prp"}'


@dataclass
class Inbox:
    url: str
    database: Path
    store: TicketStore

    def ticket(self, key: str, urgency: str = "routine", **fields) -> Ticket:
        values = {"category": "question", "channel": "web", **fields}
        return self.store.create(idempotency_key=key, urgency=urgency, **values)


@pytest.fixture(scope="module")
def inbox_server(tmp_path_factory) -> Iterator[Inbox]:
    work = tmp_path_factory.mktemp("inbox")
    database, port = work / "tickets.db", free_port()
    log = work / "webapp.log"
    env = server_env(
        {
            "CLINIC_STAFF_TOKEN": TOKEN,
            "CLINIC_TICKETS_DB": str(database),
            "CLINIC_OUTBOX_DIR": str(work / "outbox"),
        }
    )
    env.pop("CLINIC_TICKETS_URL", None)
    env.pop("CLINIC_TRUST_PROXY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    store = TicketStore(f"sqlite:///{database}")
    try:
        wait_until_up(f"http://localhost:{port}/", process, log, name="web app")
        yield Inbox(f"http://localhost:{port}", database, store)
    finally:
        store.close()
        stop(process)


@pytest.fixture
def inbox(inbox_server: Inbox) -> Inbox:
    """The inbox with no tickets (each test makes its own)."""
    inbox_server.store.list_open()  # the table exists
    with sqlite3.connect(inbox_server.database) as connection:
        connection.execute("DELETE FROM clinic_tickets")
    return inbox_server


def sign_in(page: Page, inbox: Inbox, path: str = "/staff") -> None:
    page.goto(inbox.url + path)
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("#tickets")).to_be_attached()
    # The inbox's script is deferred: it runs before DOMContentLoaded, and keys pressed
    # before it has run would reach nothing.
    page.wait_for_load_state("domcontentloaded")


def articles(page: Page) -> list[str]:
    page.wait_for_load_state()
    return page.locator("article.ticket").evaluate_all("(all) => all.map((a) => a.id)")


def a_day_at_the_desk(inbox: Inbox) -> dict[str, Ticket]:
    """Tickets like a morning's: a complication, a call-back, bookings, an old ticket."""
    made = {
        "swollen": inbox.ticket(
            "swollen",
            "urgent",
            category="complication",
            treatment="prp",
            phone="+44 7700 900123",
            name="Jane Example",
            sender_id="s-1",
            triage_layer="rules",
            messages=["My cheek is very swollen since the PRP yesterday", "and it is hot"],
            transcript=[
                {"by": "patient", "text": "Cost · PRP (platelet-rich plasma)"},
                {"by": "assistant", "text": "PRP costs from £300, confirmed at your consultation."},
                {"by": "patient", "text": "My cheek is very swollen since the PRP yesterday"},
                {"by": "assistant", "text": "Please call the clinic now on 020 7946 0000."},
                {"by": "patient", "text": "and it is hot"},
            ],
        ),
        "callback": inbox.ticket(
            "callback",
            "soon",
            category="callback",
            treatment="exosomes",
            name="Sam Taylor",
            email="sam@example.com",
            messages=["can someone call me back about exosomes"],
        ),
        "booking": inbox.ticket(
            "booking",
            category="booking",
            treatment="microneedling",
            name="Zoë Brontë",
            phone="07700 900456",
            messages=["Book a consultation", "Preferred time: Tuesday mornings"],
            transcript=[
                {"by": "patient", "text": "Is microneedling good for acne scars?"},
                {"by": "assistant", "text": "Yes: microneedling can soften acne scars."},
                {"by": "patient", "text": "Book a consultation"},
                {"by": "assistant", "text": "What is your name?"},
                {"by": "patient", "text": "Zoë Brontë"},
                {"by": "assistant", "text": "When would suit you?"},
                {"by": "patient", "text": "Tuesday mornings"},
            ],
        ),
        # From before transcripts were kept: only the raw messages, a button payload among them.
        "old": inbox.ticket(
            "old",
            category="booking",
            treatment="mesotherapy",
            name="Alex Old",
            messages=[COST_PRP, "how many sessions would I need?"],
        ),
    }
    return made


def test_sign_in_then_a_new_urgent_ticket_appears_at_the_top_without_a_reload(
    inbox: Inbox, page: Page
) -> None:
    made = a_day_at_the_desk(inbox)
    page.goto(inbox.url + "/staff")
    expect(page.locator("h1")).to_have_text("Front-desk inbox")
    page.fill("#token", "not-the-token-at-all-0000000000000")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("not right")
    sign_in(page, inbox)
    assert articles(page)[0] == f"ticket-{made['swollen'].id}"
    expect(page.locator(".counts [data-count=open] b")).to_have_text("4")
    title = page.title()
    assert not title.startswith("(")
    page.evaluate("window.stillTheSamePage = true")

    arrived = inbox.ticket(
        "breathing",
        "urgent",
        category="complication",
        treatment="exosomes",
        name="Pat Urgent",
        messages=["my throat feels tight since the exosomes"],
        transcript=[{"by": "patient", "text": "my throat feels tight since the exosomes"}],
    )
    fresh = page.locator(f"#ticket-{arrived.id}")
    expect(fresh).to_be_visible(timeout=12_000)
    expect(page).to_have_title(re.compile(r"^\(1\) URGENT · "))
    assert page.evaluate("window.stillTheSamePage") is True  # no reload happened
    # Urgent first (the new one after the older urgent one), marked new, counted.
    assert articles(page)[:2] == [f"ticket-{made['swollen'].id}", f"ticket-{arrived.id}"]
    expect(fresh.locator(".new-flag")).to_be_visible()
    expect(fresh.locator(".badge")).to_have_text("Urgent")
    expect(page.locator(".counts [data-count=open] b")).to_have_text("5")
    expect(page.locator("#shown")).to_have_text("1 to 5 of 5 tickets")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "inbox-desktop.png")
    page.keyboard.press("j")  # using the page acknowledges the cue
    expect(page).to_have_title(title)

    # Still new after a reload until someone looks at it (selects it).
    page.reload()
    expect(page.locator(".new-flag:visible")).to_have_count(1)
    expect(page.locator(f"#ticket-{arrived.id} .new-flag")).to_be_visible()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("article.selected")).to_have_id(f"ticket-{arrived.id}")
    expect(page.locator(".new-flag:visible")).to_have_count(0)
    page.reload()
    expect(page.locator(".new-flag:visible")).to_have_count(0)


def test_filters_and_search_narrow_the_list_and_the_link_keeps_the_view(
    inbox: Inbox, page: Page
) -> None:
    made = a_day_at_the_desk(inbox)
    sign_in(page, inbox)
    page.select_option("#filter-urgency", "urgent")
    page.click(".filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"urgency=urgent"))
    assert articles(page) == [f"ticket-{made['swollen'].id}"]
    page.reload()
    assert articles(page) == [f"ticket-{made['swollen'].id}"]
    expect(page.locator("#filter-urgency")).to_have_value("urgent")

    page.goto(inbox.url + "/staff?treatment=microneedling")
    assert articles(page) == [f"ticket-{made['booking'].id}"]
    page.goto(inbox.url + "/staff")
    page.fill("#search", "brontë")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=bront"))
    assert articles(page) == [f"ticket-{made['booking'].id}"]
    page.fill("#search", "900123")  # part of a phone number
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert articles(page) == [f"ticket-{made['swollen'].id}"]
    page.click("a.clear")
    assert len(articles(page)) == 4


def test_pages_of_25(inbox: Inbox, page: Page) -> None:
    made = [inbox.ticket(f"q-{n}", messages=[f"question number {n}"]) for n in range(30)]
    sign_in(page, inbox)
    assert len(articles(page)) == 25
    expect(page.locator("#shown")).to_have_text("1 to 25 of 30 tickets")
    page.click(".pager a[rel=next]")
    expect(page).to_have_url(re.compile(r"page=2"))
    assert articles(page) == [f"ticket-{t.id}" for t in made[25:]]
    page.click(".pager a[rel=prev]")
    assert articles(page)[0] == f"ticket-{made[0].id}"


def test_the_conversation_shows_button_titles_never_payloads(inbox: Inbox, page: Page) -> None:
    made = a_day_at_the_desk(inbox)
    sign_in(page, inbox)
    text = page.locator("#tickets").inner_text()
    assert "/ask_" not in text and "{" not in text
    swollen = page.locator(f"#ticket-{made['swollen'].id} .conversation")
    expect(swollen.locator(".turn.patient").first).to_contain_text("Cost · PRP")
    expect(swollen.locator(".turn.assistant").first).to_contain_text("PRP costs from £300")
    old = page.locator(f"#ticket-{made['old'].id} .conversation")
    expect(old.locator(".turn.patient").first).to_contain_text("Cost · PRP (platelet-rich plasma)")
    # Names, not ids; times in words.
    expect(page.locator(f"#ticket-{made['old'].id} h3")).to_contain_text("Mesotherapy")
    expect(page.locator(f"#ticket-{made['old'].id} .received")).to_contain_text("Today")


def test_a_note_is_saved_and_found(inbox: Inbox, page: Page) -> None:
    made = a_day_at_the_desk(inbox)
    sign_in(page, inbox)
    ticket = page.locator(f"#ticket-{made['callback'].id}")
    ticket.locator("textarea").fill("Rang at 10:15, call again after lunch <b>ok</b>")
    ticket.locator(".note-form button").click()
    expect(page.locator(f"#ticket-{made['callback'].id} textarea")).to_have_value(
        "Rang at 10:15, call again after lunch <b>ok</b>"
    )
    assert inbox.store.get(made["callback"].id).staff_note.startswith("Rang at 10:15")
    page.goto(inbox.url + "/staff?q=after+lunch")
    assert articles(page) == [f"ticket-{made['callback'].id}"]


def test_keyboard_shortcuts(inbox: Inbox, page: Page) -> None:
    made = a_day_at_the_desk(inbox)
    sign_in(page, inbox)
    first, second = f"ticket-{made['swollen'].id}", f"ticket-{made['callback'].id}"
    page.keyboard.press("j")
    expect(page.locator("article.selected")).to_have_id(first)
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(page.locator("article.selected")).to_have_id(first)

    page.keyboard.press("c")  # contacted: it stays in this view, under its heading
    expect(page.locator(f"#{first} .status")).to_have_text("Contacted")
    assert inbox.store.get(made["swollen"].id).status == "contacted"
    expect(page.locator("article.selected")).to_have_id(first)

    page.goto(inbox.url + "/staff")
    page.keyboard.press("j")
    expect(page.locator("article.selected")).to_have_id(second)  # open ones come first
    page.keyboard.press("x")  # closed: gone from this view, the next one is selected
    expect(page.locator(f"#{second}")).to_have_count(0)
    assert inbox.store.get(made["callback"].id).status == "closed"
    expect(page.locator("article.selected")).to_have_count(1)

    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("jk")  # typing in a field moves nothing
    expect(page.locator("#search")).to_have_value("jk")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("close the selected ticket")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()


def test_tablet_and_phone_layouts(inbox: Inbox, tablet_page: Page, phone_page: Page) -> None:
    a_day_at_the_desk(inbox)
    for page, name in ((tablet_page, "inbox-tablet.png"), (phone_page, "inbox-phone.png")):
        sign_in(page, inbox)
        width = page.evaluate("document.documentElement.scrollWidth")
        viewport = page.viewport_size["width"]
        assert width <= viewport, f"{name}: the page scrolls sideways ({width} > {viewport})"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name)


def test_without_javascript_the_inbox_still_works(inbox: Inbox, no_script_page: Page) -> None:
    page = no_script_page
    made = a_day_at_the_desk(inbox)
    sign_in(page, inbox, "/staff")
    page.goto(inbox.url + "/staff?urgency=soon")
    ticket = page.locator(f"#ticket-{made['callback'].id}")
    ticket.locator("textarea").fill("no script needed")
    ticket.locator(".note-form button").click()
    expect(page).to_have_url(re.compile(rf"urgency=soon#ticket-{made['callback'].id}$"))
    page.locator(f"#ticket-{made['callback'].id} button[value=contacted]").click()
    expect(page.locator(f"#ticket-{made['callback'].id} .status")).to_have_text("Contacted")
    stored = inbox.store.get(made["callback"].id)
    assert (stored.status, stored.staff_note) == ("contacted", "no script needed")
