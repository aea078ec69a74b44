"""A local HTTP server that records the requests it gets (a fake Twilio / Graph API /
callback receiver), so channel tests never reach the internet."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class FakeEndpoint:
    url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(
        self, condition: Callable[[list[RecordedRequest]], bool], timeout: float = 30
    ) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.requests)
            if condition(snapshot):
                return snapshot
            time.sleep(0.05)
        raise AssertionError(f"condition not met; requests so far: {snapshot}")


@contextmanager
def fake_endpoint(respond: Callable[[RecordedRequest], tuple[int, dict]]) -> Iterator[FakeEndpoint]:
    endpoint: FakeEndpoint

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            recorded = RecordedRequest(
                "POST",
                parsed.path,
                parse_qs(parsed.query),
                dict(self.headers),
                self.rfile.read(length),
            )
            with endpoint.lock:
                endpoint.requests.append(recorded)
            status, payload = respond(recorded)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint = FakeEndpoint(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
