"""``make run`` and ``make run-cluster``: start every server, keep them running, stop cleanly.

One server of each kind by default (``make run``): the action server, the Rasa server and the
demo web page. ``--rasa-servers N --action-servers M`` (``make run-cluster``) starts N Rasa
servers and M action servers behind nginx, on a shared lock store (Redis:
``$CLINIC_LOCK_STORE_URL``, else a private ``redis-server`` started here) and the conversation
database (SQLite file by default, PostgreSQL with ``$CLINIC_CONVERSATIONS_URL``).

A server that dies is restarted (after 1 s, then up to 30 s between attempts) instead of
stopping everything; Ctrl-C stops them all and exits 0 with "Stopped.". Every server listens
on 127.0.0.1 unless ``$CLINIC_BIND_HOST`` says otherwise. The shared secrets (action server,
widget sessions) come from the environment, else from files under ``build/`` made on first
use (mode 0600).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from clinic.paths import PROJECT_ROOT
from scripts.nginx_conf import render_nginx_conf
from scripts.servers import endpoints_text, wait_until_answering, wait_until_up

BUILD = PROJECT_ROOT / "build"
BIN = Path(sys.executable).parent
RESTART_DELAYS = (1, 2, 5, 10, 30)
STABLE_SECONDS = 60  # a server up this long is healthy again: the next restart waits 1 s


def local_secret(name: str, env: str) -> str:
    """``$env`` if set, else the secret kept in ``build/<name>`` (made once, mode 0600)."""
    if os.environ.get(env):
        return os.environ[env]
    path = BUILD / name
    if not path.is_file():
        BUILD.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    """One supervised process: how to start it, and how to tell that it is up."""

    name: str
    command: list[str]
    log: Path
    port: int | None = None  # on 127.0.0.1; checked free before anything starts
    health_path: str | None = None  # a path that answers once the server is up
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0

    @property
    def health_url(self) -> str | None:
        if self.port is None or self.health_path is None:
            return None
        return f"http://127.0.0.1:{self.port}{self.health_path}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            # Own session: Ctrl-C reaches the supervisor only, which stops servers in order.
            start_new_session=True,
        )
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Supervisor:
    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.stopping = False

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def watch(self) -> None:
        """Restart a server that died, until asked to stop."""
        due: dict[str, float] = {}
        while not self.stopping:
            time.sleep(0.5)
            for server in self.servers:
                if self.stopping or server.process is None or server.process.poll() is None:
                    continue
                now = time.monotonic()
                if server.name not in due:
                    if now - server.started_at > STABLE_SECONDS:
                        server.restarts = 0
                    delay = RESTART_DELAYS[min(server.restarts, len(RESTART_DELAYS) - 1)]
                    due[server.name] = now + delay
                    print(f"The {server.name} stopped (exit code {server.process.returncode}); "
                          f"restarting it in {delay} s. Its log: {server.log}",
                          file=sys.stderr, flush=True)  # fmt: skip
                elif now >= due[server.name]:
                    del due[server.name]
                    server.restarts += 1
                    server.start()

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def build_servers(args: argparse.Namespace) -> tuple[list[Server], str, str]:
    """The servers to start, the address patients chat at, and the Rasa (or proxy) URL."""
    host = os.environ.get("CLINIC_BIND_HOST") or "127.0.0.1"
    action_secret = local_secret("action-secret", "CLINIC_ACTION_SECRET")
    widget_secret = local_secret("widget-secret", "CLINIC_WIDGET_SECRET")
    common = {
        "CLINIC_ACTION_SECRET": action_secret,
        "CLINIC_WIDGET_SECRET": widget_secret,
        "CLINIC_ACTION_HOST": host,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    servers: list[Server] = []
    lock_url = os.environ.get("CLINIC_LOCK_STORE_URL", "")
    if args.rasa_servers > 1 and not lock_url:
        redis_port = args.redis_port
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        servers.append(Server(
            "lock store (redis-server)",
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            BUILD / "redis.log",
            redis_port,
        ))  # fmt: skip
        lock_url = f"redis://127.0.0.1:{redis_port}/0"
    action_urls = []
    for index in range(args.action_servers):
        port = args.action_port + index
        action_urls.append(f"http://127.0.0.1:{port}/webhook")
        servers.append(Server(
            f"action server {index + 1}" if args.action_servers > 1 else "action server",
            [str(BIN / "python"), "-m", "serving.action_server", "--port", str(port)],
            BUILD / f"action-server-{index + 1}.log",
            port,
            "/health",
            common,
        ))  # fmt: skip
    subprocess.run(
        [str(BIN / "python"), "-m", "scripts.credentials", str(BUILD / "credentials.run.yml")],
        cwd=PROJECT_ROOT,
        check=True,
    )
    origins = os.environ.get("CLINIC_SITE_ORIGINS") or (
        f"http://localhost:{args.web_port},http://127.0.0.1:{args.web_port},"
        f"http://localhost:{args.proxy_port},http://127.0.0.1:{args.proxy_port}"
    )
    rasa_ports = []
    for index in range(args.rasa_servers):
        port = args.rasa_port + index
        rasa_ports.append(port)
        endpoints = BUILD / f"endpoints.rasa-{index + 1}.yml"
        endpoints.write_text(endpoints_text(action_urls[index % len(action_urls)], lock_url))
        servers.append(Server(
            f"Rasa server {index + 1}" if args.rasa_servers > 1 else "Rasa server",
            [str(BIN / "python"), "-m", "serving.rasa_server", "run", "--model", args.model,
             "--port", str(port), "-i", host, "--endpoints", str(endpoints),
             "--credentials", str(BUILD / "credentials.run.yml"),
             "--cors", *origins.split(",")],
            BUILD / f"rasa-server-{index + 1}.log",
            port,
            "/",
            {**common, "CLINIC_SITE_ORIGINS": origins},
        ))  # fmt: skip
    cluster = args.rasa_servers > 1 or args.proxy
    rasa_url = (
        f"http://localhost:{args.proxy_port}" if cluster else f"http://localhost:{rasa_ports[0]}"
    )
    servers.append(Server(
        "demo web page",
        [str(BIN / "python"), "-m", "webapp", "--host", host, "--port", str(args.web_port),
         "--rasa-url", rasa_url],
        BUILD / "webapp.log",
        args.web_port,
        "/",
        {**common, "CLINIC_TRUST_PROXY": "1" if cluster else ""},
    ))  # fmt: skip
    chat_url = f"http://localhost:{args.web_port}"
    if cluster:
        nginx_dir = BUILD / "nginx"
        for sub in ("logs", "temp"):
            (nginx_dir / sub).mkdir(parents=True, exist_ok=True)
        conf = nginx_dir / "nginx.conf"
        conf.write_text(render_nginx_conf(
            [f"127.0.0.1:{port}" for port in rasa_ports], f"127.0.0.1:{args.web_port}",
            args.proxy_port, nginx_dir, run_as_root=os.geteuid() == 0,
        ))  # fmt: skip
        servers.append(Server(
            "proxy (nginx)",
            [args.nginx, "-p", str(nginx_dir), "-c", str(conf), "-g", "daemon off;"],
            BUILD / "nginx.log",
            args.proxy_port,
            "/healthz",
        ))  # fmt: skip
        chat_url = f"http://localhost:{args.proxy_port}"
    return servers, chat_url, rasa_url


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m scripts.run", description=__doc__)
    parser.add_argument("--model", default=env.get("MODEL", "models/clinic.tar.gz"))
    parser.add_argument("--rasa-servers", type=int, default=1)
    parser.add_argument("--action-servers", type=int, default=1)
    parser.add_argument("--proxy", action="store_true", help="nginx in front (implied by N > 1)")
    parser.add_argument("--rasa-port", type=int, default=int(env.get("RASA_PORT", 5005)))
    parser.add_argument("--action-port", type=int, default=int(env.get("ACTION_PORT", 5055)))
    parser.add_argument("--web-port", type=int, default=int(env.get("WEB_PORT", 8000)))
    parser.add_argument("--proxy-port", type=int, default=int(env.get("PROXY_PORT", 8080)))
    parser.add_argument("--redis-port", type=int, default=int(env.get("CLUSTER_REDIS_PORT", 6390)))
    parser.add_argument("--nginx", default=env.get("NGINX", "/usr/sbin/nginx"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check = subprocess.run([str(BIN / "python"), "-m", "clinic.check"], cwd=PROJECT_ROOT)
    if check.returncode != 0:
        return check.returncode
    servers, chat_url, rasa_url = build_servers(args)
    busy = [str(server.port) for server in servers if server.port and port_in_use(server.port)]
    if busy:
        print(f"error: port {', '.join(busy)} already in use (another 'make run'?). Stop it, or "
              "run e.g. 'make run RASA_PORT=5006 ACTION_PORT=5056 WEB_PORT=8001'.",
              file=sys.stderr)  # fmt: skip
        return 1
    supervisor = Supervisor(servers)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    try:
        for server in servers:
            server.start()
        for server in servers:
            if server.name.startswith("Rasa server"):
                wait_until_answering(server.health_url.rstrip("/"), server.process, server.log)
            elif server.health_url:
                wait_until_up(server.health_url, server.process, server.log, name=server.name)
            if supervisor.stopping:
                break
        if not supervisor.stopping:
            print(banner(chat_url, rasa_url, servers), flush=True)
            supervisor.watch()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        supervisor.stop_all()
        return 1
    finally:
        supervisor.stop_all()
    print("Stopped.")
    return 0


def banner(chat_url: str, rasa_url: str, servers: list[Server]) -> str:
    logs = "\n".join(
        f"      {server.name}: {server.log.relative_to(PROJECT_ROOT)}" for server in servers
    )
    return f"""
  The clinic assistant is running.
    Chat on the demo clinic page:     {chat_url}
    Chat in this machine's terminal:  make shell      (in another terminal)
    REST channel:  curl -s -X POST {rasa_url}/webhooks/rest/webhook \\
                     -H 'Content-Type: application/json' \\
                     -d '{{"sender": "me", "message": "What is PRP?"}}'
    Front-desk inbox: {chat_url}/staff (needs CLINIC_STAFF_TOKEN; tickets: make tickets)
    Logs:
{logs}
  A server that stops is restarted. Press Ctrl-C to stop.
"""


if __name__ == "__main__":
    sys.exit(main())
