#!/usr/bin/env python3
"""DRPC requests per second and latency for a trivial function (echo), through Thrift and through HTTP.

usage: swift build -c release && scripts/bench_drpc.py [--seconds 5] [--callers 1,32] [--spouts 1] [--cluster N]
                                                      [--linear K] [--chained]

Starts `storm drpc` and, in `storm local` (or with --cluster N, on a cluster of ZooKeeper, nimbus and a supervisor,
in N workers), a topology of Storm's DRPCSpout straight into ReturnResults (the result is the args: the function
costs nothing, so what is measured is DRPC itself), or with --linear K a linear DRPC topology of K IdentityBolts
(PrepareRequest, K coordinated bolts, JoinResult: what coordination costs; --chained runs the bolts on their
producers' threads, topology.executor.chaining), then runs each number of callers
for `--seconds`, each caller a Python thread with its own connection (Thrift: our generated client, framed binary;
HTTP: GET /drpc/echo/ARGS over a kept-alive connection), and prints calls/s and the latency percentiles. The
callers are Python: with many of them, their own cost is part of the figure (see docs/performance.md).
"""
import argparse
import contextlib
import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from storm_thrift import DistributedRPC  # noqa: E402
from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

# Polling the server while it starts makes Thrift's socket log every refused connection.
logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)

TOPOLOGY = """
name: "drpc-echo"
config:
  drpc.servers: ["127.0.0.1"]
  drpc.invocations.port: {invocations}
  topology.executor.chaining: {chained}
spouts:
  - id: "requests"
    className: "org.apache.storm.drpc.DRPCSpout"
    constructorArgs: ["echo"]
    parallelism: {spouts}
bolts:
  - id: "return"
    className: "org.apache.storm.drpc.ReturnResults"
streams:
  - from: "requests"
    to: "return"
    grouping:
      type: SHUFFLE
"""


def linear_builder(bolts):
    """echo as a linear DRPC chain of `bolts` IdentityBolts, each reading the one before by request id."""
    from stormclient import JavaComponent, LinearDRPCTopologyBuilder
    builder = LinearDRPCTopologyBuilder("echo")
    for i in range(bolts):
        declarer = builder.add_bolt(JavaComponent("org.apache.storm.testing.IdentityBolt", ["id", "result"],
                                                  args=["id", "result"]))
        if i:
            declarer.fields_grouping(["id"])
    return builder


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def thrift_caller(port):
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30000)
    transport = TTransport.TFramedTransport(sock)
    transport.open()
    client = DistributedRPC.Client(TBinaryProtocol.TBinaryProtocol(transport))
    return lambda args: client.execute("echo", args)


def http_caller(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(args):
        connection.request("GET", f"/drpc/echo/{args}")
        response = connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body}")
        return body
    return call


def measure(make_caller, callers, seconds):
    """Calls/s and latencies (ms) of `callers` threads calling for `seconds` after a second of warm-up."""
    latencies = [[] for _ in range(callers)]
    start_at = time.time() + 1
    stop_at = start_at + seconds

    def run(i):
        call = make_caller()
        n = 0
        while True:
            now = time.time()
            if now >= stop_at:
                return
            args = f"c{i}n{n}"
            t0 = time.perf_counter()
            if call(args) != args:
                raise RuntimeError("a caller got another caller's answer")
            if now >= start_at:
                latencies[i].append((time.perf_counter() - t0) * 1000)
            n += 1
    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = sorted(x for per in latencies for x in per)
    if not everything:
        raise RuntimeError("no call completed")

    def quantile(q):
        return everything[min(len(everything) - 1, int(q * len(everything)))]
    return len(everything) / seconds, quantile(0.5), quantile(0.99)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--callers", default="1,32")
    parser.add_argument("--spouts", type=int, default=1, help="DRPCSpout tasks")
    parser.add_argument("--cluster", type=int, default=0, metavar="N", help="run the topology on a cluster, in N workers")
    parser.add_argument("--linear", type=int, default=0, metavar="K",
                        help="a linear DRPC topology of K bolts instead of DRPCSpout -> ReturnResults")
    parser.add_argument("--chained", action="store_true", help="topology.executor.chaining: true")
    args = parser.parse_args()
    storm = os.environ.get("STORM_BIN", os.path.join(ROOT, ".build", "release", "storm"))
    work = tempfile.mkdtemp(prefix="bench-drpc-")
    port, invocations, http_port = free_port(), free_port(), free_port()
    conf = ["-c", f"drpc.port={port}", "-c", f"drpc.invocations.port={invocations}", "-c", f"drpc.http.port={http_port}"]
    env = {**os.environ, "HOME": work}
    log = open(os.path.join(work, "drpc.log"), "w")
    server = subprocess.Popen([storm, "drpc", *conf], stdout=log, stderr=subprocess.STDOUT, env=env)
    flux = os.path.join(work, "echo.yaml")
    with open(flux, "w") as f:
        if args.linear:
            f.write(linear_builder(args.linear).to_flux("drpc-echo", {
                "drpc.servers": ["127.0.0.1"], "drpc.invocations.port": invocations,
                "topology.executor.chaining": args.chained}))
        else:
            f.write(TOPOLOGY.format(invocations=invocations, spouts=args.spouts, chained=str(args.chained).lower()))
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: (server.terminate(), server.wait()))
        if args.cluster:
            os.environ["STORM_BIN"] = storm
            on_cluster(stack, invocations, args.spouts, args.cluster, args.linear, args.chained)
        else:
            topology = subprocess.Popen([storm, "local", flux], stdout=subprocess.DEVNULL, stderr=log, env=env)
            stack.callback(lambda: (topology.terminate(), topology.wait()))
        run(port, http_port, args, log)


def on_cluster(stack, invocations, spouts, workers, linear, chained):
    """Submits the echo topology to a fresh cluster (stopped by `stack`) in `workers` workers."""
    sys.path.insert(0, HERE)
    from benchlib import one_supervisor, upload, wait_until, worker_processes
    from stormclient import JavaComponent, TopologyBuilder
    client = stack.enter_context(one_supervisor(slots=workers))
    if linear:
        topology = linear_builder(linear).create_topology()
    else:
        builder = TopologyBuilder()
        builder.set_spout("requests", JavaComponent("org.apache.storm.drpc.DRPCSpout", ["args", "return-info"],
                                                    args=["echo"]), spouts)
        builder.set_bolt("return", JavaComponent("org.apache.storm.drpc.ReturnResults", []), 1) \
            .shuffle_grouping("requests")
        topology = builder.build()
    conf = {"topology.workers": workers, "drpc.servers": ["127.0.0.1"], "drpc.invocations.port": invocations,
            "topology.executor.chaining": chained}
    client.submitTopology("drpc-echo", upload(client), json.dumps(conf), topology)
    topology_id = client.getTopologySummaryByName("drpc-echo").id
    assert wait_until(lambda: len(worker_processes(topology_id)) == workers, 60), "workers did not start"


def run(port, http_port, args, log):
    """Waits until DRPC answers, then measures each number of callers through Thrift and HTTP."""
    deadline = time.time() + 30
    while True:
        try:
            if thrift_caller(port)("ready") == "ready":
                break
        except Exception:  # noqa: BLE001 - the server or the topology is still starting
            if time.time() > deadline:
                sys.exit(f"DRPC did not answer: see {log.name}")
            time.sleep(0.2)
    for callers in [int(c) for c in args.callers.split(",")]:
        for name, make in (("Thrift", lambda: thrift_caller(port)), ("HTTP", lambda: http_caller(http_port))):
            rate, p50, p99 = measure(make, callers, args.seconds)
            print(f"{name}, {callers} caller(s): {rate:,.0f} calls/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
