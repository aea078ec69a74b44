"""No personal data in any log (issue 10), on the real servers at Rasa's debug level: a booking
with a name, a phone number and an e-mail, a message with a phone number in payload syntax,
an action that fails inside the action server, and the action server going away mid-run;
then every log of the run is searched for the patient's details."""

from __future__ import annotations

import signal
import uuid

import pytest
import requests

from scripts.servers import ACTION_SECRET_HEADER, running_assistant
from tests.support.log_scan import personal_data_found
from tests.support.replies import reply_of

NAME = "Priya Quennell-Okafor"
PHONE = "07700 900417"
EMAIL = "priya.quennell@example.org"
SENDER = f"patient-{uuid.uuid4().hex[:8]}"
STORY = f"hi my name is {NAME}, call me on {PHONE} or {EMAIL}, I had PRP last week"


@pytest.fixture(scope="module")
def logs(trained_model, tmp_path_factory):
    work = tmp_path_factory.mktemp("privacy")
    with running_assistant(trained_model, work, rasa_args=("--debug",)) as assistant:
        for message in ["I'd like to book a consultation", NAME, f"{PHONE} or {EMAIL}",
                        "PRP", "weekday mornings", "yes"]:  # fmt: skip
            reply_of(assistant.send(message, SENDER))
        assistant.send(STORY, SENDER)
        assistant.send(f'/inform{{"contact_details": "{PHONE}", "contact_name": "{NAME}"}}', SENDER)
        # An action that fails inside the action server: a call whose tracker is malformed
        # but carries the patient's details, as a broken caller would send it.
        broken = {
            "next_action": "action_submit_booking",
            "sender_id": SENDER,
            "tracker": {"sender_id": SENDER, "slots": {"contact_name": NAME, "contact_details": EMAIL,
                        "consent": True}, "latest_message": STORY, "events": [STORY]},
            "domain": {},
        }  # fmt: skip
        response = requests.post(
            f"{assistant.action_url}/webhook",
            json=broken,
            headers={ACTION_SECRET_HEADER: assistant.env["CLINIC_ACTION_SECRET"]},
            timeout=10,
        )
        assert response.status_code == 500
        assert NAME not in response.text and EMAIL not in response.text
        # The action server goes away: Rasa's failure path logs the call.
        assistant.action_server.send_signal(signal.SIGKILL)
        assistant.action_server.wait()
        assistant.send(STORY, SENDER)
        assistant.send(f"my email is {EMAIL}", SENDER)
    return {path.name: path.read_text(errors="replace") for path in work.glob("*.log")}


def test_the_run_logged_at_debug_level(logs):
    assert "DEBUG" in logs["rasa-server.log"]
    assert "action_submit_booking" in logs["action-server.log"]


@pytest.mark.parametrize("log", ["rasa-server.log", "action-server.log"])
def test_no_log_holds_the_patients_details(logs, log):
    assert personal_data_found(logs[log], [NAME, PHONE, EMAIL, SENDER, "Quennell"]) == []
