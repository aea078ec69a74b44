#!/usr/bin/env bash
# Chat with the assistant in the terminal. Uses the action server of a running `make run`
# if there is one, otherwise starts its own for the session. Called by `make shell`.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTION_PORT="${ACTION_PORT:-5055}"
SHELL_PORT="${SHELL_PORT:-5006}"   # not RASA_PORT, so it works beside `make run`
BIN=.venv/bin
mkdir -p build

"$BIN/python" -m clinic.check
endpoints=build/endpoints.shell.yml
printf 'action_endpoint:\n  url: "http://localhost:%s/webhook"\n  enable_selective_domain: true\n' "$ACTION_PORT" > "$endpoints"

if ! "$BIN/python" -c "import sys,urllib.request; urllib.request.urlopen('http://localhost:$ACTION_PORT/health', timeout=1)" 2>/dev/null; then
    "$BIN/rasa" run actions --actions actions --port "$ACTION_PORT" > build/action-server.shell.log 2>&1 &
    action_pid=$!
    trap 'kill $action_pid 2>/dev/null || true' EXIT
fi
"$BIN/rasa" shell --model models/clinic.tar.gz --endpoints "$endpoints" --port "$SHELL_PORT"
