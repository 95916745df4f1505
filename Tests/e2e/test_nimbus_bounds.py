"""What a careless or hostile client can make nimbus hold is bounded: idle connections, half-sent frames,
unfinished uploads. Each test floods a real `storm nimbus` on loopback and checks that a normal client is still
served at once."""

import os
import socket
import struct
import time

import pytest
from thrift.Thrift import TApplicationException

from conftest import NimbusProcess, closed_by_peer, connect, upload, wait_until


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def timed_call(port):
    started = time.time()
    client = connect(port, timeout_ms=5000)
    try:
        client.getClusterInfo()
    finally:
        client.transport.close()
    return time.time() - started


@pytest.fixture
def flood():
    sockets = []
    yield sockets
    for s in sockets:
        s.close()


def test_idle_and_half_sent_connections_hold_no_thread(flood):
    n = NimbusProcess()
    try:
        threads_before = threads(n.process.pid)
        # 300 connections that send nothing and 200 that send a frame's length and a few of its bytes: more
        # than nimbus.thrift.threads (64) of each.
        for i in range(500):
            s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
            if i % 5 < 2:
                s.sendall(struct.pack(">i", 100) + b"\x80\x01\x00\x01")
            flood.append(s)
        assert wait_until(lambda: "nimbus" in open(n.log_path).read(), timeout=5)
        elapsed = [timed_call(n.port) for _ in range(5)]
        assert max(elapsed) < 1.0, elapsed
        # No thread per connection: the pool is the same size as before the flood.
        assert threads(n.process.pid) <= threads_before + 4, (threads_before, threads(n.process.pid))
        # And the flood still holds its connections (it was not simply refused).
        assert not closed_by_peer(flood[0], timeout=0.2)
    finally:
        assert n.stop() == 0


def test_silent_connections_are_closed_after_the_socket_timeout(flood):
    n = NimbusProcess(["storm.thrift.socket.timeout.ms=1500"])
    try:
        idle = socket.create_connection(("127.0.0.1", n.port))
        half = socket.create_connection(("127.0.0.1", n.port))
        half.sendall(struct.pack(">i", 100) + b"\x80\x01\x00\x01")
        flood += [idle, half]
        started = time.time()
        assert closed_by_peer(idle) and closed_by_peer(half)
        assert 1.0 < time.time() - started < 6
        # A client that keeps calling is never idle long enough to be closed.
        client = n.client()
        for _ in range(4):
            client.getLeader()
            time.sleep(0.5)
        assert client.getLeader().isLeader
    finally:
        assert n.stop() == 0


def test_connections_over_the_limit_are_refused_and_logged_until_the_flood_times_out(flood):
    n = NimbusProcess(["nimbus.thrift.max.connections=40", "storm.thrift.socket.timeout.ms=2000"])
    try:
        for _ in range(60):
            flood.append(socket.create_connection(("127.0.0.1", n.port), timeout=10))
        refused = [s for s in flood[45:] if closed_by_peer(s, timeout=2)]
        assert len(refused) == 15, "connections past the limit must be closed as they are accepted"
        assert wait_until(lambda: "nimbus.thrift.max.connections" in open(n.log_path).read(), timeout=5)
        # The silent ones are reaped after the socket timeout, and nimbus answers again.
        assert wait_until(lambda: closed_by_peer(flood[0], timeout=0.1), timeout=10)
        assert wait_until(lambda: timed_call(n.port) < 1.0, timeout=10)
    finally:
        assert n.stop() == 0


def test_unfinished_uploads_are_capped_per_connection_and_in_all_and_hold_no_descriptor():
    n = NimbusProcess(["nimbus.file.upload.max.open=20", "nimbus.file.upload.max.open.per.connection=12"])
    try:
        first, second, third = n.client(), n.client(), n.client()
        fds_before = open_fds(n.process.pid)
        started = [first.beginFileUpload() for _ in range(12)]
        for location in started:
            first.uploadChunk(location, b"x" * 1000)
        with pytest.raises(TApplicationException) as per_connection:
            first.beginFileUpload()
        assert "nimbus.file.upload.max.open.per.connection" in per_connection.value.message
        # Another connection may still begin uploads, up to the total.
        started += [second.beginFileUpload() for _ in range(8)]
        with pytest.raises(TApplicationException) as total:
            third.beginFileUpload()
        assert "20 uploads are unfinished" in total.value.message
        assert "nimbus.file.upload.max.open" in total.value.message
        # Twenty unfinished uploads hold no file descriptor between chunks: none of nimbus' descriptors is an
        # upload file, and their number did not grow with the uploads.
        held = [os.readlink(f"/proc/{n.process.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{n.process.pid}/fd")
                if os.path.exists(f"/proc/{n.process.pid}/fd/{fd}")]
        assert not [path for path in held if "/nimbus/inbox/" in path], held
        assert open_fds(n.process.pid) < fds_before + 10, (fds_before, open_fds(n.process.pid))
        # Finishing one frees its place; the finished one is as usable as ever.
        second.finishFileUpload(started[-1])
        location = third.beginFileUpload()
        third.uploadChunk(location, b"PK\x05\x06" + b"\x00" * 18)
        third.finishFileUpload(location)
        assert timed_call(n.port) < 1.0
    finally:
        assert n.stop() == 0


def test_a_storm_of_abandoned_uploads_leaves_nimbus_serving():
    n = NimbusProcess()
    try:
        client = n.client()
        refused = 0
        for _ in range(3000):
            try:
                client.beginFileUpload()
            except TApplicationException:
                refused += 1
        assert refused == 3000 - 16
        # Nimbus still listens and serves a whole upload from another client.
        other = n.client()
        assert upload(other).startswith(os.path.join(n.dir, "local"))
        assert timed_call(n.port) < 1.0
        assert len(os.listdir(os.path.join(n.dir, "local", "nimbus", "inbox"))) == 17
    finally:
        assert n.stop() == 0


def listening_addresses(port):
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(socket.inet_ntoa(struct.pack("<I", int(address, 16))) if len(address) == 8 else "ipv6")
    return found


def test_the_thrift_port_listens_on_the_bind_address_only():
    n = NimbusProcess(["nimbus.thrift.bind.address=127.0.0.1"])
    try:
        assert listening_addresses(n.port) == {"127.0.0.1"}
        assert timed_call(n.port) < 1.0
    finally:
        assert n.stop() == 0
    # Unset, it listens on every interface, as Storm's nimbus does.
    n = NimbusProcess()
    try:
        assert listening_addresses(n.port) & {"0.0.0.0", "ipv6"}
    finally:
        assert n.stop() == 0


def test_a_bind_address_not_on_this_machine_stops_nimbus_with_the_key_in_its_error():
    import subprocess
    import tempfile
    from conftest import free_port, storm_bin
    port = free_port()
    local_dir = tempfile.mkdtemp(prefix="nimbus-bind-")
    result = subprocess.run(
        [storm_bin(), "nimbus", "-c", f"nimbus.thrift.port={port}", "-c", "storm.cluster.state.store=memory",
         "-c", "nimbus.metrics.port=0",
         "-c", "nimbus.thrift.bind.address=192.0.2.1", "-c", f"storm.local.dir={local_dir}"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "nimbus.thrift.bind.address" in line]
    assert lines and "192.0.2.1" in lines[0], result.stdout + result.stderr
