"""Fuzzing the REST channel on the real servers: over a thousand malformed requests, and not
one server error, silent turn, slow reply or crash.

The cases come from ``tests/support/fuzz_messages.py``, generated from a seed
(``CLINIC_FUZZ_SEED`` replays a run): odd characters of every sort, payload syntax, huge
messages and bodies, bodies the channel must refuse, questions buried in noise. They are sent
:data:`CONCURRENCY` at a time, each on a fresh conversation unless the case is about the
sender, and each reply's latency is measured. Checked for every case: no status >= 500 and no
dropped connection; a 200 carries text for the patient and exactly one reply contract (the
``message_too_long`` one over the cap); every 4xx carries ``{"error": "..."}``; the status is the
one the contract names; no reply takes over :data:`MAX_SECONDS`. At the end both servers are
still running and answer an ordinary question. ``results/fuzz.txt`` gets the summary (per kind:
cases, statuses, latency, failures) and every failing case.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from clinic.direct_replies import TOO_LONG_REASON
from clinic.paths import PROJECT_ROOT
from scripts.servers import RunningAssistant, running_assistant
from tests.support.fuzz_messages import (
    BAD_REQUEST,
    KINDS,
    REACHES_NLU,
    REPLY,
    REPLY_OR_BAD_REQUEST,
    TOO_LARGE,
    TOO_LONG,
    FuzzCase,
    fuzz_seed,
    generate_cases,
)
from tests.support.log_scan import personal_data_found
from tests.support.replies import reply_of

REPORT = PROJECT_ROOT / "results" / "fuzz.txt"
MIN_CASES = 1000
CONCURRENCY = 4
MAX_SECONDS = 2.0
# Well over MAX_SECONDS: a stalled server fails its cases without stalling the run for long.
REQUEST_TIMEOUT_SECONDS = 10.0
# Failing cases shown per kind in an assertion message (results/fuzz.txt has all of them).
SHOWN_PER_KIND = 12
# A slow reply may be slow itself or only queued behind one: slow cases are sent again one at
# a time, on an idle server, for at most this long (a diagnosis; the check is the first pass).
ALONE_BUDGET_SECONDS = 45.0
IDLE_PROBE = b"null"  # refused at once by an idle server


@dataclass(frozen=True)
class Outcome:
    case: FuzzCase
    status: int | None  # None: no HTTP answer at all
    payload: Any  # the JSON answer, or None when it was not JSON
    text: str  # the answer's start, for the report
    seconds: float
    error: str = ""  # why there was no HTTP answer

    def problems(self) -> list[str]:
        """How the answer breaks the case's expectation (latency is checked on its own)."""
        if self.status is None:
            return [f"no answer: {self.error}"]
        if self.status >= 500:
            return [f"status {self.status}: {self.text}"]
        found = []
        if 400 <= self.status < 500 and not _is_error_body(self.payload):
            found.append(f'status {self.status} without an "error" field: {self.text}')
        expect = self.case.expect
        wanted = {
            REPLY: {200},
            TOO_LONG: {200},
            TOO_LARGE: {413},
            BAD_REQUEST: {400},
            REPLY_OR_BAD_REQUEST: {200, 400},
        }[expect]
        if self.status not in wanted:
            found.append(f"status {self.status}, expected {' or '.join(map(str, sorted(wanted)))}")
        elif self.status == 200:
            found += _reply_problems(self.payload, too_long=expect == TOO_LONG)
        return found

    def describe(self) -> str:
        return f"{self.case.short()} -> {self.status} in {self.seconds:.2f} s"


def _is_error_body(payload: Any) -> bool:
    return isinstance(payload, dict) and isinstance(payload.get("error"), str) and payload["error"]


def _reply_problems(payload: Any, too_long: bool) -> list[str]:
    if not isinstance(payload, list) or not all(isinstance(m, dict) for m in payload):
        return [f"not a list of messages: {str(payload)[:200]}"]
    try:
        reply = reply_of(payload)
    except AssertionError as error:
        return [f"reply contract: {str(error).splitlines()[0][:200]}"]
    if too_long and reply.get("reason") != TOO_LONG_REASON:
        return [f"over the cap, not the too-long reply: {reply}"]
    return []


@dataclass(frozen=True)
class FuzzRun:
    outcomes: list[Outcome]
    seconds: float
    # Slow cases sent again on their own: case index -> seconds (None: no answer in time).
    alone: dict[int, float | None]

    def failing(self) -> list[tuple[Outcome, list[str]]]:
        return [(o, o.problems()) for o in self.outcomes if o.problems()]

    def slow(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.seconds > MAX_SECONDS]

    def slow_problems(self) -> list[tuple[Outcome, str]]:
        """Each slow reply, with what sending it again alone showed: slow itself (the cause)
        first, then slow only behind others, then not sent again (budget spent)."""
        found = []
        for index, outcome in enumerate(self.outcomes):
            if outcome.seconds <= MAX_SECONDS:
                continue
            if index not in self.alone:
                rank, why = 2, "slow: not sent again alone (budget spent)"
            elif (alone := self.alone[index]) is None or alone > MAX_SECONDS:
                alone_text = "no answer in time" if alone is None else f"{alone:.2f} s"
                rank, why = 0, f"slow on its own: {alone_text} alone"
            else:
                rank, why = 1, f"slow behind others only: {alone:.2f} s alone"
            found.append((rank, outcome, why))
        return [(o, why) for _, o, why in sorted(found, key=lambda item: item[0])]


def grouped(failures: list[tuple[Outcome, str]], limit: int | None = SHOWN_PER_KIND) -> str:
    """Failing cases by kind: each with its body (cut), status, latency and what is wrong."""
    by_kind: dict[str, list[tuple[Outcome, str]]] = defaultdict(list)
    for outcome, problem in failures:
        by_kind[outcome.case.kind].append((outcome, problem))
    lines = []
    for kind, items in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        problems = Counter(problem.split(":")[0] for _, problem in items)
        lines.append(f"[{kind}] {len(items)} failing: " + "; ".join(
            f"{count} x {problem}" for problem, count in problems.most_common()
        ))  # fmt: skip
        for outcome, problem in items[:limit]:
            lines.append(f"    {outcome.describe()}: {problem}")
        if limit is not None and len(items) > limit:
            lines.append(f"    ... and {len(items) - limit} more (all in {REPORT})")
    return "\n".join(lines)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _post(
    assistant: RunningAssistant, session: requests.Session, case: FuzzCase, timeout: float
) -> Outcome:
    if assistant.rasa_server is None or assistant.rasa_server.poll() is not None:
        return Outcome(case, None, None, "", 0.0, "not sent: the Rasa server had exited")
    started = time.monotonic()
    try:
        response = session.post(
            f"{assistant.rasa_url}/webhooks/rest/webhook",
            data=case.body,
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as error:
        session.close()  # the connection may be broken; the session opens a new one
        return Outcome(case, None, None, "", time.monotonic() - started, type(error).__name__)
    seconds = time.monotonic() - started
    try:
        payload = response.json()
    except ValueError:
        payload = None
    return Outcome(case, response.status_code, payload, response.text[:300], seconds)


def _send_all(assistant: RunningAssistant, cases: list[FuzzCase]) -> list[Outcome]:
    sessions = threading.local()

    def send(case: FuzzCase) -> Outcome:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        return _post(assistant, sessions.session, case, REQUEST_TIMEOUT_SECONDS)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(send, cases))


def _send_slow_ones_alone(
    assistant: RunningAssistant, outcomes: list[Outcome]
) -> dict[int, float | None]:
    """The slow cases again, slowest first, one at a time once the server is idle."""
    slow = sorted(
        (i for i, o in enumerate(outcomes) if o.seconds > MAX_SECONDS),
        key=lambda i: -outcomes[i].seconds,
    )
    probe = FuzzCase("idle_probe", IDLE_PROBE, BAD_REQUEST)
    deadline = time.monotonic() + ALONE_BUDGET_SECONDS
    alone: dict[int, float | None] = {}
    with requests.Session() as session:
        for index in slow:
            if assistant.rasa_server is None or assistant.rasa_server.poll() is not None:
                break  # nothing to learn from a server that is gone
            # Wait out whatever a timed-out request left the server doing.
            for _ in range(3):
                if _post(assistant, session, probe, 60).seconds < 0.5:
                    break
            if time.monotonic() > deadline:
                break
            again = _post(assistant, session, outcomes[index].case, REQUEST_TIMEOUT_SECONDS)
            alone[index] = None if again.status is None else again.seconds
    return alone


def _tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback") if log.is_file() else 0


def write_report(run: FuzzRun, assistant: RunningAssistant, seed: int) -> None:
    outcomes = run.outcomes
    latencies = [o.seconds for o in outcomes if o.status is not None]
    slowest = max(outcomes, key=lambda o: o.seconds)
    failing = run.failing()
    statuses = Counter(str(o.status) for o in outcomes)
    lines = [
        f"Fuzz of the REST channel: {len(outcomes)} cases (seed {seed}), {CONCURRENCY} at a "
        f"time, {run.seconds:.1f} s of sending",
        "statuses: "
        + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())),
        f"latency: max {slowest.seconds:.2f} s ([{slowest.case.kind}] {slowest.case.short(60)}), "
        f"p95 {percentile(latencies, 0.95):.2f} s, p50 {percentile(latencies, 0.5):.2f} s",
        f"failing: {len(failing)} cases break their expectation; "
        f"{len(run.slow())} replies over {MAX_SECONDS:.0f} s (no answer counts as its "
        f"{REQUEST_TIMEOUT_SECONDS:.0f} s timeout), "
        f"{sum(1 for _, why in run.slow_problems() if why.startswith('slow on its own'))} "
        f"of them slow on their own",
        f"servers at the end: Rasa {_state(assistant.rasa_server)}, "
        f"actions {_state(assistant.action_server)}; tracebacks in the logs: "
        f"{_tracebacks(assistant.rasa_log)} (Rasa), {_tracebacks(assistant.action_log)} (actions)",
        f"logs: {assistant.work_dir}",
        "",
        f"{'kind':20} {'cases':>5} {'200':>5} {'400':>5} {'413':>5} {'other':>5} "
        f"{'failing':>7} {'slow':>5} {'max s':>6} {'p95 s':>6}",
    ]
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.case.kind].append(outcome)
    for kind in KINDS:
        items = by_kind[kind]
        statuses = Counter(o.status for o in items)
        seconds = [o.seconds for o in items]
        lines.append(
            f"{kind:20} {len(items):5} {statuses[200]:5} {statuses[400]:5} {statuses[413]:5} "
            f"{len(items) - statuses[200] - statuses[400] - statuses[413]:5} "
            f"{sum(1 for o in items if o.problems()):7} "
            f"{sum(1 for s in seconds if s > MAX_SECONDS):5} "
            f"{max(seconds, default=0):6.2f} {percentile(seconds, 0.95):6.2f}"
        )
    lines += ["", "Slowest replies:"] + [
        f"    [{o.case.kind}] {o.describe()}"
        for o in sorted(outcomes, key=lambda o: -o.seconds)[:SHOWN_PER_KIND]
    ]
    problems = [(o, p) for o, found in failing for p in found] + run.slow_problems()
    if problems:
        lines += ["", "Failing cases, by kind:", grouped(problems, limit=None)]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")


def _state(process: Any) -> str:
    if process is None:
        return "never started"
    code = process.poll()
    return "running" if code is None else f"exited with {code}"


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    with running_assistant(trained_model, tmp_path_factory.mktemp("fuzz")) as running:
        yield running


@pytest.fixture(scope="module")
def cases() -> list[FuzzCase]:
    return generate_cases(fuzz_seed())


@pytest.fixture(scope="module")
def run(assistant: RunningAssistant, cases: list[FuzzCase]) -> FuzzRun:
    started = time.monotonic()
    outcomes = _send_all(assistant, cases)
    seconds = time.monotonic() - started
    fuzz_run = FuzzRun(outcomes, seconds, _send_slow_ones_alone(assistant, outcomes))
    write_report(fuzz_run, assistant, fuzz_seed())
    return fuzz_run


def test_the_cases_are_many_and_of_every_kind(cases: list[FuzzCase]) -> None:
    assert len(cases) >= MIN_CASES
    assert {case.kind for case in cases} == set(KINDS)
    reaching_nlu = sum(1 for case in cases if case.expect in REACHES_NLU)
    assert reaching_nlu > len(cases) / 2, f"only {reaching_nlu} of {len(cases)} reach the NLU"
    assert generate_cases(fuzz_seed()) == cases, "the same seed must give the same cases"


def test_no_server_error_and_no_dropped_request(run: FuzzRun) -> None:
    broken = [(o, o.problems()[0]) for o in run.outcomes if o.status is None or o.status >= 500]
    if broken:
        pytest.fail(
            f"{len(broken)} of {len(run.outcomes)} requests got a server error or no answer "
            f"within {REQUEST_TIMEOUT_SECONDS:.0f} s:\n" + grouped(broken),
            pytrace=False,
        )


def test_every_answer_is_the_one_the_contract_names(run: FuzzRun) -> None:
    failing = [(o, "; ".join(found)) for o, found in run.failing()]
    if failing:
        pytest.fail(
            f"{len(failing)} of {len(run.outcomes)} cases broke their expectation:\n"
            + grouped(failing),
            pytrace=False,
        )


def test_no_reply_takes_over_2_seconds(run: FuzzRun) -> None:
    slow = run.slow_problems()
    if slow:
        pytest.fail(
            f"{len(slow)} replies took over {MAX_SECONDS:.0f} s ({CONCURRENCY} requests at a "
            "time); each was sent again alone to tell the slow from the queued:\n" + grouped(slow),
            pytrace=False,
        )


def test_both_servers_survive_and_still_answer(run: FuzzRun, assistant: RunningAssistant) -> None:
    assert assistant.rasa_server.poll() is None, (
        f"the Rasa server exited with {assistant.rasa_server.returncode}; "
        f"its log: {assistant.rasa_log}"
    )
    assert assistant.action_server.poll() is None, (
        f"the action server exited with {assistant.action_server.returncode}; "
        f"its log: {assistant.action_log}"
    )
    messages = assistant.send("What is PRP?")
    reply = reply_of(messages)
    assert (reply["type"], reply["treatments"]) == ("answer", ["prp"]), json.dumps(messages)


def _senders(cases: list[FuzzCase]) -> list[str]:
    """The sender ids of the cases that reached a conversation (long enough to be unique)."""
    found = set()
    for case in cases:
        try:
            body = json.loads(case.body)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
            continue
        if isinstance(body, dict) and isinstance(body.get("sender"), str):
            sender = body["sender"]
            if len(sender) >= 12 and sender.isascii() and sender.isprintable():
                found.add(sender)
    return sorted(found)


def test_no_sender_id_of_the_run_is_in_a_log(
    run: FuzzRun, assistant: RunningAssistant, cases: list[FuzzCase]
) -> None:
    senders = _senders(cases)
    assert len(senders) > 100
    for log in (assistant.rasa_log, assistant.action_log):
        leaked = personal_data_found(log.read_text(errors="replace"), senders)
        assert leaked == [], f"{len(leaked)} sender ids in {log.name}, e.g. {leaked[:3]}"
