"""The nginx configuration in front of several Rasa servers (``make run-cluster`` and
``deploy/nginx.conf`` for docker compose, both rendered by :func:`render_nginx_conf`).

- ``/webhooks/``: round robin over the Rasa servers. A request whose server fails (connection
  refused or reset, e.g. a server killed mid-turn, or a 502/503) is passed once to the next
  server, POSTs included, with the same ``X-Request-ID``: if the killed server had already
  saved the turn, the next one answers from the conversation instead of running it twice
  (``serving.replay``); the lock store keeps two servers off one conversation.
- ``/socket.io/``: the widget; one client stays on one server (``ip_hash``), as socket.io's
  long-polling needs, with the WebSocket upgrade passed through.
- ``/``: the demo page, the widget's files and the staff inbox (the web app).
- ``/healthz``: the proxy's own health check.

Request bodies over 64 KiB are refused (413) before they reach a server; access logs are off
(no patient data in logs: a URL could carry a Telegram token or a sender id).

``python -m scripts.nginx_conf --compose > deploy/nginx.conf`` renders the compose file's
configuration (a test checks that the committed file is this text).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BODY_LIMIT = "64k"

# docker-compose.yml's services behind deploy/nginx.conf, and where nginx listens in its container.
COMPOSE_RASA_SERVERS = ("rasa-1:5005", "rasa-2:5005")
COMPOSE_WEB_SERVER = "webapp:8000"
COMPOSE_LISTEN_PORT = 8080
# The official nginx image runs the master as root and the workers as its compiled-in user
# (nginx), so no `user` line. Nothing in the image fits the prefix's logs/ and temp/: the
# compose command makes them under /tmp/nginx, logs/error.log a link to stderr (docker logs).
COMPOSE_PREFIX = "/tmp/nginx"


def render_nginx_conf(
    rasa_servers: list[str],
    web_server: str,
    listen_port: int,
    prefix: Path | str,
    *,
    listen_host: str = "127.0.0.1",
    run_as_root: bool = False,
) -> str:
    """The configuration text; ``prefix`` holds nginx's pid, logs and temporary files."""
    if not rasa_servers:
        raise ValueError("at least one Rasa server is needed")
    upstream = "\n".join(
        f"        server {address} max_fails=1 fail_timeout=5s;" for address in rasa_servers
    )
    sticky = "\n".join(f"        server {address};" for address in rasa_servers)
    temp = f"{prefix}/temp"
    user = "user root;\n" if run_as_root else ""
    return f"""# Rendered by scripts/nginx_conf.py: edit that, not this file.
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_max_body_size {BODY_LIMIT};
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;

    upstream rasa {{
{upstream}
        keepalive 32;
    }}

    upstream rasa_sticky {{
        ip_hash;
{sticky}
    }}

    upstream web {{
        server {web_server};
    }}

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}

    server {{
        listen {listen_host}:{listen_port};

        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;

        location = /healthz {{
            default_type text/plain;
            return 200 "ok\\n";
        }}

        location /webhooks/ {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The same id on the retry: the Rasa server answers a message it already
            # handled from the conversation instead of running it twice (serving.replay).
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}

        location /socket.io/ {{
            proxy_pass http://rasa_sticky;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 300s;
        }}

        location / {{
            proxy_pass http://web;
        }}
    }}
}}
"""


def render_compose_nginx_conf() -> str:
    """``deploy/nginx.conf``: the configuration for docker-compose.yml's services."""
    return render_nginx_conf(
        list(COMPOSE_RASA_SERVERS),
        COMPOSE_WEB_SERVER,
        COMPOSE_LISTEN_PORT,
        COMPOSE_PREFIX,
        listen_host="0.0.0.0",  # the container's own interface; compose publishes the port
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.nginx_conf", description=__doc__)
    parser.add_argument(
        "--compose",
        action="store_true",
        required=True,
        help="print deploy/nginx.conf (docker-compose.yml's services)",
    )
    parser.parse_args(argv)
    sys.stdout.write(render_compose_nginx_conf())
    return 0


if __name__ == "__main__":
    sys.exit(main())
