"""What the benchmarks share: the patient turns they send, and the percentile they report."""

from __future__ import annotations

# The turns every benchmark sends, round and round (scripts/bench.py, scripts/bench_load.py).
MESSAGES = [
    "what is prp",
    "how long is the downtime after microneedling?",
    "how many sessions of mesotherapy do I need",
    "and for exosomes?",
    "how much does the vampire facial cost",
    "prp vs exosomes",
    "what helps with acne scars",
    "are you open on saturday",
    "does it hurt?",
    "hello",
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
