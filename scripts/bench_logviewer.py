#!/usr/bin/env python3
"""The log viewer's search speed on a big worker log: how long `/api/v1/search` takes to find a string at the end
of the file (every byte read) and near its start, and a page from the middle.

usage: swift build -c release && scripts/bench_logviewer.py [--megabytes 1024] [--runs 3]

Writes a worker log of worker-like lines under a temporary storm.log.dir, starts `storm logviewer` on it and
times each request from Python (one connection each, so the figure includes HTTP; the file is in the page cache
after it is written, as a log being read by an operator usually is).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from benchlib import free_port, wait_until  # noqa: E402

LOG = "words-1-1/6700/worker.log"


def write_log(path, megabytes):
    line = ("2026-12-01T10:00:00+0000 info worker: worker=words-1-1:6700 [Runtime] split:3 executed a tuple "
            "of the stream default from sentences:1\n").encode()
    block = line * (1_048_576 // len(line))
    with open(path, "wb") as f:
        written = 0
        while written < megabytes * 1_048_576:
            f.write(block)
            written += len(block)
        f.write(b"the needle at the end\n")
    return os.path.getsize(path)


def timed(url):
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        body = r.read()
    return time.perf_counter() - started, body


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    storm = os.environ.get("STORM_BIN", os.path.join(ROOT, ".build", "release", "storm"))
    logs = tempfile.mkdtemp(prefix="bench-logviewer-")
    folder = os.path.join(logs, "workers-artifacts", os.path.dirname(LOG))
    os.makedirs(folder)
    size = write_log(os.path.join(logs, "workers-artifacts", LOG), args.megabytes)
    port = free_port()
    viewer = subprocess.Popen([storm, "logviewer", "-c", f"storm.log.dir={logs}", "-c", f"logviewer.port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        assert wait_until(lambda: timed(f"{base}/listLogs")[0] >= 0, 30)
        print(f"a {size / 1_048_576:,.0f} MiB worker log")
        for name, query in (
                ("search, the one match at the end", {"file": LOG, "search-string": "the needle at the end"}),
                ("search, 10 matches near the start", {"file": LOG, "search-string": "split:3"}),
                ("a 51,200-byte page from the middle", {"file": LOG, "start": size // 2})):
            route = "log" if "start" in query else "search"
            seconds = [timed(f"{base}/{route}?{urllib.parse.urlencode(query)}")[0] for _ in range(args.runs)]
            rate = f", {size / 1_048_576 / min(seconds):,.0f} MiB/s" if "end" in name else ""
            print(f"{name}: {min(seconds) * 1000:,.1f} to {max(seconds) * 1000:,.1f} ms{rate}")
    finally:
        viewer.terminate()
        viewer.wait()
        os.remove(os.path.join(logs, "workers-artifacts", LOG))


if __name__ == "__main__":
    main()
