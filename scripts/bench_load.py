"""Load figures for ``make bench``: throughput and p50/p95/p99 latency at 1, 10 and 50
concurrent conversations, for one Rasa server and for the cluster (2 Rasa servers behind
nginx), the CPU time each turn costs, and the latency of turn 1, 20 and 50 of a conversation.

The servers are started as ``make run`` / ``make run-cluster`` start them (scripts/run.py),
on this run's own SQLite conversation file (both clusters servers share it on one machine)
and a private Redis lock store for the cluster. The machine's load average is printed beside
every figure: other work on the two cores changes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from clinic.paths import PROJECT_ROOT
from scripts.bench_common import MESSAGES, percentile
from scripts.servers import free_port

CONCURRENCY = (1, 10, 50)
MESSAGES_PER_LEVEL = {1: 60, 10: 200, 50: 400}
TURNS = (1, 20, 50)
PROBE = "what is prp"  # asked at each of TURNS, so the turns compare like with like
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def server_pids(ports: list[int]) -> list[int]:
    pids = []
    for port in ports:
        for pattern in (
            f"serving.rasa_server run .*--port {port} ",
            f"serving.action_server --port {port}",
        ):
            found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
            pids += [int(pid) for pid in found.stdout.split()]
    return pids


class Servers:
    """``python -m scripts.run`` with this benchmark's ports, stopped with Ctrl-C."""

    def __init__(self, work: Path, rasa_servers: int) -> None:
        self.rasa_port, self.action_port = free_port(), free_port()
        while any(_busy(self.rasa_port + i) or _busy(self.action_port + i) for i in range(1, 3)):
            self.rasa_port, self.action_port = free_port(), free_port()
        self.proxy_port, self.rasa_servers = free_port(), rasa_servers
        env = {
            **os.environ,
            "RASA_PORT": str(self.rasa_port),
            "ACTION_PORT": str(self.action_port),
            "WEB_PORT": str(free_port()),
            "PROXY_PORT": str(self.proxy_port),
            "CLUSTER_REDIS_PORT": str(free_port()),
            "CLINIC_CONVERSATIONS_DB": str(work / "conversations.db"),
            "CLINIC_TICKETS_DB": str(work / "tickets.db"),
            "CLINIC_OUTBOX_DIR": str(work / "outbox"),
            "CLINIC_ACTION_SECRET": uuid.uuid4().hex * 2,
            "CLINIC_WIDGET_SECRET": uuid.uuid4().hex * 2,
        }
        env.pop("CLINIC_LOCK_STORE_URL", None)
        command = [sys.executable, "-m", "scripts.run", "--rasa-servers", str(rasa_servers),
                   "--action-servers", str(rasa_servers)]  # fmt: skip
        if rasa_servers > 1:
            command.append("--proxy")
        self.out = work / f"run-{rasa_servers}.out"
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=self.out.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 300
        while "The clinic assistant is running" not in self.out.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.out.read_text()[-3000:])
            time.sleep(0.5)

    @property
    def url(self) -> str:
        port = self.proxy_port if self.rasa_servers > 1 else self.rasa_port
        return f"http://127.0.0.1:{port}/webhooks/rest/webhook"

    def pids(self) -> list[int]:
        ports = [self.rasa_port + i for i in range(self.rasa_servers)]
        ports += [self.action_port + i for i in range(self.rasa_servers)]
        return server_pids(ports)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def conversation(session: aiohttp.ClientSession, url: str, count: int, out: list) -> None:
    sender = uuid.uuid4().hex
    for index in range(count):
        began = time.perf_counter()
        async with session.post(
            url, json={"sender": sender, "message": MESSAGES[index % len(MESSAGES)]}
        ) as response:
            replies = await response.json()
        out.append(((time.perf_counter() - began) * 1000, response.status, bool(replies)))


async def run_level(url: str, concurrent: int, total: int) -> tuple[list, float]:
    timings: list = []
    per_conversation = max(1, total // concurrent)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        began = time.perf_counter()
        await asyncio.gather(
            *(conversation(session, url, per_conversation, timings) for _ in range(concurrent))
        )
        return timings, time.perf_counter() - began


async def turn_latencies(url: str, conversations: int = 5, turns: int = 50) -> dict[int, float]:
    """Median latency of the same question asked at turn 1, 20 and 50 of a conversation (the
    other turns are the usual mix), over ``conversations`` conversations."""
    by_turn: dict[int, list[float]] = {turn: [] for turn in TURNS}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for _ in range(conversations):
            sender = uuid.uuid4().hex
            for turn in range(1, turns + 1):
                message = PROBE if turn in TURNS else MESSAGES[turn % len(MESSAGES)]
                began = time.perf_counter()
                async with session.post(url, json={"sender": sender, "message": message}) as reply:
                    await reply.json()
                if turn in TURNS:
                    by_turn[turn].append((time.perf_counter() - began) * 1000)
    return {turn: round(statistics.median(values), 1) for turn, values in by_turn.items()}


def bench_servers(rasa_servers: int, scale: float) -> dict:
    label = "one Rasa server" if rasa_servers == 1 else f"cluster ({rasa_servers} Rasa servers)"
    results: dict = {"servers": rasa_servers, "levels": {}}
    with tempfile.TemporaryDirectory() as work:
        servers = Servers(Path(work), rasa_servers)
        try:
            asyncio.run(run_level(servers.url, 5, 50))  # warm-up
            for concurrent in CONCURRENCY:
                total = max(concurrent, int(MESSAGES_PER_LEVEL[concurrent] * scale))
                load, cpu_before = load_average(), cpu_seconds(servers.pids())
                timings, wall = asyncio.run(run_level(servers.url, concurrent, total))
                cpu = cpu_seconds(servers.pids()) - cpu_before
                latencies = [t[0] for t in timings]
                level = {
                    "messages": len(timings),
                    "throughput_per_s": round(len(timings) / wall, 1),
                    "p50_ms": round(percentile(latencies, 0.50), 1),
                    "p95_ms": round(percentile(latencies, 0.95), 1),
                    "p99_ms": round(percentile(latencies, 0.99), 1),
                    "cpu_ms_per_turn": round(cpu * 1000 / len(timings), 1),
                    "errors": sum(1 for t in timings if t[1] >= 400 or not t[2]),
                    "load_before": load,
                }
                results["levels"][concurrent] = level
                print(f"{label}, {concurrent:>2} concurrent: {level['throughput_per_s']} msg/s, "
                      f"p50 {level['p50_ms']} / p95 {level['p95_ms']} / p99 {level['p99_ms']} ms, "
                      f"{level['cpu_ms_per_turn']} ms CPU per turn, {level['errors']} errors "
                      f"(load {load})", flush=True)  # fmt: skip
            if rasa_servers == 1:
                load = load_average()
                results["turns_ms"] = asyncio.run(turn_latencies(servers.url))
                results["turns_load_before"] = load
                figures = ", ".join(f"turn {t}: {ms} ms" for t, ms in results["turns_ms"].items())
                print(f"{label}, one conversation: {figures} (load {load})", flush=True)
        finally:
            servers.stop()
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the messages")
    args = parser.parse_args(argv)
    results = {"one_server": bench_servers(1, args.scale), "cluster": bench_servers(2, args.scale)}
    out = PROJECT_ROOT / "results" / "bench_load.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(PROJECT_ROOT)}")
    return results


if __name__ == "__main__":
    main()
