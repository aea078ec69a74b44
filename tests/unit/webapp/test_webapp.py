"""The demo web app: the page with the Rasa server's address, the widget's files, sources."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from clinic.knowledge import get_knowledge
from clinic.paths import KNOWLEDGE_DIR_ENV, PROJECT_ROOT, SETTINGS_FILE_NAME
from clinic.settings import get_settings
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


def test_sources_are_the_titles_patients_see() -> None:
    async def check(client: TestClient) -> None:
        response = await client.get("/api/sources", headers={"Origin": "https://clinic.example"})
        titles = await response.json()
        assert titles == get_knowledge().display_titles and set(titles) == set(
            get_knowledge().sources
        )
        assert not any("paraphrased" in title.lower() for title in titles.values())
        # Public, without cookies: readable by the widget on the clinic's own site.
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    run_with_client(create_app(), check)


def test_widget_settings_come_from_the_clinic_settings() -> None:
    settings = get_settings()

    async def check(client: TestClient) -> None:
        response = await client.get("/api/widget", headers={"Origin": "https://clinic.example"})
        assert response.status == 200
        assert await response.json() == {
            "assistant_name": settings.assistant_name,
            "clinic_name": settings.name,
            "brand_colour": settings.brand_colour,
            "starter_questions": list(settings.starter_questions),
        }
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Set-Cookie" not in response.headers

    run_with_client(create_app(), check)


def test_widget_settings_are_read_from_the_clinics_settings_file(tmp_path, monkeypatch) -> None:
    directory = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", directory)
    settings_file = directory / SETTINGS_FILE_NAME
    text = settings_file.read_text()
    assert "  name: Skin Clinic Assistant\n" in text
    settings_file.write_text(text.replace("  name: Skin Clinic Assistant\n", "  name: Aria\n"))
    monkeypatch.setenv(KNOWLEDGE_DIR_ENV, str(directory))

    async def check(client: TestClient) -> None:
        widget = await (await client.get("/api/widget")).json()
        assert widget["assistant_name"] == "Aria"

    run_with_client(create_app(), check)


def test_the_demo_page_takes_the_widget_settings_from_the_app() -> None:
    async def check(client: TestClient) -> None:
        page = await (await client.get("/")).text()
        assert 'data-config-url="/api/widget"' in page
        # An attribute would win over the clinic settings: the demo sets none of them.
        assert "data-title=" not in page and "data-primary-color=" not in page

    run_with_client(create_app(), check)
