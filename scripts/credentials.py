"""Write the credentials file Rasa runs with: credentials.yml plus the messaging channels and
the callback channel, switched on by environment variables.

A channel is on when all of its variables are set, and setting only some of them is an
error (secrets stay in the environment: the file only holds ``${VAR}`` references, which
Rasa expands when it reads the file). The callback channel needs ``CALLBACK_URL`` (where
the replies go) and ``CALLBACK_SECRET`` (what callers must send; see channels/callback.py).
Usage: ``python scripts/credentials.py OUT_FILE``; prints which channels are on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ruamel.yaml import YAML

from clinic.paths import PROJECT_ROOT

# connector class -> {credential key: environment variable}
OPTIONAL_CHANNELS: dict[str, dict[str, str]] = {
    "channels.telegram.ClinicTelegramInput": {
        "access_token": "TELEGRAM_TOKEN",
        "verify": "TELEGRAM_BOT_NAME",
        "webhook_url": "TELEGRAM_WEBHOOK_URL",
    },
    "channels.twilio.ClinicTwilioInput": {
        "account_sid": "TWILIO_ACCOUNT_SID",
        "auth_token": "TWILIO_AUTH_TOKEN",
        "twilio_number": "TWILIO_NUMBER",
    },
    "channels.facebook.ClinicFacebookInput": {
        "verify": "FACEBOOK_VERIFY",
        "secret": "FACEBOOK_SECRET",
        "page-access-token": "FACEBOOK_PAGE_ACCESS_TOKEN",
    },
    "channels.callback.ClinicCallbackInput": {
        "url": "CALLBACK_URL",
        "secret": "CALLBACK_SECRET",
    },
}


class ChannelConfigError(ValueError):
    pass


def build_credentials(environ: dict[str, str]) -> tuple[dict, list[str]]:
    """The credentials mapping and the names of the optional channels switched on."""
    yaml = YAML(typ="safe")
    credentials = yaml.load((PROJECT_ROOT / "credentials.yml").read_text()) or {}
    enabled = []
    for connector, variables in OPTIONAL_CHANNELS.items():
        present = [name for name in variables.values() if environ.get(name)]
        if not present:
            continue
        missing = [name for name in variables.values() if not environ.get(name)]
        if missing:
            raise ChannelConfigError(
                f"{connector.split('.')[1]} is partly configured: set {', '.join(missing)} "
                f"too, or unset {', '.join(present)}"
            )
        credentials[connector] = {key: f"${{{name}}}" for key, name in variables.items()}
        enabled.append(connector.split(".")[1])
    return credentials, enabled


def main() -> int:
    out = Path(sys.argv[1])
    try:
        credentials, enabled = build_credentials(dict(os.environ))
    except ChannelConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as stream:
        YAML().dump(credentials, stream)
    on = ", ".join(enabled) or "none (see README: Messaging channels)"
    print(f"messaging and callback channels on: {on}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
