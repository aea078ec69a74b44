"""The chat widget on the demo page, in a real headless Chromium, against the real servers.

Every test starts with a fresh browser profile (so a new conversation) and leaves a
screenshot in results/browser/ (plus widget-desktop.png, the chat after a starter question,
and widget-360.png, urgent advice on a phone). The Rasa restart test comes last: it restarts
the server.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
import requests
from playwright.sync_api import Page, Request, expect

from clinic.complication_screen import triage
from clinic.direct_replies import unavailable_reply
from clinic.knowledge import get_knowledge
from clinic.paths import PROJECT_ROOT
from clinic.settings import get_settings
from clinic.urgent_advice import urgent_calls

expect.set_options(timeout=15_000)

REST_WEBHOOK = "/webhooks/rest/webhook"
HTML_MESSAGE = "<img src=x onerror=alert(1)>"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
SESSION_TOKEN = re.compile(r"^[0-9a-f]{64}$")
SCREENSHOTS = PROJECT_ROOT / "results" / "browser"
# The rules' emergency wording: the emergency number comes first.
BREATHING = "my face is swollen and I can't breathe"


def answer_text(treatment: str, topic: str) -> str:
    """The first sentence of the knowledge file's answer, enough to recognise it."""
    return get_knowledge().treatments[treatment].answers[topic].text.split(". ")[0]


def requests_to(page: Page, url_part: str) -> list[Request]:
    """From now on, every request the page makes to a URL containing ``url_part``."""
    sent: list[Request] = []

    def record(request: Request) -> None:
        if url_part in request.url:
            sent.append(request)

    page.on("request", record)
    return sent


@pytest.fixture
def rest_requests(page: Page) -> list[Request]:
    """The REST-channel requests the page makes (the widget uses it only as a fallback)."""
    return requests_to(page, REST_WEBHOOK)


def widget_host(page: Page):
    return page.locator(".clinic-chat-host")


def wait_for_connection(page: Page, status: str) -> None:
    expect(widget_host(page)).to_have_attribute("data-connection", status)


def chat_dialog(page: Page):
    """The chat panel, named after the assistant (the clinic settings' ``assistant.name``)."""
    return page.get_by_role("dialog", name=get_settings().assistant_name)


def open_chat(page: Page, url: str, connection: str = "connected") -> None:
    page.goto(url)
    page.get_by_role("button", name="Chat with us").click()
    expect(chat_dialog(page)).to_be_visible()
    wait_for_connection(page, connection)


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")


def last_bot_message(page: Page):
    return page.locator(".cc-bot").last


def stored_state(page: Page) -> dict:
    """What the widget keeps in localStorage (one entry per Rasa server)."""
    return page.evaluate("Object.values(localStorage).map(JSON.parse)[0]")


def expect_turn_finished(page: Page) -> None:
    expect(page.locator(".cc-typing")).to_be_hidden()


def expect_answer_with_sources(page: Page, treatment: str, topic: str) -> None:
    expect(last_bot_message(page)).to_contain_text(answer_text(treatment, topic))
    sources = page.locator(".cc-sources").last
    sources.locator("summary").click()
    items = sources.get_by_role("listitem")
    expect(items.first).to_be_visible()
    # The titles patients see replace the file names once /api/sources has answered.
    titles = get_knowledge().display_titles
    for item in items.all():
        expect(item).to_have_text(titles[item.get_attribute("data-source")])
        assert "paraphrased" not in item.inner_text().lower()


def test_answer_and_its_sources_arrive_over_socketio(servers, page, rest_requests) -> None:
    open_chat(page, servers.page_url)
    expect(page.locator(".cc-bot").first).to_have_text(
        re.compile("Hi! Ask me about our treatments.")
    )
    ask(page, "What is PRP?")
    expect(page.locator(".cc-user").last).to_contain_text("What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")
    expect_turn_finished(page)
    assert rest_requests == []  # the reply contract (sources) came over the socket


def test_quick_reply_sends_its_payload_and_goes(servers, page) -> None:
    open_chat(page, servers.page_url)
    ask(page, "how much does it cost?")
    choices = page.get_by_role("group", name="Suggested replies").get_by_role("button")
    expect(choices).to_have_text([t.name for t in get_knowledge().treatments.values()])
    prp = get_knowledge().treatments["prp"].name
    page.get_by_role("button", name=prp, exact=True).click()
    # The treatment choices go (the answer that follows may bring its own suggestions).
    expect(page.get_by_role("button", name=prp, exact=True)).to_have_count(0)
    expect(page.locator(".cc-user").last).to_have_text(re.compile(re.escape(prp) + "$"))
    expect(last_bot_message(page)).to_contain_text("GBP")
    expect(page.get_by_label("Your question")).to_be_focused()  # not lost with the button


def test_reload_keeps_the_conversation_and_its_context(servers, page) -> None:
    open_chat(page, servers.page_url)
    ask(page, "What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")
    shown = page.locator(".cc-message, .cc-sources summary")
    transcript = shown.all_text_contents()

    session = stored_state(page)
    assert SESSION_ID.match(session["sessionId"]) and SESSION_TOKEN.match(session["sessionToken"])

    page.reload()
    expect(chat_dialog(page)).to_be_visible()
    expect(shown).to_have_text(transcript)
    expect(shown.last).to_be_in_viewport()  # scrolled to the latest message
    wait_for_connection(page, "connected")
    # Same session on the server (the token continued it): the follow-up is answered for PRP.
    assert stored_state(page)["sessionId"] == session["sessionId"]
    ask(page, "how many sessions would I need?")
    expect(last_bot_message(page)).to_contain_text(answer_text("prp", "sessions"))


def test_a_stored_session_id_without_its_token_gets_a_new_session(servers, page) -> None:
    """A session id copied into storage (or kept by an older widget) does not continue."""
    copied = {"version": 1, "sessionId": "0123456789abcdef0123456789abcdef", "transcript": []}
    page.add_init_script(
        f"localStorage.setItem({json.dumps('clinic-chat:' + servers.rasa_url)}, "
        f"{json.dumps(json.dumps(copied))});"
    )
    open_chat(page, servers.page_url)
    session = stored_state(page)
    assert session["sessionId"] != copied["sessionId"] and SESSION_ID.match(session["sessionId"])
    assert SESSION_TOKEN.match(session["sessionToken"])
    ask(page, "What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")


def test_html_is_shown_as_text_and_never_run(servers, page) -> None:
    dialogs: list[str] = []

    def record_and_dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record_and_dismiss)
    open_chat(page, servers.page_url)
    ask(page, HTML_MESSAGE)
    expect(page.locator(".cc-user").last).to_have_text(re.compile(re.escape(HTML_MESSAGE) + "$"))
    expect_turn_finished(page)
    expect(page.locator(".cc-bot").nth(1)).not_to_be_empty()  # a polite reply
    page.reload()  # rendered again from the stored transcript
    expect(page.locator(".cc-user").last).to_have_text(re.compile(re.escape(HTML_MESSAGE) + "$"))
    assert page.locator("img").count() == 0  # the locator looks inside the shadow root too
    assert dialogs == []


def test_header_names_the_assistant_and_the_clinic(servers, page) -> None:
    settings = get_settings()
    open_chat(page, servers.page_url)
    header = page.locator(".cc-header")
    expect(header.get_by_role("heading")).to_have_text(settings.assistant_name)
    expect(header.locator(".cc-subtitle")).to_have_text(f"Virtual assistant \u00b7 {settings.name}")
    red, green, blue = (int(settings.brand_colour[i : i + 2], 16) for i in (1, 3, 5))
    expect(header).to_have_css("background-color", f"rgb({red}, {green}, {blue})")


def test_starter_questions_are_offered_until_one_is_tapped(servers, page) -> None:
    questions = list(get_settings().starter_questions)
    open_chat(page, servers.page_url)
    starters = page.get_by_role("group", name="Suggested questions")
    expect(starters.get_by_role("button")).to_have_text(questions)
    # Real buttons: the keyboard reaches and presses them.
    chosen = starters.get_by_role("button", name=questions[0])
    chosen.focus()
    expect(chosen).to_be_focused()
    page.keyboard.press("Enter")
    expect(starters).to_have_count(0)
    expect(page.get_by_label("Your question")).to_be_focused()  # not lost with the chip
    expect(page.locator(".cc-user").last).to_have_text(re.compile(re.escape(questions[0]) + "$"))
    expect(last_bot_message(page)).to_contain_text(answer_text("microneedling", "recovery_time"))
    expect_turn_finished(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "widget-desktop.png")
    expect_answer_with_sources(page, "microneedling", "recovery_time")
    page.reload()  # the conversation has started: no starters again
    expect(page.locator(".cc-user")).to_have_count(1)
    expect(page.get_by_role("group", name="Suggested questions")).to_have_count(0)


def test_long_answers_are_paragraphs_and_source_titles_are_for_patients(servers, page) -> None:
    open_chat(page, servers.page_url)
    ask(page, "What is microneedling with PRP?")
    expect_answer_with_sources(page, "microneedling_prp", "overview")
    treatment = get_knowledge().treatments["microneedling_prp"]
    whole = " ".join(filter(None, [treatment.answers["overview"].text, treatment.notice and
                                   treatment.notice.text]))  # fmt: skip
    assert len(whole) > 300
    shown = last_bot_message(page).locator("p")
    expect(shown).not_to_have_count(1)
    assert " ".join(shown.all_inner_texts()) == whole  # every word, in order, in paragraphs
    # Lines are paragraphs; a long line is split at sentence ends, never inside "1.5" or "e.g.".
    split = page.evaluate(
        """() => [
          ClinicChat.splitParagraphs("First line.\\n\\nSecond line.\\nThird line."),
          ClinicChat.splitParagraphs(
            "Up to 1.5 ml is used, e.g. Hyaluronic acid in a serum. It is quick. It may sting. " +
            "A numbing cream helps. Redness settles in 1-2 days. Swelling goes down by itself " +
            "in a day or two, so plan a quiet evening. Avoid make-up for a day. Ask us first. " +
            "Most people are back at work the next day, but skip the gym for 48 hours."
          ),
        ]"""
    )
    assert split[0] == ["First line.", "Second line.", "Third line."]
    assert split[1] == [
        "Up to 1.5 ml is used, e.g. Hyaluronic acid in a serum. It is quick. It may sting.",
        "A numbing cream helps. Redness settles in 1-2 days. Swelling goes down by itself in a "
        "day or two, so plan a quiet evening.",
        "Avoid make-up for a day. Ask us first. Most people are back at work the next day, but "
        "skip the gym for 48 hours.",
    ]


def test_urgent_advice_is_a_red_banner_with_call_buttons(servers, phone_page) -> None:
    page = phone_page
    open_chat(page, servers.page_url)
    ask(page, BREATHING)
    banner = page.locator(".cc-urgent")
    expect(banner).to_have_count(1)
    expect(banner.locator(".cc-urgent-label")).to_have_text("Urgent")
    expect(banner).to_contain_text(f"Please call {get_settings().emergency_number} now")
    expect(banner).to_have_css("border-left-color", "rgb(179, 38, 30)")
    calls = banner.get_by_role("group", name="Call now").get_by_role("link")
    expected = urgent_calls(triage(BREATHING), get_settings(), datetime.now(timezone.utc))
    expect(calls).to_have_count(len(expected))
    for link, call in zip(calls.all(), expected, strict=True):
        expect(link).to_have_attribute("href", "tel:" + re.sub(r"[^\d+]", "", call["number"]))
        expect(link).to_contain_text(call["label"])
    expect(calls.first).to_have_attribute("href", "tel:999")
    expect_turn_finished(page)
    expect(page.locator(".cc-bot").last).to_contain_text("phone number")  # the call-back offer
    expect(page.locator(".cc-bot").last).not_to_have_class(re.compile("cc-urgent"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    expect(calls.first).to_be_in_viewport(ratio=1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "widget-360.png")
    page.reload()  # kept with the transcript
    expect(page.locator(".cc-urgent .cc-calls a").first).to_have_attribute("href", "tel:999")


def test_urgent_call_buttons_follow_the_reply_and_never_run_its_text(servers, phone_page) -> None:
    """The urgent advice the Rasa server sends itself (action server down) in opening hours,
    served over the REST channel by the test, with two malformed numbers added to ``call``."""
    page = phone_page
    settings = get_settings()
    tuesday_noon = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    reply = unavailable_reply(
        "report_complication", triage(BREATHING).as_dict(), settings, tuesday_noon
    )
    contract = {"type": reply.reply_type, **reply.fields}
    contract["call"] = [
        *contract["call"],
        {"label": "Not a number", "number": "javascript:alert(1)"},
        {"label": HTML_MESSAGE, "number": "+44 20 7946 0999"},
    ]
    body = [
        {"recipient_id": "x", "text": reply.text},
        {"recipient_id": "x", "custom": {"reply": contract}},
    ]
    page.route(
        f"**{REST_WEBHOOK}",
        lambda route: route.fulfill(content_type="application/json", body=json.dumps(body)),
    )
    page.add_init_script(REST_ONLY_TAG)
    open_chat(page, servers.page_url, connection="rest")
    ask(page, BREATHING)
    calls = page.locator(".cc-urgent").get_by_role("group", name="Call now").get_by_role("link")
    expect(calls).to_have_count(3)
    assert [link.get_attribute("href") for link in calls.all()] == [
        "tel:999", "tel:" + settings.phone.replace(" ", ""), "tel:+442079460999",
    ]  # fmt: skip
    expect(calls.nth(1)).to_have_text(f"Call the clinic{settings.phone}")
    expect(calls.nth(2)).to_contain_text(HTML_MESSAGE)  # shown as text
    assert page.locator("img").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_talk_to_a_person_gives_links(servers, page) -> None:
    open_chat(page, servers.page_url)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".cc-user").last).to_have_text(re.compile("Talk to a person$"))
    # The call-back form starts; its first message says how to reach the clinic directly.
    expect(last_bot_message(page)).to_contain_text("What name should the team use for you?")
    intro = page.locator(".cc-bot", has_text="You can also book online")
    expect(intro.locator('a[href="tel:+442079460000"]')).to_have_text("+44 20 7946 0000")
    booking = intro.get_by_role("link", name="https://example.com/book")
    expect(booking).to_have_attribute("href", "https://example.com/book")
    expect(booking).to_have_attribute("target", "_blank")
    expect(booking).to_have_attribute("rel", "noopener noreferrer")
    ask(page, "never mind")
    expect(last_bot_message(page)).to_contain_text("nothing has been stored")


def test_works_on_a_360px_phone_screen(servers, phone_page) -> None:
    page = phone_page
    open_chat(page, servers.page_url)
    ask(page, "What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")
    ask(page, "I'd like to book a consultation")
    expect(
        page.locator(".cc-bot", has_text="You can also book online").get_by_role("link")
    ).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for control in (page.get_by_label("Your question"), page.get_by_role("button", name="Send")):
        expect(control).to_be_in_viewport(ratio=1)


def test_keyboard_only(servers, page) -> None:
    page.goto(servers.page_url)
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    for _ in range(10):  # the page's own links come first
        page.keyboard.press("Tab")
        if launcher.evaluate("button => button.matches(':focus-visible')"):
            break
    expect(launcher).to_be_focused()
    assert launcher.evaluate("button => getComputedStyle(button).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Your question")).to_be_focused()
    page.keyboard.type("What is PRP?")
    page.keyboard.press("Enter")
    expect(last_bot_message(page)).to_contain_text(answer_text("prp", "overview"))
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()


def test_falls_back_to_rest_when_sockets_are_blocked(servers, page, rest_requests) -> None:
    page.route("**/socket.io/**", lambda route: route.abort())
    open_chat(page, servers.page_url, connection="offline")
    ask(page, "What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")
    expect_turn_finished(page)
    assert len(rest_requests) == 1
    assert rest_requests[0].post_data_json["sender"] == stored_state(page)["sessionId"]


# Sets data-transport="rest" on the widget's tag as soon as the parser adds it, before the
# deferred script runs. (Rewriting the page with page.route would not do: Chromium treats a
# rewritten page as public, and its local-network rules then block calls to localhost.)
REST_ONLY_TAG = """
new MutationObserver((changes, observer) => {
  const tag = document.querySelector('script[src$="clinic-chat.js"]');
  if (tag) {
    tag.dataset.transport = "rest";
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def test_rest_only_mode_never_loads_socketio(servers, page, rest_requests) -> None:
    socket_requests = requests_to(page, "socket.io")
    page.add_init_script(REST_ONLY_TAG)
    open_chat(page, servers.page_url, connection="rest")
    ask(page, "What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")
    assert len(rest_requests) == 1
    assert socket_requests == []


def test_vendored_client_speaks_the_servers_protocol(servers, page) -> None:
    """python-engineio 4 accepts Engine.IO 4 only, which socket.io JS clients 3.x/4.x speak."""
    handshakes = requests_to(page, "/socket.io/")
    open_chat(page, servers.page_url)
    assert handshakes and all("EIO=4" in request.url for request in handshakes), handshakes
    older_client = requests.get(f"{servers.rasa_url}/socket.io/?EIO=3&transport=polling", timeout=5)
    assert older_client.status_code == 400
    assert "unsupported version" in older_client.text


def test_reconnects_to_its_session_after_rasa_restarts(servers, page, rest_requests) -> None:
    open_chat(page, servers.page_url)
    ask(page, "What is PRP?")
    expect_answer_with_sources(page, "prp", "overview")

    servers.stop_rasa()
    wait_for_connection(page, "offline")
    servers.start_rasa()
    servers.wait_for_rasa()
    wait_for_connection(page, "connected")
    ask(page, "what are exosomes?")
    # Replies go to the session's room: they arrive only if the client asked for its
    # session again after reconnecting.
    expect(last_bot_message(page)).to_contain_text(answer_text("exosomes", "overview"))
    assert rest_requests == []
