#!/usr/bin/env python3
"""What securing a cluster costs, side by side in one run: an open cluster, one with SASL DIGEST-MD5 on nimbus'
Thrift port and authenticated worker links, and the same with TLS on the worker links as well (each on loopback:
ZooKeeper, one nimbus, one supervisor; certificates made by openssl).

usage: swift build -c release && STORM_BIN=.build/release/storm scripts/bench_security.py [--rounds 3] [--seconds 15]

- Word count (sentence spout -> split, shuffle -> count, fields on "word") in two workers, no ackers, so every
  tuple to count crosses a worker link: tuples executed per second by count, in alternating rounds on each cluster.
  A link authenticates once, when it connects; nothing is added per tuple. TLS encrypts every frame.
- getClusterInfo over one connection (Python's Thrift client, which bounds the rate): calls per second.
- A new connection per call (connect, authenticate, getLeader, close): connections per second, the handshake's cost.
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
from benchlib import executed, running, supervised  # noqa: E402
from bench_workers import word_count  # noqa: E402
from conftest import connect  # noqa: E402
from test_security import AUTHORIZER, DIGEST, PASSWORDS, jaas  # noqa: E402
from test_tls import make_certificates  # noqa: E402


def rate(body, seconds):
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        body()
        count += 1
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-security-")
    secure = ["-c", f"storm.thrift.transport={DIGEST}", "-c", f"java.security.auth.login.config={jaas(folder, 'admin', 'admin')}",
              "-c", f"nimbus.authorizer={AUTHORIZER}", "-c", 'nimbus.admins=["admin"]']
    path = make_certificates(folder)
    tls_links = [*secure, "-c", "storm.messaging.netty.tls.enable=true",
                 "-c", f"storm.messaging.netty.tls.keystore.path={path('nimbus.p12')}",
                 "-c", "storm.messaging.netty.tls.keystore.password=nimbus-pw",
                 "-c", f"storm.messaging.netty.tls.truststore.path={path('ca.crt')}"]
    credentials = {"open": None, "secured": ("admin", PASSWORDS["admin"]), "tls-links": ("admin", PASSWORDS["admin"])}
    with contextlib.ExitStack() as stack:
        clusters = {
            "open": stack.enter_context(supervised(slots=2)),
            "secured": stack.enter_context(supervised(slots=2, extra_conf=secure, credentials=credentials["secured"])),
            "tls-links": stack.enter_context(supervised(slots=2, extra_conf=tls_links,
                                                        credentials=credentials["tls-links"])),
        }
        rates = {kind: [] for kind in clusters}
        for round_ in range(args.rounds):
            for kind, (_, _, client) in clusters.items():
                topology, counted = word_count()
                with running(client, f"wc{round_}", topology, 2, counted):
                    time.sleep(5)
                    c0, t0 = executed(client, f"wc{round_}", counted), time.time()
                    time.sleep(args.seconds)
                    c1, t1 = executed(client, f"wc{round_}", counted), time.time()
                rates[kind].append((c1 - c0) / (t1 - t0))
                print(f"round {round_ + 1} {kind}: {rates[kind][-1] / 1e6:.2f} M tuples/s", flush=True)
        for kind, values in rates.items():
            print(f"two-worker word count, {kind}: {min(values) / 1e6:.2f}-{max(values) / 1e6:.2f} M tuples/s")
        print("secured/open, per round: " + ", ".join(f"{s / o:.3f}" for s, o in zip(rates["secured"], rates["open"])))
        print("tls-links/secured, per round: "
              + ", ".join(f"{t / s:.3f}" for t, s in zip(rates["tls-links"], rates["secured"])))

        for kind, (cluster, _, client) in clusters.items():
            port = cluster.nimbus_ports[0]
            calls = rate(client.getClusterInfo, 5)

            def fresh():
                c = connect(port, 5000, credentials[kind])
                c.getLeader()
                c.transport.close()
            print(f"{kind}: getClusterInfo {calls:.0f} calls/s on one connection; "
                  f"{rate(fresh, 5):.0f} connections/s (connect, getLeader, close)")


if __name__ == "__main__":
    main()
