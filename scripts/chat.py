"""Chat with the assistant in the terminal, as a patient would on SMS (`make shell`).

Starts its own action and Rasa servers (free ports; logs in build/shell/), then reads your
messages. Replies show their text only (the reply payload is for the widget and the tests,
not for patients); buttons are listed as numbers, and typing a number picks one, as on SMS.
``/quit`` or Ctrl-D ends the chat.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any

from channels.formatting import chosen_option, numbered_options
from clinic.paths import BUILD_DIR, MODELS_DIR
from scripts.servers import RunningAssistant, running_assistant

QUIT = {"/quit", "/exit", "/stop_chat"}


def render(messages: list[dict[str, Any]]) -> tuple[list[str], list[dict]]:
    """What to print for one turn (texts, buttons as numbers) and the buttons offered."""
    lines, buttons = [], []
    for message in messages:
        text = message.get("text") or ""
        if message.get("buttons"):
            buttons = list(message["buttons"])
            lines.append(numbered_options(text, buttons))
        elif text:
            lines.append(text)
    return lines, buttons


def resolve(text: str, buttons: list[dict]) -> str:
    """A number picks the button offered last; anything else is sent as typed."""
    index = chosen_option(text.strip(), len(buttons)) if buttons else None
    return buttons[index]["payload"] if index is not None else text


def chat(assistant: RunningAssistant) -> None:
    sender, buttons = f"shell-{uuid.uuid4().hex[:8]}", []
    print("Type a message (/quit to leave).")
    while True:
        try:
            typed = input("you> ").strip()
        except EOFError:
            break
        if typed in QUIT:
            break
        if not typed:
            continue
        lines, offered = render(assistant.send(resolve(typed, buttons), sender))
        buttons = offered
        for line in lines:
            print(f"bot> {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "clinic.tar.gz")
    args = parser.parse_args()
    print("Starting the assistant (about 10 s)...")
    with running_assistant(args.model, BUILD_DIR / "shell") as assistant:
        chat(assistant)


if __name__ == "__main__":
    main()
