"""Which web pages may open the widget's socket: ``$CLINIC_SITE_ORIGINS``
(``clinic.site_origins``), checked by the socket.io channel on a real server with the real
python-socketio client, over both transports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import socketio
from rasa.shared.exceptions import RasaException

from channels.socketio import WIDGET_SECRET_ENV, ClinicSocketIOInput
from clinic.site_origins import DEFAULT_SITE_ORIGINS, SITE_ORIGINS_ENV, site_origins
from tests.support.channel_server import ChannelServer, RecordingAgent, serving_channels
from tests.support.widget_socket import WidgetSocket

SITE = "https://www.clinic.example"
TRANSPORTS = ["polling", "websocket"]


def connects(server: ChannelServer, transport: str, origin: str | None) -> bool:
    """Whether a client whose page is at ``origin`` (None: no Origin header) gets in."""
    if transport == "polling":  # requests sends no Origin unless told
        socket = WidgetSocket(server.url, ("polling",))
        headers = {"Origin": origin} if origin else None
    else:  # websocket-client sends the server's own origin unless told
        options = {"origin": origin} if origin else {"suppress_origin": True}
        socket = WidgetSocket(server.url, ("websocket",), websocket_extra_options=options)
        headers = None
    try:
        socket.connect(headers)
    except socketio.exceptions.ConnectionError:
        return False
    try:
        socket.request_session(None)  # a connected socket is served
        return True
    finally:
        socket.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ChannelServer]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(WIDGET_SECRET_ENV, "w" * 40)
        env.setenv(SITE_ORIGINS_ENV, f"{SITE}, https://clinic.example/")
        channel = ClinicSocketIOInput.from_credentials({"session_persistence": True})
    with serving_channels([channel], RecordingAgent()) as running:
        # A refused polling client waits for its pending long-poll, which the server leaves
        # open until the next ping is due: ping often, so those tests take a second, not 30.
        channel.sio.eio.ping_interval = channel.sio.eio.ping_timeout = 1
        yield running


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("origin", [SITE, "https://clinic.example"])
def test_the_sites_pages_connect(server, transport, origin) -> None:
    assert connects(server, transport, origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://www.clinic.example",  # not https
        "https://www.clinic.example:8443",
        "https://www.clinic.example.evil.example",
        "null",  # sandboxed frames and file:// pages
        *DEFAULT_SITE_ORIGINS,  # the demo page, when the site is configured
    ],
)
def test_other_pages_are_refused(server, origin) -> None:
    assert not connects(server, "websocket", origin)


@pytest.mark.parametrize("origin", ["https://evil.example", DEFAULT_SITE_ORIGINS[0]])
def test_other_pages_are_refused_over_polling_too(server, origin) -> None:
    assert not connects(server, "polling", origin)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_clients_that_are_not_browsers_connect(server, transport) -> None:
    """No Origin header: CORS is a browser's protection, and scripts can send any header."""
    assert connects(server, transport, None)


def test_the_servers_own_origin_connects(server) -> None:
    assert connects(server, "websocket", server.url)


def test_the_demo_page_connects_by_default(monkeypatch) -> None:
    monkeypatch.setenv(WIDGET_SECRET_ENV, "w" * 40)
    monkeypatch.delenv(SITE_ORIGINS_ENV, raising=False)
    channel = ClinicSocketIOInput.from_credentials({"session_persistence": True})
    with serving_channels([channel], RecordingAgent()) as server:
        assert connects(server, "polling", "http://localhost:8000")
        assert connects(server, "websocket", "http://127.0.0.1:8000")
        assert not connects(server, "websocket", SITE)


def test_a_bad_origin_setting_stops_the_channel(monkeypatch) -> None:
    monkeypatch.setenv(WIDGET_SECRET_ENV, "w" * 40)
    monkeypatch.setenv(SITE_ORIGINS_ENV, "www.clinic.example")
    with pytest.raises(RasaException, match=r"\$CLINIC_SITE_ORIGINS: 'www.clinic.example'"):
        ClinicSocketIOInput.from_credentials({"session_persistence": True})


# --- clinic.site_origins --------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", " , "])
def test_unset_or_blank_means_the_demo_page(value) -> None:
    environ = {} if value is None else {SITE_ORIGINS_ENV: value}
    if value == " , ":
        with pytest.raises(ValueError, match="no origin"):
            site_origins(environ)
    else:
        assert site_origins(environ) == ["http://localhost:8000", "http://127.0.0.1:8000"]


def test_origins_are_normalised_as_browsers_send_them() -> None:
    value = (
        " HTTPS://WWW.Clinic.Example/ ,https://clinic.example:443,,http://localhost:8000,"
        "http://[::1]:8000,https://www.clinic.example"
    )
    assert site_origins({SITE_ORIGINS_ENV: value}) == [
        "https://www.clinic.example",
        "https://clinic.example",
        "http://localhost:8000",
        "http://[::1]:8000",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "https://*.clinic.example",
        "www.clinic.example",
        "ftp://clinic.example",
        "https://clinic.example/chat",
        "https://clinic.example?x=1",
        "https://user@clinic.example",
        "https://clinic.example:port",
        "https://clinic.example:99999",
        "https://",
    ],
)
def test_entries_that_are_not_origins_are_refused(entry) -> None:
    with pytest.raises(ValueError, match=r"\$CLINIC_SITE_ORIGINS: .* is not a web origin"):
        site_origins({SITE_ORIGINS_ENV: f"https://clinic.example,{entry}"})
