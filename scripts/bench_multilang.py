#!/usr/bin/env python3
"""Throughput of one Python shell bolt, against the same script's own ceiling.

usage: swift build -c release && STORM_BIN=.build/release/storm scripts/bench_multilang.py [--seconds 20] [--warmup 5]

For each adapter (ours, stormclient.multilang; and pystorm), a bolt that acks every tuple and emits nothing:
1. in a topology: `storm local` runs Storm's sentence spout (Swift, unthrottled) into one instance of the bolt, and
   the bolt's executed tuples per second are the mean of storm local's per-second lines after a warm-up;
2. alone: the same script reads a file holding the handshake and the same number of tuple messages, as fast as
   it can, with its output thrown away: what the Python side can do at most.
Also reported: CPU our process (spout, executor threads, not the Python child) spent per tuple through the bolt.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCRIPTS = {
    "stormclient.multilang": """
        from stormclient.multilang import Bolt
        class Sink(Bolt):
            def process(self, tup):
                self.ack(tup)
        Sink().run()
    """,
    "pystorm": """
        from pystorm import Bolt
        class Sink(Bolt):
            def process(self, tup):
                pass
        Sink().run()
    """,
}

FLUX = """
name: "shell-bench"
spouts:
  - id: "sentences"
    className: "storm.swift.SentenceSpout"
bolts:
  - id: "shell"
    className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
    constructorArgs: [["python3", "sink.py"], []]
streams:
  - {from: "sentences", to: "shell", grouping: {type: SHUFFLE}}
"""


RATE = re.compile(r"^\s*(\d+)s\s.*\bshell ([\d.]+)([kM]?) tuples/s")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_topology(folder, warmup, seconds):
    """Tuples per second through the bolt, from `storm local`'s per-second lines after `warmup` seconds (ramp-up and
    the drain after the end are left out), and the CPU seconds of our process alone (not its Python child) over
    those same seconds."""
    storm = os.environ.get("STORM_BIN", os.path.join(REPO, ".build", "release", "storm"))
    process = subprocess.Popen([storm, "local", os.path.join(folder, "bench.yaml"), "--duration", str(warmup + seconds)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rates, cpu = [], {}
    for line in process.stdout:
        match = RATE.match(line)
        if not match:
            continue
        second = int(match.group(1))
        if second == warmup:
            cpu["start"] = cpu_seconds(process.pid)
        elif warmup < second <= warmup + seconds:
            rates.append(float(match.group(2)) * {"": 1, "k": 1e3, "M": 1e6}[match.group(3)])
            if second == warmup + seconds:
                cpu["end"] = cpu_seconds(process.pid)
    process.wait(timeout=60)
    if len(rates) < seconds or "start" not in cpu or "end" not in cpu:
        sys.exit(f"storm local printed {len(rates)} rate lines after the warm-up, {seconds} expected")
    tuples = sum(rates)
    return tuples / len(rates), (cpu["end"] - cpu["start"]) / tuples, int(tuples)


def alone(folder, count):
    path = os.path.join(folder, "messages")
    with open(path, "w") as f:
        f.write(json.dumps({"conf": {}, "pidDir": folder, "context": {"taskid": 1, "componentid": "shell",
                                                                        "task->component": {"1": "shell"}}}))
        f.write("\nend\n")
        for i in range(count):
            f.write(json.dumps({"id": str(i), "comp": "sentences", "stream": "default", "task": 2,
                                "tuple": ["the cow jumped over the moon"]}))
            f.write("\nend\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    with open(path) as stdin, open(os.devnull, "w") as devnull:
        subprocess.run([sys.executable, "sink.py"], cwd=folder, stdin=stdin, stdout=devnull, check=False)
    elapsed = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return count / elapsed, cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20, help="seconds measured, after the warm-up")
    parser.add_argument("--warmup", type=int, default=5, help="seconds left out at the start")
    args = parser.parse_args()
    for name, script in SCRIPTS.items():
        folder = tempfile.mkdtemp(prefix="bench-multilang-")
        with open(os.path.join(folder, "sink.py"), "w") as f:
            f.write(textwrap.dedent(script))
        with open(os.path.join(folder, "bench.yaml"), "w") as f:
            f.write(FLUX)
        os.symlink(folder, os.path.join(folder, "resources"))
        rate, ours_per_tuple, executed = in_topology(folder, args.warmup, args.seconds)
        ceiling, _ = alone(folder, executed)
        print(f"{name}: {rate / 1e3:.1f}k tuples/s through the bolt in a topology (mean of {args.seconds} s after "
              f"{args.warmup} s of warm-up); the script alone on the same {executed} messages: {ceiling / 1e3:.1f}k/s "
              f"({rate / ceiling:.0%} of its ceiling); our process {ours_per_tuple * 1e6:.1f} us CPU per tuple (spout "
              f"and bolt executor)", flush=True)


if __name__ == "__main__":
    main()
