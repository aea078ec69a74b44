"""`make bench`: training time, time to first answer, REST latency with actions in the loop,
and the load figures of scripts/bench_load.py (concurrency, cluster, turn latency).

A benchmark, not a test: it prints the figures (and writes results/bench.json) for the README.
Goals (issue #2): ready within 20 s, p95 under 50 ms for one user, training under 3 minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from clinic.paths import MODELS_DIR, PROJECT_ROOT
from scripts.bench_common import MESSAGES, percentile
from scripts.servers import RASA, running_assistant, server_env


def bench_training() -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [RASA, "train", "--force", "--out", out, "--quiet"],
            cwd=PROJECT_ROOT, env=server_env(), check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="REST messages to time")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-load", action="store_true", help="no load figures")
    args = parser.parse_args()
    results: dict[str, float] = {}

    if not args.skip_training:
        results["training_s"] = round(bench_training(), 1)
        print(f"training (rasa train --force): {results['training_s']} s")

    model = MODELS_DIR / "clinic.tar.gz"
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        with running_assistant(model, Path(work)) as assistant:
            results["ready_s"] = round(time.perf_counter() - start, 1)
            print(f"start to first answer (both servers): {results['ready_s']} s")
            for message in MESSAGES:  # warm-up
                assistant.send(message)
            timings = []
            sender = uuid.uuid4().hex
            for index in range(args.requests):
                if index % len(MESSAGES) == 0:
                    sender = uuid.uuid4().hex  # a fresh conversation every round
                began = time.perf_counter()
                assistant.send(MESSAGES[index % len(MESSAGES)], sender)
                timings.append((time.perf_counter() - began) * 1000)
    results["p50_ms"] = round(statistics.median(timings), 1)
    results["p95_ms"] = round(percentile(timings, 0.95), 1)
    results["requests"] = args.requests
    print(
        f"REST latency over {args.requests} messages, one user: "
        f"p50 {results['p50_ms']} ms, p95 {results['p95_ms']} ms"
    )
    out = PROJECT_ROOT / "results" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(PROJECT_ROOT)}")
    if not args.skip_load:
        from scripts import bench_load

        bench_load.main([])


if __name__ == "__main__":
    main()
