"""Per-call overhead of cheap calls from Python.

Times `forge.status("db")` (compare with core/benches/status.rs) and a few
neighbours on a registered, stopped tool, and `forge.enqueue(task)` (compare
with crates/worker/benches/enqueue.rs) on a queue kept full: R runs of N calls
each, reporting the median and the spread per call; then B batches of 100
calls of `status` and `enqueue`, reporting the median and 99th percentile of
the per-call time of a batch (bindings/c/bench/calls_rust.rs and
node/bench/status.mjs report the same).
Run with the package installed: python python/bench/bench_calls.py [--runs R] [--calls N] [--json]
A release build gives the figures to report: maturin develop --release
(the test script builds debug).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import dxforge


def per_call_ns(fn: Callable[[], object], calls: int, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter_ns() - start) / calls)
    return samples


def batch_percentiles(fn: Callable[[], object], batches: int, size: int = 100) -> dict[str, float]:
    """Median and 99th percentile of the per-call time over `batches` batches of `size` calls."""
    samples = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(size):
            fn()
        samples.append((time.perf_counter_ns() - start) / size)
    samples.sort()
    return {"median_ns": samples[len(samples) // 2], "p99_ns": samples[min(len(samples) - 1, len(samples) * 99 // 100)]}


def noop() -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        with open(f"{root}/dxforge.toml", "w") as config:
            config.write('[project]\nname = "bench"\n\n[worker]\nconcurrency = 1\n')
        run(root, opts)


def run(root: str, opts: argparse.Namespace) -> None:
    with dxforge.DxForge(root) as forge:
        forge.register_tool(dxforge.DxToolDefinition("db", "/bin/true"))
        status, state, names, enqueue = forge.status, forge.state, forge.tool_names, forge.enqueue
        # No registry is configured, so a consumer fails each prefetch at once;
        # with one consumer the 1024-slot queue stays full (every call evicts).
        task = dxforge.BackgroundTask.prefetch_package("button@^1.2")
        cases: dict[str, Callable[[], object]] = {
            "python_noop_call": noop,
            "status_registered_tool": lambda: status("db"),
            "state_registered_tool": lambda: state("db"),
            "tool_names": names,
            "enqueue_prefetch_task": lambda: enqueue(task),
        }
        per_call_ns(cases["status_registered_tool"], opts.calls, 3)  # warm up
        results = {}
        for name, fn in cases.items():
            samples = per_call_ns(fn, opts.calls, opts.runs)
            results[name] = {
                "median_ns": statistics.median(samples),
                "min_ns": min(samples),
                "max_ns": max(samples),
            }
        for name in ("status_registered_tool", "enqueue_prefetch_task"):
            results[name + "_batches_of_100"] = batch_percentiles(cases[name], opts.batches)
        # The lambda wrapper itself costs one Python call: subtract it for the binding's own cost.
        noop_ns = results["python_noop_call"]["median_ns"]
        for name in ("status_registered_tool", "enqueue_prefetch_task"):
            results[name + "_minus_lambda"] = {"median_ns": results[name]["median_ns"] - noop_ns}

    if opts.json:
        json.dump({"python": sys.version.split()[0], "runs": opts.runs, "calls": opts.calls, "results": results}, sys.stdout, indent=2)
        print()
    else:
        print(f"Python {sys.version.split()[0]}, {opts.runs} runs x {opts.calls} calls, ns per call:")
        for name, r in results.items():
            extra = f"  (min {r['min_ns']:.0f}, max {r['max_ns']:.0f})" if "min_ns" in r else ""
            extra += f"  p99 {r['p99_ns']:.1f}" if "p99_ns" in r else ""
            print(f"  {name:<26} median {r['median_ns']:8.1f}{extra}")


if __name__ == "__main__":
    main()
