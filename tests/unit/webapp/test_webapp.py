"""The demo web app: the page with the Rasa server's address, the widget's files, sources."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from clinic.knowledge import get_knowledge
from webapp import create_app
from webapp.app import RASA_URL_ENV
from webapp.staff import STAFF_TOKEN_ENV, TRUST_PROXY_ENV


@pytest.fixture(autouse=True)
def no_staff_settings(monkeypatch) -> None:
    # A developer's short or odd staff settings would stop create_app() (tested elsewhere).
    monkeypatch.delenv(STAFF_TOKEN_ENV, raising=False)
    monkeypatch.delenv(TRUST_PROXY_ENV, raising=False)


def run_with_client(app, check: Callable[[TestClient], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            await check(client)

    asyncio.run(run())


def test_demo_page_embeds_the_widget_with_the_rasa_url() -> None:
    async def check(client: TestClient) -> None:
        response = await client.get("/")
        assert response.status == 200
        page = await response.text()
        assert '<script src="/widget/clinic-chat.js"' in page
        assert 'data-server-url="https://rasa.example.org:5005"' in page
        assert "{{" not in page

    run_with_client(create_app("https://rasa.example.org:5005/"), check)


def test_rasa_url_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(RASA_URL_ENV, "http://10.0.0.5:5005")

    async def check(client: TestClient) -> None:
        assert 'data-server-url="http://10.0.0.5:5005"' in await (await client.get("/")).text()

    run_with_client(create_app(), check)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "localhost:5005", "ftp://host", "   "])
def test_rasa_url_must_be_a_web_address(url) -> None:
    with pytest.raises(ValueError, match="Rasa server URL"):
        create_app(url)


def test_rasa_url_is_escaped_in_the_page() -> None:
    async def check(client: TestClient) -> None:
        page = await (await client.get("/")).text()
        assert "<script>alert(1)" not in page
        assert 'data-server-url="http://x.example/&quot;&gt;&lt;script&gt;' in page

    run_with_client(create_app('http://x.example/"><script>alert(1)</script>'), check)


def test_serves_the_widget_files_and_nothing_outside_them() -> None:
    async def check(client: TestClient) -> None:
        for path in ("clinic-chat.js", "clinic-chat.css", "vendor/socket.io.min.js"):
            assert (await client.get(f"/widget/{path}")).status == 200, path
        assert (await client.get("/widget/../README.md")).status in {403, 404}
        assert (await client.get("/widget/%2e%2e/README.md")).status in {403, 404}

    run_with_client(create_app(), check)


def test_sources_are_the_knowledge_files_titles() -> None:
    async def check(client: TestClient) -> None:
        response = await client.get("/api/sources")
        assert await response.json() == get_knowledge().sources

    run_with_client(create_app(), check)
