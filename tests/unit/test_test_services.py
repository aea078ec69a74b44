"""The private PostgreSQL and Redis servers the tests start (tests/support/services.py), and the
``postgres_url`` / ``redis_url`` fixtures built on them (tests/conftest.py).

Each private server must take a real connection and a write, run apart from any system server,
and leave no process, port or file behind. The fixtures must use the URLs given in the
environment verbatim, and otherwise start private servers only when a test asks for them.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest
import redis

from clinic.paths import PROJECT_ROOT
from tests.support.services import (
    POSTGRES_URL_ENV,
    REDIS_URL_ENV,
    ServiceUnavailableError,
    find_postgres_bin_dir,
    find_redis_server,
    private_postgres,
    private_redis,
)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def postgres_refuses(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return True
    return False


def redis_refuses(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        return True
    finally:
        client.close()
    return False


def test_private_postgres_takes_a_write_and_leaves_nothing_behind(
    tmp_path: Path, record_property
) -> None:
    started = time.monotonic()
    with private_postgres(tmp_path) as url:
        record_property("startup_seconds", round(time.monotonic() - started, 2))
        parsed = urlparse(url)
        assert (parsed.scheme, parsed.hostname, parsed.path) == ("postgresql", "127.0.0.1", "/test")
        with (
            closing(psycopg2.connect(url)) as connection,
            connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
            cursor.execute("INSERT INTO notes (body) VALUES (%s) RETURNING id", ("written",))
            (note_id,) = cursor.fetchone()
        with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT body FROM notes WHERE id = %s", (note_id,))
            assert cursor.fetchone() == ("written",)  # committed, seen by a new connection
            cursor.execute("SHOW data_directory")
            (data_dir,) = cursor.fetchone()
            cursor.execute("SHOW unix_socket_directories")
            (socket_dir,) = cursor.fetchone()
            cursor.execute("SHOW fsync")
            assert cursor.fetchone() == ("off",)
        # Its own cluster, with its sockets beside it rather than in the system server's place.
        assert Path(socket_dir) == Path(data_dir).parent
        assert stat.S_ISSOCK((Path(socket_dir) / f".s.PGSQL.{parsed.port}").stat().st_mode)
        postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
        assert is_running(postmaster)

    assert not is_running(postmaster)
    assert postgres_refuses(url)
    assert not Path(socket_dir).exists()
    assert list(tmp_path.iterdir()) == []


def test_private_redis_takes_a_write_and_leaves_nothing_behind(
    tmp_path: Path, record_property
) -> None:
    started = time.monotonic()
    with private_redis(tmp_path) as url:
        record_property("startup_seconds", round(time.monotonic() - started, 2))
        assert urlparse(url).hostname == "127.0.0.1"
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.set("ticket:1", "written")
        assert redis.Redis.from_url(url, decode_responses=True).get("ticket:1") == "written"
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        server_dir = Path(client.config_get("dir")["dir"])
        pid = client.info("server")["process_id"]
        assert server_dir.parent == tmp_path.resolve()
        client.close()

    assert not is_running(pid)
    assert redis_refuses(url)
    assert list(tmp_path.iterdir()) == []


def test_two_private_redis_servers_share_nothing(tmp_path: Path) -> None:
    with private_redis(tmp_path) as first, private_redis(tmp_path) as second:
        assert urlparse(first).port != urlparse(second).port
        redis.Redis.from_url(first).set("key", "first")
        assert redis.Redis.from_url(second).get("key") is None


def test_missing_binaries_name_make_install_services(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ServiceUnavailableError, match="make install-services"):
        find_postgres_bin_dir(debian_root=tmp_path / "no-postgresql", path=str(empty))
    with pytest.raises(ServiceUnavailableError, match="make install-services"):
        find_redis_server(path=str(empty))


def make_executables(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\n")
        (directory / name).chmod(0o755)
    return directory


def test_the_newest_complete_debian_postgresql_is_chosen(tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    make_executables(root / "9.6" / "bin", "initdb", "postgres")
    newest = make_executables(root / "15" / "bin", "initdb", "postgres")
    make_executables(root / "16" / "bin", "initdb")  # half-removed: no server binary
    make_executables(root / "13" / "bin", "initdb", "postgres")
    assert find_postgres_bin_dir(debian_root=root, path="") == newest

    # Without Debian's directories, PATH's initdb counts only with postgres beside it.
    only_initdb = make_executables(tmp_path / "a", "initdb")
    both = make_executables(tmp_path / "b", "initdb", "postgres")
    with pytest.raises(ServiceUnavailableError):
        find_postgres_bin_dir(debian_root=tmp_path / "none", path=str(only_initdb))
    assert find_postgres_bin_dir(debian_root=tmp_path / "none", path=str(both)) == both


def test_the_fixtures_give_working_servers(postgres_url: str, redis_url: str) -> None:
    with closing(psycopg2.connect(postgres_url)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone() == ("test",)
    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    client.close()


# -- the fixtures in a pytest run of their own (its session is what they live for) -----------

RECORD_URLS = """
import json, os
from pathlib import Path

def test_record(postgres_url, redis_url):
    found = {"postgres": postgres_url, "redis": redis_url}
    Path(os.environ["FOUND_FILE"]).write_text(json.dumps(found))
"""

RECORD_PRIVATE_SERVERS = """
import json, os
from pathlib import Path

import psycopg2, redis

found = {}

def test_1_asks_for_no_server(tmp_path_factory):
    found["work_dirs_before"] = sorted(p.name for p in tmp_path_factory.getbasetemp().iterdir())

def test_2_uses_both(postgres_url, redis_url, tmp_path_factory):
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x int)")
        cursor.execute("INSERT INTO t VALUES (1)")
        cursor.execute("SHOW data_directory")
        (found["postgres_dir"],) = cursor.fetchone()
    connection.close()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set("k", "v")
    found["redis_dir"] = client.config_get("dir")["dir"]
    found["work_dirs_after"] = sorted(p.name for p in tmp_path_factory.getbasetemp().iterdir())
    found.update(postgres=postgres_url, redis=redis_url)
    Path(os.environ["FOUND_FILE"]).write_text(json.dumps(found))
"""


def run_pytest_with_the_fixtures(tmp_path: Path, test_source: str, env: dict[str, str]) -> dict:
    """Run ``test_source`` in a new pytest process that loads tests/conftest.py; its findings."""
    (tmp_path / "test_inner.py").write_text(test_source)
    found_file = tmp_path / "found.json"
    environment = {
        k: v for k, v in os.environ.items() if k not in (POSTGRES_URL_ENV, REDIS_URL_ENV)
    }
    environment.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        FOUND_FILE=str(found_file),
        **env,
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.conftest",
    ]
    result = subprocess.run(
        [*command, "--basetemp", str(tmp_path / "basetemp"), "test_inner.py"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(found_file.read_text())


def test_the_fixtures_use_the_urls_given_in_the_environment(tmp_path: Path) -> None:
    # Nothing listens there: the fixtures must hand them over as they are, starting nothing.
    given = {
        POSTGRES_URL_ENV: "postgresql://clinic@127.0.0.1:9/elsewhere",
        REDIS_URL_ENV: "redis://127.0.0.1:9/3",
    }
    found = run_pytest_with_the_fixtures(tmp_path, RECORD_URLS, given)
    assert found == {"postgres": given[POSTGRES_URL_ENV], "redis": given[REDIS_URL_ENV]}
    assert not (tmp_path / "basetemp" / "postgres0").exists()
    assert not (tmp_path / "basetemp" / "redis0").exists()


def test_without_urls_the_fixtures_start_private_servers_when_asked_and_stop_them(
    tmp_path: Path,
) -> None:
    found = run_pytest_with_the_fixtures(tmp_path, RECORD_PRIVATE_SERVERS, {})
    assert found["work_dirs_before"] == []  # a test asking for neither started neither
    assert {"postgres0", "redis0"} <= set(found["work_dirs_after"])
    for url, default_port in ((found["postgres"], 5432), (found["redis"], 6379)):
        assert urlparse(url).hostname == "127.0.0.1"
        assert urlparse(url).port != default_port  # not a system server
    # The session is over: both servers are stopped and their files gone.
    assert postgres_refuses(found["postgres"])
    assert redis_refuses(found["redis"])
    assert not Path(found["postgres_dir"]).exists()
    assert not Path(found["redis_dir"]).exists()
