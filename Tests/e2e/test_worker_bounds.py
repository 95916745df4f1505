"""A worker's tuple port under hostile or broken clients: frame lengths that never arrive, hellos that never end,
more connections than it takes, forged backpressure statuses, and the address it listens on. One cluster (two
supervisors, a topology of two workers) serves every test here: each test leaves the workers as it found them."""

import socket
import struct
import time

import pytest

from conftest import Cluster, ZooKeeper, closed_by_peer, free_port, ttypes, wait_until
from stormclient import JavaComponent, TopologyBuilder
from test_workers import WORKER_CONF, executed, start, submit, word_topology, worker_logs, worker_ports, worker_processes

MAX_CONNECTIONS = 12
BIND_ADDRESS = "127.0.0.1"
# What the worker promises: a hello within 5 s, a congestion logged once it has lasted 10 s.
HELLO_TIMEOUT_SECS = 5
LASTING_CONGESTION_SECS = 10
MIB = 1 << 20


@pytest.fixture(scope="module")
def flowing():
    """(cluster, client, topology id): a topology of two workers whose counts keep growing."""
    zk = ZooKeeper()
    cluster = Cluster(zk, nimbuses=1, extra_conf=[*WORKER_CONF, "-c", f"storm.messaging.max.connections={MAX_CONNECTIONS}",
                                                   "-c", f"storm.messaging.bind.address={BIND_ADDRESS}"])
    try:
        # Two slots each: this topology takes one on each, the test of a stuck bolt two more.
        client = cluster.add_two_supervisors([free_port(), free_port()], [free_port(), free_port()])
        # Four counters: the worker without the spout surely runs several tasks (the forged statuses name two).
        topology_id = start(client, "bounded", word_topology("count", spouts=1, bolts=4), 2, flowing="count")
        yield cluster, client, topology_id
    finally:
        cluster.stop()
        zk.stop()


def keeps_flowing(client):
    before = executed(client, "bounded", "count")
    return wait_until(lambda: executed(client, "bounded", "count") > before + 10, 30)


def rss_kib(pid, cluster):
    """The worker's RSS; a worker that is gone fails the test with what its supervisor said of it."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        said = [line for name, supervisor in cluster.supervisors.items() for line in supervisor.log_text().splitlines()
                if f"pid {pid}" in line or "restarting worker" in line or "stopping worker" in line]
        raise AssertionError(f"worker {pid} is gone; its supervisors said: {said[-10:]}")


def frame(payload):
    return struct.pack("<I", len(payload)) + payload


def hello(topology_id):
    return frame(f"storm-swift/1 {topology_id}".encode())


def varint(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if n == 0:
            return out + bytes([byte])
        out += bytes([byte | 0x80])


def status(congested=(), clear=()):
    """A backpressure status as a peer sends it: the marker where a batch has its count, kind 1, two task lists."""
    body = struct.pack("<I", 0xFFFFFFFF) + b"\x01"
    for tasks in (congested, clear):
        body += varint(len(tasks)) + b"".join(varint(t) for t in tasks)
    return frame(body)


def connection(port, *payloads):
    s = socket.create_connection((BIND_ADDRESS, port), timeout=5)
    for p in payloads:
        s.sendall(p)
    return s


def test_frame_lengths_that_never_arrive_cost_the_worker_no_memory(flowing):
    cluster, client, topology_id = flowing
    port, pid = sorted(worker_ports(topology_id).items())[0]
    before = rss_kib(pid, cluster)

    # Ten strangers each claim a 64 MiB first frame: a hello is far smaller, so each is closed at once.
    strangers = [connection(port, struct.pack("<I", 64 * MIB)) for _ in range(10)]
    try:
        closed = [closed_by_peer(s, 10) for s in strangers]
        after_strangers = rss_kib(pid, cluster)
        assert all(closed), f"{closed.count(False)} first frames of 64 MiB were not refused; RSS {before} -> {after_strangers} KiB"
    finally:
        for s in strangers:
            s.close()
    # One line for the ten: the same refusal is logged once every ten seconds, with the count left out.
    assert wait_until(lambda: worker_logs(cluster, topology_id).count("first frame claims 67108864 bytes") == 1, 10), \
        worker_logs(cluster, topology_id)[-3000:]

    # Ten clients that greet correctly and then claim 64 MiB frames they never send: held, but nothing is reserved
    # for bytes that have not come. Sampled for a few seconds, as the worker reads the lengths at its own pace.
    held = [connection(port, hello(topology_id), struct.pack("<I", 64 * MIB)) for _ in range(10)]
    try:
        peak = after_strangers
        deadline = time.time() + 3
        while time.time() < deadline:
            peak = max(peak, rss_kib(pid, cluster))
            time.sleep(0.1)
        assert all(not closed_by_peer(s, 0.01) for s in held)
    finally:
        for s in held:
            s.close()
    print(f"worker RSS: {before / 1024:.1f} MiB before, {after_strangers / 1024:.1f} MiB after ten 64 MiB first frames, "
          f"{peak / 1024:.1f} MiB at most with ten 64 MiB frames pending after a hello")
    assert after_strangers - before < 8 * 1024, (before, after_strangers)
    assert peak - before < 8 * 1024, (before, peak)
    assert keeps_flowing(client)


def test_a_connection_that_never_finishes_its_hello_is_dropped(flowing):
    cluster, client, topology_id = flowing
    port = sorted(worker_ports(topology_id))[0]
    started = time.time()
    # Half a hello's length, then a byte now and then: never a whole hello.
    with connection(port, b"\x20\x00") as s:
        def dropped():
            try:
                s.sendall(b"\x00")
            except OSError:
                return True
            return closed_by_peer(s, 0.5)
        assert wait_until(dropped, HELLO_TIMEOUT_SECS + 20, interval=0.5), "a connection without a hello stayed open"
    assert time.time() - started >= HELLO_TIMEOUT_SECS - 1
    assert wait_until(lambda: f"no hello within {HELLO_TIMEOUT_SECS} s" in worker_logs(cluster, topology_id), 10)
    assert keeps_flowing(client)


def test_connections_over_the_cap_are_refused_while_peers_keep_working(flowing):
    cluster, client, topology_id = flowing
    port = sorted(worker_ports(topology_id))[0]
    # The other worker holds one connection to this one; ours fill the rest and two more are refused.
    ours = [connection(port, hello(topology_id)) for _ in range(MAX_CONNECTIONS + 2)]
    try:
        assert wait_until(lambda: "connections already, the most storm.messaging.max.connections allows" in
                          worker_logs(cluster, topology_id), 10), worker_logs(cluster, topology_id)[-3000:]
        refused = set()

        def count_refused():
            refused.update(i for i, s in enumerate(ours) if i not in refused and closed_by_peer(s, 0.01))
            return len(refused)
        assert wait_until(lambda: count_refused() >= 3, 10)
        assert count_refused() == 3, refused
        assert keeps_flowing(client)
    finally:
        for s in ours:
            s.close()
    # Room again once they are gone: a new client is served (its status is taken, not refused).
    def served():
        with connection(port, hello(topology_id), status()) as s:
            return not closed_by_peer(s, 0.5)
    assert wait_until(served, 10)
    assert keeps_flowing(client)


def test_the_tuple_port_listens_on_the_configured_address_only(flowing):
    cluster, client, topology_id = flowing
    listening = {}
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if state == "0A":
                listening.setdefault(int(port, 16), set()).add(socket.inet_ntoa(struct.pack("<I", int(address, 16))))
    with open("/proc/net/tcp6") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":
                listening.setdefault(int(local.split(":")[1], 16), set()).add("ipv6")
    for port in worker_ports(topology_id):
        assert listening.get(port) == {BIND_ADDRESS}, (port, listening.get(port))
    assert keeps_flowing(client)


def test_a_lasting_congestion_is_logged_and_a_short_one_is_not(flowing):
    cluster, client, topology_id = flowing
    executors = client.getTopologyInfoByName("bounded").executors
    ports = sorted(worker_ports(topology_id))
    holder, peer = ports[0], ports[1]
    short_task, long_task = sorted(e.executor_info.task_start for e in executors if e.port == peer)[:2]

    def logged(task):
        return f"task {task} of peer" in worker_logs(cluster, topology_id)

    # A congestion that ends within the threshold (as a busy bolt's do) and one that never ends, forged by a client
    # with a valid hello, each status resent every 0.4 s as a congested peer would.
    with connection(holder, hello(topology_id)) as s:
        started = time.time()
        while not logged(long_task):
            elapsed = time.time() - started
            assert elapsed < LASTING_CONGESTION_SECS + 20, worker_logs(cluster, topology_id)[-3000:]
            s.sendall(status(congested=[long_task, short_task] if elapsed < 2 else [long_task],
                             clear=[] if elapsed < 2 else [short_task]))
            time.sleep(0.4)
        took = time.time() - started
        s.sendall(status(clear=[long_task]))
    assert took >= LASTING_CONGESTION_SECS - 1, took
    line = next(l for l in worker_logs(cluster, topology_id).splitlines() if f"task {long_task} of peer" in l)
    assert f"127.0.0.1:{peer}" in line and "congested for" in line, line
    assert not logged(short_task)
    assert keeps_flowing(client)


def test_a_bolt_that_stays_congested_is_logged_by_its_worker_and_by_the_one_holding_its_tuples(flowing):
    """A real congestion, not a forged one: a bolt taking half a second a tuple behind an unthrottled spout in
    another worker keeps its queue full for far longer than the threshold."""
    cluster, client, _ = flowing
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"]), 1)
    b.set_bolt("stuck", JavaComponent("storm.swift.testing.SlowBolt", ["value"], args=[500_000]), 1).shuffle_grouping("sentences")
    topology_id = submit(client, "stuck", b.build(), {"topology.workers": 2, "topology.acker.executors": 0})
    try:
        assert wait_until(lambda: len(worker_ports(topology_id)) == 2, 60)
        executors = client.getTopologyInfo(topology_id).executors
        where = {e.component_id: (e.executor_info.task_start, e.port) for e in executors}
        (task, bolt_port), spout_port = where["stuck"], where["sentences"][1]
        assert bolt_port != spout_port

        def both_sides_logged():
            logs = worker_logs(cluster, topology_id)
            return (f"task {task} (stuck) here has been congested for" in logs
                    and f"task {task} of peer 127.0.0.1:{bolt_port} has been congested for" in logs)
        assert wait_until(both_sides_logged, LASTING_CONGESTION_SECS + 40), worker_logs(cluster, topology_id)[-3000:]
        reporter = next(l for l in worker_logs(cluster, topology_id).splitlines() if f"task {task} (stuck) here" in l)
        assert f"127.0.0.1:{spout_port}" in reporter, reporter
    finally:
        client.killTopologyWithOpts("stuck", ttypes.KillOptions(wait_secs=0))
        assert wait_until(lambda: not worker_processes(topology_id), 60)


def test_a_bind_address_not_on_this_machine_stops_the_worker_with_the_key_in_its_log(zookeeper):
    # 192.0.2.1 is reserved for documentation: no machine has it.
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=[*WORKER_CONF, "-c", "storm.messaging.bind.address=192.0.2.1"])
    try:
        cluster.add_supervisor("a", [free_port()])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        topology_id = submit(client, "misbound", word_topology("count", spouts=1, bolts=1), {"topology.workers": 1})
        message = "worker cannot start: cannot open the tuple port (storm.messaging.bind.address 192.0.2.1): cannot listen on 192.0.2.1:"
        assert wait_until(lambda: message in worker_logs(cluster, topology_id), 60), worker_logs(cluster, topology_id)[-3000:]
    finally:
        cluster.stop()
