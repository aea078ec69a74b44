"""Private PostgreSQL and Redis servers for the tests, started from Debian's packages.

``private_postgres(work_dir)`` and ``private_redis(work_dir)`` are context managers: each starts
a server of its own on a free 127.0.0.1 port, waits until it answers, yields its URL, then
stops it and deletes its files. Nothing is shared with a system server (own data directory,
own port, PostgreSQL's unix sockets in its own directory), so a fresh machine with nothing
running, or one with its own servers on 5432 / 6379, gives the same result.

The binaries come from ``make install-services``: PostgreSQL's newest
``/usr/lib/postgresql/<version>/bin`` (Debian does not put ``initdb`` on PATH), else PATH;
``redis-server`` on PATH. PostgreSQL refuses to run as root, so as uid 0 it runs as the
``postgres`` system user that Debian's package creates. Servers are started under
``setpriv --pdeathsig`` where available, so they stop even if the test process is killed.

The servers are for tests: fsync off, trust authentication, nothing saved on disk by Redis.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

POSTGRES_URL_ENV = "CLINIC_TEST_POSTGRES_URL"
REDIS_URL_ENV = "CLINIC_TEST_REDIS_URL"
INSTALL_HINT = "run `make install-services` (Debian's postgresql and redis-server packages)"
DEBIAN_POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_SYSTEM_USER = "postgres"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
# A unix socket path must fit in sun_path: 107 bytes and the NUL.
MAX_SOCKET_PATH_LENGTH = 107
SOCKET_NAME_LENGTH = len("/.s.PGSQL.65535")
PORT_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it

logger = logging.getLogger(__name__)


class ServiceUnavailableError(RuntimeError):
    """A server's binaries (or the user to run them as) are not on this machine."""


class ServiceStartError(RuntimeError):
    """A server was started but did not come up; the message ends with its log."""


def find_postgres_bin_dir(
    debian_root: Path = DEBIAN_POSTGRES_ROOT, path: str | None = None
) -> Path:
    """The directory holding ``initdb`` and ``postgres``: Debian's newest version, else PATH."""
    versions = [
        directory
        for directory in debian_root.glob("*/bin")
        if _is_executable(directory / "initdb") and _is_executable(directory / "postgres")
    ]
    if versions:
        return max(versions, key=lambda directory: _version_key(directory.parent.name))
    initdb = shutil.which("initdb", path=path)
    if initdb and _is_executable(Path(initdb).parent / "postgres"):
        return Path(initdb).parent
    raise ServiceUnavailableError(
        f"PostgreSQL's initdb and postgres are neither under {debian_root}/*/bin nor on PATH: "
        f"{INSTALL_HINT}."
    )


def find_redis_server(path: str | None = None) -> Path:
    """``redis-server`` on PATH."""
    found = shutil.which("redis-server", path=path)
    if not found:
        raise ServiceUnavailableError(f"redis-server is not on PATH: {INSTALL_HINT}.")
    return Path(found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def private_postgres(work_dir: Path) -> Iterator[str]:
    """A PostgreSQL server of its own with an empty database ``test``; yields its URL.

    Superuser ``postgres``, trust authentication. Its files go in a new directory under
    ``work_dir``, or under the system temporary directory when the server's user cannot reach
    ``work_dir`` (as root: pytest's directories are private to root) or its path is too long
    for a unix socket. Everything is removed on exit.
    """
    import psycopg2  # here, so that a Redis-only test run does not need it

    bin_dir = find_postgres_bin_dir()
    run_as = _postgres_user_prefix()
    started = time.monotonic()
    with ExitStack() as cleanup:
        server_dir = _postgres_server_dir(work_dir, run_as)
        cleanup.callback(shutil.rmtree, server_dir, ignore_errors=True)
        data_dir = server_dir / "data"
        initdb = subprocess.run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                f"--pgdata={data_dir}",
                f"--username={POSTGRES_SYSTEM_USER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",  # a throw-away cluster: no need to wait for the disk
            ],
            cwd=server_dir,  # the server's user may not be able to enter the caller's cwd
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )
        if initdb.returncode != 0:
            raise ServiceStartError(f"initdb failed (exit {initdb.returncode}):\n{initdb.stdout}")

        def start(port: int, log: Path) -> subprocess.Popen:
            settings = {
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": str(server_dir),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                # Failed statements would be logged with their values (test patients' data).
                "log_min_error_statement": "panic",
            }
            options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
            command = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), *options]
            return _spawn([*run_as, *command], server_dir, log)

        def accepts_connections(port: int) -> bool:
            """Ours and up: a server that took the port first would answer too."""
            try:
                connection = psycopg2.connect(
                    host="127.0.0.1",
                    port=port,
                    user="postgres",
                    dbname="postgres",
                    connect_timeout=2,
                )
            except psycopg2.OperationalError:
                return False
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SHOW data_directory")
                    (served,) = cursor.fetchone()
            finally:
                connection.close()
            return _same_path(served, data_dir)

        process, port = _start_on_free_port("PostgreSQL", start, accepts_connections, server_dir)
        cleanup.callback(_stop_postgres, process, data_dir)
        connection = psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres"
        )
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE test")
        finally:
            connection.close()
        logger.info(
            "private PostgreSQL on 127.0.0.1:%d ready in %.2f s", port, time.monotonic() - started
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/test"


@contextmanager
def private_redis(work_dir: Path) -> Iterator[str]:
    """A Redis server of its own that keeps nothing on disk; yields its URL (database 0).

    Its working directory and log go in a new directory under ``work_dir``, removed on exit.
    """
    import redis  # here, so that a PostgreSQL-only test run does not need it

    binary = find_redis_server()
    started = time.monotonic()
    with ExitStack() as cleanup:
        server_dir = Path(tempfile.mkdtemp(prefix="redis-", dir=work_dir))
        cleanup.callback(shutil.rmtree, server_dir, ignore_errors=True)

        def start(port: int, log: Path) -> subprocess.Popen:
            command = [
                str(binary),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(server_dir),
                "--daemonize", "no",
            ]  # fmt: skip
            return _spawn([*_death_signal_prefix(signal.SIGTERM), *command], server_dir, log)

        def answers(port: int) -> bool:
            """Ours and up: a server that took the port first would answer too."""
            client = redis.Redis(
                host="127.0.0.1", port=port, socket_connect_timeout=2, decode_responses=True
            )
            try:
                return _same_path(client.config_get("dir")["dir"], server_dir)
            except redis.exceptions.RedisError:
                return False
            finally:
                client.close()

        process, port = _start_on_free_port("Redis", start, answers, server_dir)
        cleanup.callback(_stop, process, signal.SIGTERM)
        logger.info(
            "private Redis on 127.0.0.1:%d ready in %.2f s", port, time.monotonic() - started
        )
        yield f"redis://127.0.0.1:{port}/0"


# -- helpers ----------------------------------------------------------------------------


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _same_path(reported: str, expected: Path) -> bool:
    return os.path.realpath(reported) == os.path.realpath(expected)


def _version_key(name: str) -> tuple[int, ...]:
    """Version order (15 above 9.6); a directory not named like a version sorts first."""
    return (
        tuple(int(part) for part in name.split(".")) if re.fullmatch(r"\d+(\.\d+)*", name) else ()
    )


def _postgres_user_prefix() -> list[str]:
    """The command prefix that runs PostgreSQL's binaries as a user they accept."""
    if os.geteuid() != 0:
        return _death_signal_prefix(signal.SIGINT)
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        raise ServiceUnavailableError(
            f"PostgreSQL refuses to run as root and there is no '{POSTGRES_SYSTEM_USER}' user "
            f"to run it as (Debian's postgresql package creates it): {INSTALL_HINT}."
        ) from None
    setpriv = shutil.which("setpriv")
    if setpriv:  # execs the server in place, so the process we hold is the server itself
        user = POSTGRES_SYSTEM_USER
        # One setpriv for both: a later change of user would clear the death signal.
        return [
            *(setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups"),
            *("--pdeathsig=SIGINT", "--"),
        ]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", POSTGRES_SYSTEM_USER, "--"]
    raise ServiceUnavailableError(
        "PostgreSQL refuses to run as root and neither setpriv nor runuser (util-linux) is here "
        f"to run it as '{POSTGRES_SYSTEM_USER}'."
    )


def _death_signal_prefix(death_signal: signal.Signals) -> list[str]:
    """A prefix that has the server sent ``death_signal`` when the thread starting it ends
    (the test process exits or is killed), so no server outlives its tests."""
    setpriv = shutil.which("setpriv")
    return [setpriv, f"--pdeathsig={death_signal.name}", "--"] if setpriv else []


def _postgres_server_dir(work_dir: Path, run_as: list[str]) -> Path:
    """A new directory for the cluster and its sockets, owned by the user the server runs as."""
    candidates = [work_dir, Path(tempfile.gettempdir())]
    for parent in candidates:
        server_dir = Path(tempfile.mkdtemp(prefix="postgres-", dir=parent))
        if len(str(server_dir)) + SOCKET_NAME_LENGTH > MAX_SOCKET_PATH_LENGTH:
            server_dir.rmdir()
            continue
        if os.geteuid() != 0:
            return server_dir
        user = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        os.chown(server_dir, user.pw_uid, user.pw_gid)
        reachable = subprocess.run([*run_as, "test", "-w", str(server_dir)], cwd="/", check=False)
        if reachable.returncode == 0:
            return server_dir
        server_dir.rmdir()
    raise ServiceStartError(
        "no directory for PostgreSQL that its user can write with a path short enough for a "
        f"unix socket: tried {', '.join(map(str, candidates))}"
    )


def _spawn(command: list[str], server_dir: Path, log: Path) -> subprocess.Popen:
    """Start a server in ``server_dir`` with its output in ``log``."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command, cwd=server_dir, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )


def _start_on_free_port(
    name: str,
    start: Callable[[int, Path], subprocess.Popen],
    ready: Callable[[int], bool],
    server_dir: Path,
) -> tuple[subprocess.Popen, int]:
    """Start the server on a free port and wait until ``ready(port)``; retry a taken port."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        log = server_dir / f"{name.lower()}-{attempt}.log"
        process = start(port, log)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if ready(port):
                return process, port
            time.sleep(0.05)
        output = log.read_text(errors="replace")
        if process.poll() is None:
            _stop(process, signal.SIGKILL)
            raise ServiceStartError(
                f"{name} did not answer on 127.0.0.1:{port} within {START_TIMEOUT_SECONDS:.0f} s;"
                f" its log:\n{output[-4000:]}"
            )
        if "already in use" not in output.lower() or attempt == PORT_ATTEMPTS:
            raise ServiceStartError(
                f"{name} exited with status {process.returncode}; its log:\n{output[-4000:]}"
            )
    raise AssertionError("unreachable")  # the loop returns or raises


def _stop_postgres(process: subprocess.Popen, data_dir: Path) -> None:
    """Fast shutdown: ends open connections (a test may have left one) and exits."""
    if process.poll() is not None:
        return
    try:  # the postmaster itself, in case a wrapper (runuser) sits between us
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        postmaster = process.pid
    with suppress(ProcessLookupError):
        os.kill(postmaster, signal.SIGINT)
    _stop(process, None)


def _stop(process: subprocess.Popen, first_signal: signal.Signals | None) -> None:
    """Send ``first_signal`` (None: already sent), wait, and kill the process if it lingers."""
    if process.poll() is not None:
        return
    if first_signal is not None:
        process.send_signal(first_signal)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("server pid %d did not stop in time: killing it", process.pid)
        process.kill()
        process.wait()
