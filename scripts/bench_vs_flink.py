#!/usr/bin/env python3
"""Our word counts and Flink's, back to back in one run, and the ratios.

usage: swift build -c release && scripts/bench_vs_flink.py [--rounds 2] [--sentences 20000000] [--workers]

Each round runs, one after another: Flink 2.3's pure-Java word count (../shared/peers/flink, parallelism 2, set
up by ../shared/peers/setup.sh into $PEERS, default /tmp/peers); `tuple-bench --wordcount` (one process, layouts
1/1/1 and 1/2/2, five runs each; the better median counts, as the best layout a user can pick); and
`tuple-bench --throughput-vs-latency` (acked: every sentence a tracked tree, one acker; its unthrottled rate, and
the p99 complete latency at 50% and 75% of it), then the same with topology.executor.chaining (`--chained`: split
and count run on the spout's thread, which trades top rate for latency). With --workers, also `scripts/bench_workers.py` (a real cluster:
the word count across two workers, and spout -> sink in one worker and across two). Each ratio is ours over
Flink's from the same round; the machine is shared, so compare within a round, and read the spread over rounds.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.environ.get("PEERS", "/tmp/peers")


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return out.stdout


def flink(sentences):
    out = run([os.path.join(PEERS, "flink", "run.sh"), str(sentences), "2"])
    ok = re.search(r"ok=(\w+)", out)
    if not ok or ok.group(1) != "true":
        sys.exit(f"Flink's word count did not count right:\n{out}")
    return float(re.search(r"steady_words_per_s=(\d+)", out).group(1))


def ours_unacked(bench):
    out = run([bench, "--wordcount"])
    medians = [float(m) * 1e6 for m in re.findall(r"median ([\d.]+)M words/s", out)]
    if len(medians) != 2:
        sys.exit(f"unexpected tuple-bench output:\n{out}")
    return max(medians), out.strip()


def ours_acked(bench, chained=False):
    out = run([bench, "--throughput-vs-latency"] + (["--chained"] if chained else []))
    words = [float(m) * 1e6 for m in re.findall(r"\(([\d.]+)M words/s\)", out)]
    p99 = [float(m) for m in re.findall(r"p99 ([\d.]+) ms", out)]
    if len(words) != 4 or len(p99) != 4:
        sys.exit(f"unexpected tuple-bench output:\n{out}")
    return words[0], p99[2], p99[3], out.strip()


def workers():
    env = dict(os.environ, STORM_BIN=os.path.join(ROOT, ".build", "release", "storm"))
    out = run([sys.executable, os.path.join(HERE, "bench_workers.py"), "--seconds", "10", "--warmup", "5"], env=env)
    rates = {}
    for line in out.splitlines():
        m = re.match(r"(.+?): ([\d.]+)M (\w+)/s", line)
        if m:
            rates[m.group(1)] = float(m.group(2)) * 1e6
    return rates, out.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=20_000_000, help="Flink's input")
    parser.add_argument("--workers", action="store_true", help="also the cluster cases of bench_workers.py")
    args = parser.parse_args()
    bench = os.path.join(ROOT, ".build", "release", "tuple-bench")
    if not os.access(bench, os.X_OK):
        sys.exit(f"no {bench}: run swift build -c release first")
    if not os.access(os.path.join(PEERS, "flink", "run.sh"), os.X_OK):
        sys.exit(f"no Flink peer in {PEERS}: run ../shared/peers/setup.sh first")
    for r in range(1, args.rounds + 1):
        f = flink(args.sentences)
        unacked, unacked_out = ours_unacked(bench)
        acked, p99_50, p99_75, acked_out = ours_acked(bench)
        chained, chained_50, chained_75, chained_out = ours_acked(bench, chained=True)
        print(f"round {r}: Flink {f / 1e6:.2f}M words/s (parallelism 2)")
        print(f"  word count, one process, unacked: {unacked / 1e6:.2f}M words/s = {unacked / f:.2f}x Flink")
        print(f"  word count, one process, acked: {acked / 1e6:.2f}M words/s = {acked / f:.2f}x Flink; "
              f"p99 complete latency {p99_50:.2f} ms at 50%, {p99_75:.2f} ms at 75%")
        print(f"  the same, chained: {chained / 1e6:.2f}M words/s = {chained / f:.2f}x Flink; "
              f"p99 complete latency {chained_50:.2f} ms at 50%, {chained_75:.2f} ms at 75%")
        for line in (unacked_out + "\n" + acked_out + "\n" + chained_out).splitlines():
            print("    " + line)
        if args.workers:
            rates, out = workers()
            for title, rate in rates.items():
                unit = "words" if "word" in title else "tuples"
                print(f"  {title}: {rate / 1e6:.2f}M {unit}/s" + (f" = {rate / f:.2f}x Flink" if unit == "words" else ""))
            one = next((v for k, v in rates.items() if k.startswith("spout -> sink, 1 worker")), None)
            two = next((v for k, v in rates.items() if k.startswith("spout -> sink, 2 workers")), None)
            if one and two:
                print(f"  spout -> sink, two workers over one: {two / one:.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
