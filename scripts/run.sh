#!/usr/bin/env bash
# Starts the action server and the Rasa server (REST channel), waits until both answer,
# prints how to chat, and stops both on Ctrl-C. Called by `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

RASA_PORT="${RASA_PORT:-5005}"
ACTION_PORT="${ACTION_PORT:-5055}"
WEB_PORT="${WEB_PORT:-8000}"
MODEL="${MODEL:-models/clinic.tar.gz}"
BIN=.venv/bin
mkdir -p build

# Validate the clinic's files first: a mistake is reported as file:line: field, not as a
# traceback from a server.
"$BIN/python" -m clinic.check

for port in "$RASA_PORT" "$ACTION_PORT" "$WEB_PORT"; do
    if "$BIN/python" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
        echo "error: port $port is already in use (another 'make run'?). Stop it, or run e.g. 'make run RASA_PORT=5006 ACTION_PORT=5056 WEB_PORT=8001'." >&2
        exit 1
    fi
done

# An endpoints file for the chosen action-server port (endpoints.yml has the default one).
endpoints=build/endpoints.run.yml
printf 'action_endpoint:\n  url: "http://localhost:%s/webhook"\n  enable_selective_domain: true\n' "$ACTION_PORT" > "$endpoints"

# credentials.yml plus the messaging channels switched on by environment variables.
"$BIN/python" -m scripts.credentials build/credentials.run.yml

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo; echo "Stopping..."
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$BIN/rasa" run actions --actions actions --port "$ACTION_PORT" > build/action-server.log 2>&1 &
pids+=($!)
"$BIN/rasa" run --model "$MODEL" --port "$RASA_PORT" --endpoints "$endpoints" \
    --credentials build/credentials.run.yml --cors "*" > build/rasa-server.log 2>&1 &
pids+=($!)
"$BIN/python" -m webapp --port "$WEB_PORT" --rasa-url "http://localhost:$RASA_PORT" \
    > build/webapp.log 2>&1 &
pids+=($!)

wait_for() {  # name, url, pid, log
    for _ in $(seq 1 120); do
        if ! kill -0 "$3" 2>/dev/null; then
            echo "error: the $1 stopped while starting; the end of $4:" >&2
            tail -n 20 "$4" >&2
            exit 1
        fi
        if "$BIN/python" -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$2" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    echo "error: the $1 did not answer at $2 within 60 s; see $4" >&2
    exit 1
}
wait_for "action server" "http://localhost:$ACTION_PORT/health" "${pids[0]}" build/action-server.log
wait_for "demo web page" "http://localhost:$WEB_PORT/" "${pids[2]}" build/webapp.log
# Rasa's HTTP server answers before its model is loaded: wait for a real reply.
"$BIN/python" -c "
import subprocess, sys
from pathlib import Path
from scripts.servers import wait_until_answering
class Running:  # the Rasa process started above, watched through its pid
    def poll(self):
        return None if subprocess.run(['kill', '-0', '${pids[1]}']).returncode == 0 else 1
    returncode = 'an error'
try:
    wait_until_answering('http://localhost:$RASA_PORT', Running(), Path('build/rasa-server.log'))
except RuntimeError as error:
    sys.exit(f'error: {error}')
"

cat <<MSG

  The clinic assistant is running.
    Chat on the demo clinic page:     http://localhost:$WEB_PORT
    Chat in this machine's terminal:  make shell      (in another terminal)
    REST channel:  curl -s -X POST http://localhost:$RASA_PORT/webhooks/rest/webhook \\
                     -H 'Content-Type: application/json' \\
                     -d '{"sender": "me", "message": "What is PRP?"}'
    Front-desk inbox: http://localhost:$WEB_PORT/staff (needs CLINIC_STAFF_TOKEN; tickets: make tickets)
    Logs: build/rasa-server.log, build/action-server.log, build/webapp.log
  Press Ctrl-C to stop.

MSG
# Exit (and stop the other) as soon as either server stops.
wait -n "${pids[@]}"
echo "A server stopped; see build/rasa-server.log and build/action-server.log." >&2
exit 1
