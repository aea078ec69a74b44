"""The deployment files against what ``make run-cluster`` starts (scripts/run.py).

docker-compose.yml, the Dockerfile, .dockerignore, deploy/ and the Helm values must start the
same servers with the same modules, flags and settings as scripts/run.py, and the rendered
files (deploy/nginx.conf, deploy/endpoints.compose.yml) must be what their renderers print.
The Helm values are checked offline against the charts' own values.yaml and schema, copied in
tests/support/helm_chart_values/.

The YAML is read with PyYAML: once Rasa is imported, ruamel's safe loader expands ``${...}``
(and refuses compose's ``${VAR:?message}``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from rasa.utils.endpoints import read_endpoint_config

import scripts.run
from channels.socketio import WIDGET_SECRET_ENV
from clinic.frontdesk.notify import NOTIFY_URL_ENV, STAFF_URL_ENV
from clinic.frontdesk.outbox import DEFAULT_OUTBOX_DIR, OUTBOX_DIR_ENV
from clinic.frontdesk.store import URL_ENV as TICKETS_URL_ENV
from clinic.paths import PROJECT_ROOT
from clinic.site_origins import SITE_ORIGINS_ENV
from scripts.nginx_conf import (
    COMPOSE_LISTEN_PORT,
    COMPOSE_PREFIX,
    COMPOSE_RASA_SERVERS,
    COMPOSE_WEB_SERVER,
    render_compose_nginx_conf,
)
from scripts.servers import ACTION_SECRET_HEADER, LOCK_STORE, TRACKER_STORE, endpoints_text
from serving.action_server import HOST_ENV as ACTION_HOST_ENV
from serving.action_server import SECRET_ENV as ACTION_SECRET_ENV
from serving.lock_store import URL_ENV as LOCK_STORE_URL_ENV
from serving.rasa_server import REQUEST_MAX_SIZE_ENV
from serving.tracker_store import URL_ENV as CONVERSATIONS_URL_ENV
from webapp.staff import STAFF_TOKEN_ENV, TRUST_PROXY_ENV

DEPLOY = PROJECT_ROOT / "deploy"
HELM = DEPLOY / "helm"
CHART_VALUES = PROJECT_ROOT / "tests" / "support" / "helm_chart_values"
RASA_CHART = "rasa-1.17.8"
ACTION_SERVER_CHART = "rasa-action-server-1.0.9"
# The rasa chart mounts its endpoints and credentials config map here
# (charts/rasa/templates/_containers-volumes.yaml): the image's WORKDIR must be the same.
CHART_CONFIG_DIR = "/app"

COMPOSE_ACTION_URL = "http://action-server:5055/webhook"
COMPOSE_LOCK_STORE_URL = "redis://redis:6379/0"
COMPOSE_ENDPOINTS = "deploy/endpoints.compose.yml"

# Every setting a clinic container may be given (plus the host address scripts/run.py reads).
SETTINGS = {
    CONVERSATIONS_URL_ENV,
    TICKETS_URL_ENV,
    LOCK_STORE_URL_ENV,
    ACTION_SECRET_ENV,
    WIDGET_SECRET_ENV,
    STAFF_TOKEN_ENV,
    SITE_ORIGINS_ENV,
    "CLINIC_BIND_HOST",
    ACTION_HOST_ENV,
    TRUST_PROXY_ENV,
    REQUEST_MAX_SIZE_ENV,
    NOTIFY_URL_ENV,
    STAFF_URL_ENV,
}
# What each server cannot do without in a cluster: a loopback default or a private SQLite file
# would cut it off, or lose tickets and conversations with the container.
NEEDED = {
    "action": {ACTION_SECRET_ENV, ACTION_HOST_ENV, TICKETS_URL_ENV},
    "rasa": {CONVERSATIONS_URL_ENV, ACTION_SECRET_ENV, WIDGET_SECRET_ENV, SITE_ORIGINS_ENV},
    "webapp": {TICKETS_URL_ENV, STAFF_TOKEN_ENV, TRUST_PROXY_ENV},
}
COMPOSE_SECRETS = {"POSTGRES_PASSWORD", ACTION_SECRET_ENV, WIDGET_SECRET_ENV, STAFF_TOKEN_ENV}
# Kubernetes takes these from the Secret (database URLs with passwords, a webhook URL).
HELM_SECRET_SETTINGS = COMPOSE_SECRETS | {
    CONVERSATIONS_URL_ENV,
    TICKETS_URL_ENV,
    LOCK_STORE_URL_ENV,
    NOTIFY_URL_ENV,
}
# Set for the public address in each deployment, not copied between them.
PUBLIC_ADDRESS_SETTINGS = {SITE_ORIGINS_ENV, STAFF_URL_ENV}
HELM_SECRET = "clinic-assistant"
ORIGINS = "https://www.clinic.example,https://chat.clinic.example"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


COMPOSE_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingSettingError(Exception):
    pass


def interpolated(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""
    if isinstance(value, dict):
        return {key: interpolated(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolated(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        current = env.get(name)
        missing = not current if op and op.startswith(":") else current is None
        if op and op.endswith("?") and missing:
            raise MissingSettingError(name)
        if op and op.endswith("-") and missing:
            return arg
        return current or ""

    return COMPOSE_VARIABLE.sub(replace, value)


def compose_variables(text: str) -> set[str]:
    return {match.group("name") for match in COMPOSE_VARIABLE.finditer(text) if match["name"]}


RAW_COMPOSE = (PROJECT_ROOT / "docker-compose.yml").read_text()
COMPOSE_ENV = {name: f"{name.lower()}-{'x' * 32}" for name in COMPOSE_SECRETS}
COMPOSE = interpolated(yaml.safe_load(RAW_COMPOSE), COMPOSE_ENV)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
CLINIC_SERVICES = {
    "action": ["action-server"],
    "rasa": [address.split(":")[0] for address in COMPOSE_RASA_SERVERS],
    "webapp": ["webapp"],
}


def make_default(name: str) -> int:
    """A ``NAME ?= N`` default of the Makefile (e.g. how many servers run-cluster starts)."""
    match = re.search(rf"^{name}\s*\?=\s*(\d+)\s*$", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert match, f"Makefile has no {name} ?= default"
    return int(match.group(1))


@pytest.fixture(scope="module")
def run_cluster(tmp_path_factory) -> dict[str, scripts.run.Server]:
    """The servers scripts/run.py builds for ``make run-cluster``, one of each kind, made
    in a scratch build/ (it writes endpoints and credentials files there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scripts.run, "BUILD", tmp_path_factory.mktemp("build"))
        for name in ("RASA_PORT", "ACTION_PORT", "WEB_PORT", "PROXY_PORT", "MODEL"):
            patch.delenv(name, raising=False)
        patch.setenv(ACTION_SECRET_ENV, "a" * 32)
        patch.setenv(WIDGET_SECRET_ENV, "w" * 32)
        patch.setenv(LOCK_STORE_URL_ENV, COMPOSE_LOCK_STORE_URL)
        patch.setenv(SITE_ORIGINS_ENV, ORIGINS)
        patch.setenv("CLINIC_BIND_HOST", "0.0.0.0")
        args = scripts.run.parse_args(
            ["--rasa-servers", str(make_default("RASA_SERVERS")),
             "--action-servers", str(make_default("ACTION_SERVERS")), "--proxy"]
        )  # fmt: skip
        servers, _, _ = scripts.run.build_servers(args)
    first = {}
    for kind, prefix in (("action", "action server"), ("rasa", "Rasa server"),
                         ("webapp", "demo web page"), ("nginx", "proxy")):  # fmt: skip
        first[kind] = next(server for server in servers if server.name.startswith(prefix))
    return first


def invocation(argv: list[str]) -> tuple[str, list[str], dict[str, list[str]]]:
    """``python -m MODULE [words] [--flag values...]`` -> (module, words, {flag: values})."""
    assert argv[0] == "-m", argv
    words: list[str] = []
    options: dict[str, list[str]] = {}
    flag = None
    for word in argv[2:]:
        if word.startswith("-"):
            flag = word
            options[flag] = []
        elif flag is None:
            words.append(word)
        else:
            options[flag].append(word)
    return argv[1], words, options


def python_argv(command: list[str], tmp_path: Path) -> list[str]:
    """The arguments a container's command gives Python, after the shell if there is one:
    runs it with a stand-in ``python`` that prints its arguments."""
    if command[0] == "python":
        return command[1:]
    assert command[:2] == ["sh", "-c"], command
    stand_in = tmp_path / "python"
    stand_in.write_text('#!/bin/sh\nfor word in "$@"; do printf "%s\\n" "$word"; done\n')
    stand_in.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", SITE_ORIGINS_ENV: ORIGINS}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def assert_same_invocation(
    argv: list[str], server: scripts.run.Server, own: frozenset[str] = frozenset()
) -> None:
    """The same module, words and flags as scripts/run.py's server; the same values except
    for the files (endpoints, credentials) and the ``own`` flags, which differ by design."""
    module, words, options = invocation(argv)
    run_module, run_words, run_options = invocation(server.command[1:])
    assert (module, words) == (run_module, run_words)
    assert options.keys() == run_options.keys()
    for flag in options.keys() - {"--endpoints", "--credentials"} - own:
        assert options[flag] == run_options[flag], flag


def env_names(service: dict[str, Any]) -> set[str]:
    return set(service.get("environment", {}))


# -- docker-compose.yml -------------------------------------------------------------------------


def test_compose_has_the_run_cluster_services():
    assert set(SERVICES) == {"postgres", "redis", "action-server", "webapp", "nginx"} | set(
        CLINIC_SERVICES["rasa"]
    )
    assert len(CLINIC_SERVICES["rasa"]) == make_default("RASA_SERVERS")
    assert SERVICES["action-server"]["deploy"]["replicas"] == make_default("ACTION_SERVERS")
    for kinds in CLINIC_SERVICES.values():
        for name in kinds:
            assert SERVICES[name]["build"] == "."
            assert SERVICES[name]["image"] == SERVICES["webapp"]["image"]


def test_official_images_are_pinned():
    for name in ("postgres", "redis", "nginx"):
        image, _, tag = SERVICES[name]["image"].partition(":")
        assert image == name
        assert re.fullmatch(r"\d+\.\d+\.\d+(-\w+)?|\d+\.\d+", tag), SERVICES[name]["image"]


def test_only_nginx_publishes_a_port():
    publishing = {name for name, service in SERVICES.items() if service.get("ports")}
    assert publishing == {"nginx"}
    assert all(service.get("network_mode") is None for service in SERVICES.values())
    [published] = SERVICES["nginx"]["ports"]
    assert published == f"127.0.0.1:8080:{COMPOSE_LISTEN_PORT}"


def test_every_service_has_a_health_check_on_its_own_port():
    ports = {"action-server": 5055, "webapp": 8000, "nginx": COMPOSE_LISTEN_PORT}
    ports.update({name: 5005 for name in CLINIC_SERVICES["rasa"]})
    for name, service in SERVICES.items():
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        if name in ports:
            assert f"http://127.0.0.1:{ports[name]}/" in " ".join(test), name


def test_the_commands_are_run_py_s(run_cluster, tmp_path):
    for kind, names in CLINIC_SERVICES.items():
        for name in names:
            argv = python_argv(SERVICES[name]["command"], tmp_path)
            assert_same_invocation(argv, run_cluster[kind])


def test_the_rasa_servers_get_one_cors_argument_per_origin(run_cluster, tmp_path):
    argv = python_argv(SERVICES["rasa-1"]["command"], tmp_path)
    assert invocation(argv)[2]["--cors"] == ORIGINS.split(",")


def test_the_containers_use_the_files_in_the_image(tmp_path):
    _, _, options = invocation(python_argv(SERVICES["rasa-1"]["command"], tmp_path))
    assert options["--endpoints"] == [COMPOSE_ENDPOINTS]
    for flag in ("--endpoints", "--credentials"):
        assert (PROJECT_ROOT / options[flag][0]).is_file()
    assert options["--model"] == [scripts.run.parse_args([]).model]


def test_compose_settings_are_the_servers_settings(run_cluster):
    for kind, names in CLINIC_SERVICES.items():
        for name in names:
            given = env_names(SERVICES[name])
            assert given <= SETTINGS, (name, given - SETTINGS)
            assert NEEDED[kind] <= given, (name, NEEDED[kind] - given)
            for setting in given & run_cluster[kind].env.keys() - {ACTION_HOST_ENV}:
                if setting not in COMPOSE_SECRETS | PUBLIC_ADDRESS_SETTINGS:
                    assert SERVICES[name]["environment"][setting] == run_cluster[kind].env[setting]
    assert SERVICES["action-server"]["environment"][ACTION_HOST_ENV] == "0.0.0.0"


def test_the_servers_share_one_secret_and_one_database():
    def value(service: str, setting: str) -> str:
        return SERVICES[service]["environment"][setting]

    assert value("action-server", ACTION_SECRET_ENV) == value("rasa-1", ACTION_SECRET_ENV)
    rasa_envs = [SERVICES[name]["environment"] for name in CLINIC_SERVICES["rasa"]]
    assert all(env == rasa_envs[0] for env in rasa_envs)
    database = value("rasa-1", CONVERSATIONS_URL_ENV)
    assert value("action-server", TICKETS_URL_ENV) == value("webapp", TICKETS_URL_ENV) == database
    url = urlsplit(database)
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
    assert url.password == COMPOSE_ENV["POSTGRES_PASSWORD"]
    assert url.path == "/" + SERVICES["postgres"]["environment"]["POSTGRES_DB"]


def test_compose_refuses_to_start_without_each_secret():
    document = yaml.safe_load(RAW_COMPOSE)
    for secret in COMPOSE_SECRETS:
        without = {name: value for name, value in COMPOSE_ENV.items() if name != secret}
        with pytest.raises(MissingSettingError, match=secret):
            interpolated(document, without)
        with pytest.raises(MissingSettingError, match=secret):
            interpolated(document, {**without, secret: ""})


def test_compose_variables_are_documented_in_the_example_env_file():
    example = (DEPLOY / "compose.env.example").read_text()
    required = set(re.findall(r"^([A-Z_]+)=$", example, re.M))
    optional = set(re.findall(r"^# ([A-Z_]+)=\S+$", example, re.M))
    assert required == COMPOSE_SECRETS
    assert required | optional == compose_variables(RAW_COMPOSE)
    # A bare $NAME would be interpolated by compose too: the shell's must be written $$NAME.
    assert not re.search(r"\$(?![{$])", RAW_COMPOSE.replace("$$", ""))


def test_nginx_reaches_the_compose_services():
    for address in (*COMPOSE_RASA_SERVERS, COMPOSE_WEB_SERVER):
        host, port = address.split(":")
        assert host in SERVICES
        assert f"--port {port}" in " ".join(SERVICES[host]["command"])
    nginx = SERVICES["nginx"]
    assert nginx["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    [script] = nginx["command"][2:]
    assert f"mkdir -p {COMPOSE_PREFIX}/logs {COMPOSE_PREFIX}/temp" in script
    assert "nginx -c /etc/nginx/nginx.conf -g 'daemon off;'" in script
    assert set(nginx["depends_on"]) == set(CLINIC_SERVICES["rasa"]) | {"webapp"}


def test_nginx_conf_is_the_rendered_one():
    assert (DEPLOY / "nginx.conf").read_text() == render_compose_nginx_conf(), (
        "regenerate it: python -m scripts.nginx_conf --compose > deploy/nginx.conf"
    )


def test_the_compose_endpoints_file_is_the_rendered_one():
    expected = endpoints_text(COMPOSE_ACTION_URL, COMPOSE_LOCK_STORE_URL)
    assert (PROJECT_ROOT / COMPOSE_ENDPOINTS).read_text() == expected, (
        "regenerate it: python -c 'from scripts.servers import endpoints_text; "
        f'print(endpoints_text("{COMPOSE_ACTION_URL}", "{COMPOSE_LOCK_STORE_URL}"), end="")\''
        f" > {COMPOSE_ENDPOINTS}"
    )
    action = urlsplit(COMPOSE_ACTION_URL)
    assert f"--port {action.port}" in " ".join(SERVICES[action.hostname]["command"])
    assert urlsplit(COMPOSE_LOCK_STORE_URL).hostname == "redis"


def test_rasa_reads_the_compose_endpoints_with_the_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv(ACTION_SECRET_ENV, "s" * 32)
    path = str(PROJECT_ROOT / COMPOSE_ENDPOINTS)
    action = read_endpoint_config(path, "action_endpoint")
    assert action.url == COMPOSE_ACTION_URL
    assert action.headers == {ACTION_SECRET_HEADER: "s" * 32}
    assert read_endpoint_config(path, "tracker_store").type == TRACKER_STORE
    lock_store = read_endpoint_config(path, "lock_store")
    assert (lock_store.type, lock_store.url) == (LOCK_STORE, COMPOSE_LOCK_STORE_URL)


# -- Dockerfile and .dockerignore ------------------------------------------------------------


DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_installs_as_make_install_does():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.10-slim")
    runs = " && ".join(" ".join(text.split()) for op, text in instructions if op == "RUN")
    install = re.search(
        r"^\$\(INSTALLED\):.*?\n((?:\t.*\n)+)", (PROJECT_ROOT / "Makefile").read_text(), re.M
    )
    # Each pip command, without the output filter the Makefile pipes it through.
    pip_lines = [
        re.sub(r"\s*2>&1 \| \$\(QUIET_OUTPUT\).*$", "", line.strip())
        for line in install.group(1).splitlines()
        if "$(BIN)/pip" in line
    ]
    assert len(pip_lines) == 3
    for line in pip_lines:
        assert line.replace("$(BIN)/pip", "pip") in runs
    assert not re.search(r"\brasa\b[^&;]*\btrain\b", runs)  # the model is `make train`'s


def test_the_image_runs_as_a_numeric_non_root_user_in_the_chart_s_directory():
    instructions = dict(dockerfile_instructions())
    user = instructions["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert instructions["WORKDIR"] == CHART_CONFIG_DIR


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a matched directory takes its files."""
    parts = path.split("/")
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        alternatives = {pattern, pattern.removeprefix("**/")}
        if any(
            fnmatch.fnmatchcase(candidate, alternative)
            or (
                pattern.startswith("**/")
                and fnmatch.fnmatchcase(candidate.rsplit("/", 1)[-1], alternative)
            )
            for candidate in candidates
            for alternative in alternatives
        ):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_what_the_servers_load():
    lines = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".env", ".venv/bin/python", "build/action-secret", "build/tickets.db",
                 "models/old-model.tar.gz", "clinic/__pycache__/paths.cpython-310.pyc",
                 ".git/config"):  # fmt: skip
        assert dockerignored(path, patterns), path
    for path in ("models/clinic.tar.gz", COMPOSE_ENDPOINTS, "credentials.yml", "endpoints.yml",
                 "serving/rasa_server.py", "knowledge/treatments.yml", "widget/clinic-chat.js",
                 "demo/index.html", "requirements.txt"):  # fmt: skip
        assert not dockerignored(path, patterns), path
        # The model is a build output (`make train`), not in a fresh clone; the rest are files.
        assert path.startswith("models/") or (PROJECT_ROOT / path).exists(), path


# -- Helm values ---------------------------------------------------------------------------------


def helm_values(name: str) -> dict[str, Any]:
    return load_yaml(HELM / name)


HELM_RELEASES = {  # kind -> (values file, chart)
    "rasa": ("values.yaml", RASA_CHART),
    "action": ("action-server-values.yaml", ACTION_SERVER_CHART),
    "webapp": ("webapp-values.yaml", ACTION_SERVER_CHART),
}


def unknown_keys(values: dict, defaults: dict, path: str = "") -> Iterator[str]:
    """Keys of ``values`` that are not the chart's; free below an empty map (annotations)."""
    for key, value in values.items():
        if key not in defaults:
            yield f"{path}{key}"
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            yield from unknown_keys(value, defaults[key], f"{path}{key}.")


def coalesced(defaults: dict, values: dict) -> dict:
    """Helm's merge: maps merge, anything else replaces, a null deletes the chart's key."""
    merged = dict(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesced(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.mark.parametrize("kind", HELM_RELEASES)
def test_helm_values_set_only_the_chart_s_keys_and_pass_its_schema(kind):
    values_file, chart = HELM_RELEASES[kind]
    values = helm_values(values_file)
    defaults = load_yaml(CHART_VALUES / f"{chart}.yaml")
    assert list(unknown_keys(values, defaults)) == []
    schema = json.loads((CHART_VALUES / f"{chart}.schema.json").read_text())
    jsonschema.validate(coalesced(defaults, values), schema)


def helm_env(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in values["extraEnv"]}


def helm_command(values: dict[str, Any]) -> list[str]:
    return values["command"] + values.get("args", [])


@pytest.mark.parametrize("kind", HELM_RELEASES)
def test_helm_runs_the_compose_services_commands_and_settings(kind, run_cluster, tmp_path):
    values = helm_values(HELM_RELEASES[kind][0])
    argv = python_argv(helm_command(values), tmp_path)
    # The web app's --rasa-url is the public address (compose's default is run.py's).
    assert_same_invocation(argv, run_cluster[kind], own=frozenset({"--rasa-url"}))
    if kind == "webapp":
        public = f"https://{helm_values('values.yaml')['ingress']['hostname']}"
        assert invocation(argv)[2]["--rasa-url"] == [public]
        assert values["ingress"]["hostname"] == urlsplit(public).hostname
    compose = SERVICES[CLINIC_SERVICES[kind][0]]
    # Compose's lock store URL is in its endpoints file (Redis without a password on the
    # compose network); Kubernetes' Redis has one, so its URL is a secret setting.
    extra = {LOCK_STORE_URL_ENV} if kind == "rasa" else set()
    assert helm_env(values).keys() == env_names(compose) | extra
    for name, entry in helm_env(values).items():
        if name in HELM_SECRET_SETTINGS:
            reference = entry["valueFrom"]["secretKeyRef"]
            assert (reference["name"], reference["key"]) == (HELM_SECRET, name)
        elif name not in PUBLIC_ADDRESS_SETTINGS:
            assert entry["value"] == compose["environment"][name], name
    if kind == "action":
        assert values["replicaCount"] == make_default("ACTION_SERVERS")
    if kind == "rasa":
        assert values["replicaCount"] == make_default("RASA_SERVERS")
    assert values["image"] == helm_values("values.yaml")["image"]
    port = invocation(python_argv(helm_command(values), tmp_path))[2]["--port"]
    assert [str(values["applicationSettings"]["port"])] == port


def test_helm_secret_example_names_every_secret_the_values_read():
    keys = set()
    for values_file, _ in HELM_RELEASES.values():
        for entry in helm_values(values_file)["extraEnv"]:
            if "valueFrom" in entry:
                keys.add(entry["valueFrom"]["secretKeyRef"]["key"])
    example = (HELM / "secret.env.example").read_text()
    assert set(re.findall(r"^(?:# )?([A-Z_]+)=", example, re.M)) == keys


def test_helm_credentials_are_credentials_yml():
    rasa = helm_values("values.yaml")["applicationSettings"]["credentials"]
    committed = load_yaml(PROJECT_ROOT / "credentials.yml")
    assert rasa["enabled"] is True
    assert rasa["additionalChannelCredentials"] == {
        channel: settings or {} for channel, settings in committed.items()
    }


def test_rasa_reads_the_helm_endpoints_with_settings_from_the_environment(tmp_path, monkeypatch):
    """The endpoints file as charts/rasa/templates/config-map.yaml writes it: tracker and lock
    store keys as ``key: value`` lines, the additional endpoints through toYaml."""
    endpoints = coalesced(
        load_yaml(CHART_VALUES / f"{RASA_CHART}.yaml"), helm_values("values.yaml")
    )["applicationSettings"]["endpoints"]
    text = ""
    for section, key in (("tracker_store", "trackerStore"), ("lock_store", "lockStore")):
        assert endpoints[key]["enabled"] is True
        lines = [
            f"  {name}: {value}\n" for name, value in endpoints[key].items() if name != "enabled"
        ]
        text += f"{section}:\n" + "".join(sorted(lines))
    text += yaml.safe_dump(endpoints["additionalEndpoints"], default_flow_style=False)
    path = tmp_path / "endpoints.yml"
    path.write_text(text)
    monkeypatch.setenv(ACTION_SECRET_ENV, "s" * 32)
    monkeypatch.setenv(LOCK_STORE_URL_ENV, "redis://:password@redis.example:6379/0")

    tracker_store = read_endpoint_config(str(path), "tracker_store")
    assert (tracker_store.type, tracker_store.url, tracker_store.kwargs) == (
        TRACKER_STORE,
        None,
        {},
    )
    lock_store = read_endpoint_config(str(path), "lock_store")
    assert (lock_store.type, lock_store.url) == (
        LOCK_STORE,
        "redis://:password@redis.example:6379/0",
    )
    assert lock_store.kwargs == {}
    action = read_endpoint_config(str(path), "action_endpoint")
    assert action.headers == {ACTION_SECRET_HEADER: "s" * 32}
    action_server = helm_values("action-server-values.yaml")
    url = urlsplit(action.url)
    assert (url.hostname, url.port) == (
        action_server["fullnameOverride"],
        action_server["service"]["port"],
    )
    assert url.path == urlsplit(COMPOSE_ACTION_URL).path


def test_the_helm_rasa_servers_use_the_chart_s_config_files(tmp_path):
    values = helm_values("values.yaml")
    _, _, options = invocation(python_argv(helm_command(values), tmp_path))
    assert options["--endpoints"] == ["endpoints.yml"]  # in the WORKDIR, CHART_CONFIG_DIR
    assert options["--credentials"] == ["credentials.yml"]
    assert values["applicationSettings"]["initialModel"] == ""  # the model is in the image
    assert values["nginx"]["enabled"] is False
    assert values["postgresql"]["install"] is False


# -- the outbox (ticket requests the database could not take) -----------------------------------


def test_the_action_servers_outbox_outlives_their_containers():
    mount = f"{CHART_CONFIG_DIR}/{DEFAULT_OUTBOX_DIR}"  # the default, under the image's WORKDIR
    action = SERVICES["action-server"]
    assert OUTBOX_DIR_ENV not in action["environment"]
    [volume] = action["volumes"]
    name, target = volume.split(":")
    assert (name in COMPOSE["volumes"], target) == (True, mount)
    assert f"mkdir -p {DEFAULT_OUTBOX_DIR}" in " ".join(DOCKERFILE.split())
    helm = helm_values("action-server-values.yaml")
    assert OUTBOX_DIR_ENV not in helm_env(helm)
    [helm_mount] = helm["volumeMounts"]
    assert helm_mount["mountPath"] == mount
    [helm_volume] = helm["volumes"]
    assert helm_volume["name"] == helm_mount["name"]
    assert "persistentVolumeClaim" in helm_volume


def test_alerts_link_to_the_public_inbox(tmp_path):
    compose_public = invocation(python_argv(SERVICES["webapp"]["command"], tmp_path))[2]
    compose_staff = SERVICES["action-server"]["environment"][STAFF_URL_ENV]
    assert compose_staff == compose_public["--rasa-url"][0] + "/staff"
    helm_public = invocation(python_argv(helm_command(helm_values("webapp-values.yaml")), tmp_path))
    helm_staff = helm_env(helm_values("action-server-values.yaml"))[STAFF_URL_ENV]["value"]
    assert helm_staff == helm_public[2]["--rasa-url"][0] + "/staff"
