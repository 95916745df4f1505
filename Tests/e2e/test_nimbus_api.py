"""The Nimbus Thrift API from Python, against a real `storm nimbus` process."""

import io
import json
import socket
import struct
import threading
import time
import zipfile

import pytest
from thrift.Thrift import TApplicationException
from thrift.transport import TTransport

from conftest import NimbusService, connect, shell_topology, ttypes, upload, wait_until


def archive_with_resources():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("resources/split.py", "print('split')\n")
        z.writestr("resources/count.py", "print('count')\n")
    return buffer.getvalue()


def test_submit_inspect_control_and_kill(client):
    location = upload(client, archive_with_resources())
    topology = shell_topology()
    conf = {"topology.workers": 2, "topology.message.timeout.secs": 7, "app.greeting": "hello"}
    client.submitTopology("wordcount", location, json.dumps(conf), topology)

    [summary] = client.getTopologySummaries()
    assert summary.name == "wordcount" and summary.status == "ACTIVE"
    assert summary.id.startswith("wordcount-1-")
    assert summary.num_executors == 1 + 3 + 2 + 2  # spout, split, count, one acker per worker
    assert [t.name for t in client.getClusterInfo().topologies] == ["wordcount"]

    info = client.getTopologyInfo(summary.id)
    assert (info.name, info.status, info.errors) == ("wordcount", "ACTIVE", {})
    assert client.getTopologyInfoByName("wordcount").id == summary.id
    stored = json.loads(client.getTopologyConf(summary.id))
    assert stored["app.greeting"] == "hello" and stored["topology.workers"] == 2
    assert stored["storm.id"] == summary.id and stored["topology.name"] == "wordcount"
    assert client.getUserTopology(summary.id) == topology
    assert "__acker" in client.getTopology(summary.id).bolts

    client.deactivate("wordcount")
    assert client.getTopologySummaryByName("wordcount").status == "INACTIVE"
    client.activate("wordcount")
    assert client.getTopologySummary(summary.id).status == "ACTIVE"

    client.killTopologyWithOpts("wordcount", ttypes.KillOptions(wait_secs=2))
    assert client.getTopologyInfo(summary.id).status == "KILLED"
    assert wait_until(lambda: client.getTopologySummaries() == [], timeout=15)
    with pytest.raises(ttypes.NotAliveException):
        client.getTopologyInfo(summary.id)


@pytest.fixture
def nimbus_with_a_secret():
    from conftest import NimbusProcess
    nimbus = NimbusProcess(["storm.zookeeper.auth.payload=storm:topsecret"])
    yield nimbus
    nimbus.stop()


def test_secrets_in_confs_are_masked_in_nimbus_answers(nimbus_with_a_secret):
    nimbus = nimbus_with_a_secret
    client = nimbus.client()
    topology = shell_topology()
    topology.bolts["split"].common.json_conf = json.dumps({"db.password": "split-pw", "batch": 5})
    conf = {"topology.workers": 1, "jdbc.password": "hunter2", "app.secret": "s3cr3t",
            "kafka": {"sasl.credentials": "kc", "servers": "k:9092"}}
    client.submitTopology("secretive", upload(client), json.dumps(conf), topology)
    topology_id = client.getTopologySummaryByName("secretive").id
    stored = json.loads(client.getTopologyConf(topology_id))
    assert (stored["jdbc.password"], stored["app.secret"]) == ("*****", "*****")
    assert stored["kafka"] == {"sasl.credentials": "*****", "servers": "k:9092"}
    for answer in (client.getUserTopology(topology_id), client.getTopology(topology_id)):
        assert json.loads(answer.bolts["split"].common.json_conf) == {"db.password": "*****", "batch": 5}
    page = client.getTopologyPageInfo(topology_id, ":all-time", False)
    assert "hunter2" not in page.topology_conf and json.loads(page.topology_conf)["jdbc.password"] == "*****"
    # Nimbus' own conf, as the UI's cluster configuration shows it; and nothing secret in its log.
    assert json.loads(client.getNimbusConf())["storm.zookeeper.auth.payload"] == "*****"
    log = open(nimbus.log_path).read()
    assert "hunter2" not in log and "topsecret" not in log
    # The warning that this cluster is open, once.
    assert log.count("this cluster accepts any client") == 1


def test_inactive_submit_and_rebalance(client):
    client.submitTopologyWithOpts("quiet", upload(client), "{}", shell_topology(),
                                  ttypes.SubmitOptions(initial_status=ttypes.TopologyInitialStatus.INACTIVE))
    assert client.getTopologySummaryByName("quiet").status == "INACTIVE"
    client.rebalance("quiet", ttypes.RebalanceOptions(wait_secs=1, num_workers=3, num_executors={"split": 1}))
    assert client.getTopologySummaryByName("quiet").status == "REBALANCING"
    assert wait_until(lambda: client.getTopologySummaryByName("quiet").status == "INACTIVE")
    with pytest.raises(ttypes.InvalidTopologyException) as e:
        client.rebalance("quiet", ttypes.RebalanceOptions(num_executors={"ghost": 2}))
    assert "ghost" in e.value.msg


def test_each_exception_arrives_as_its_class(client):
    with pytest.raises(ttypes.NotAliveException) as e:
        client.killTopology("nobody")
    assert "nobody" in e.value.msg
    with pytest.raises(ttypes.NotAliveException):
        client.activate("nobody")
    with pytest.raises(ttypes.NotAliveException):
        client.getTopologyInfo("nobody-1-1")
    with pytest.raises(ttypes.NotAliveException):
        client.getTopologyConf("nobody-1-1")
    with pytest.raises(ttypes.NotAliveException):
        client.getTopologySummaryByName("nobody")

    client.submitTopology("once", upload(client), "{}", shell_topology())
    with pytest.raises(ttypes.AlreadyAliveException):
        client.submitTopology("once", upload(client), "{}", shell_topology())

    bad = shell_topology()
    bad.bolts["count"].common.inputs = {ttypes.GlobalStreamId("split", "default"): ttypes.Grouping(fields=["nope"])}
    with pytest.raises(ttypes.InvalidTopologyException) as e:
        client.submitTopology("bad", upload(client), "{}", bad)
    assert "count" in e.value.msg and "nope" in e.value.msg

    for name in ["", "a/b", "a.b", "a:b", "a\\b", "x" * 300, "tab\tname"]:
        with pytest.raises(ttypes.InvalidTopologyException):
            client.submitTopology(name, upload(client), "{}", shell_topology())
        assert client.isTopologyNameAllowed(name) is False
    with pytest.raises(ttypes.InvalidTopologyException):
        client.submitTopology("conf", upload(client), "not json", shell_topology())
    with pytest.raises(ttypes.InvalidTopologyException):
        client.submitTopology("jar", "/tmp/never-issued.jar", "{}", shell_topology())
    assert [t.name for t in client.getTopologySummaries()] == ["once"]

    with pytest.raises(TApplicationException) as e:
        client.getComponentPendingProfileActions("once", "split", ttypes.ProfileAction.JSTACK_DUMP)
    assert e.value.type == TApplicationException.UNKNOWN_METHOD
    assert "getComponentPendingProfileActions" in e.value.message
    assert client.isTopologyNameAllowed("free") is True  # the connection is still usable


def test_upload_errors_and_download(client):
    with pytest.raises(TApplicationException) as e:
        client.uploadChunk("/etc/passwd", b"x")
    assert "not issued" in e.value.message
    data = bytes(range(256)) * 3000
    location = upload(client, data)
    client.submitTopology("dl", location, "{}", shell_topology())
    if not hasattr(client, "beginFileDownload"):
        pytest.skip("this client was generated from an IDL without beginFileDownload (Storm 2 retired it)")
    session = client.beginFileDownload(client.getTopologySummaryByName("dl").id)
    got = b""
    while True:
        chunk = client.downloadChunk(session)
        if not chunk:
            break
        got += chunk
    assert got == data


def test_sixteen_concurrent_clients_make_a_thousand_calls_each(nimbus, client):
    client.submitTopology("busy", upload(client), "{}", shell_topology())
    errors = []

    def work(n):
        try:
            c = connect(nimbus.port)
            for i in range(1000):
                kind = i % 4
                if kind == 0:
                    assert c.getClusterInfo().topologies[0].name == "busy"
                elif kind == 1:
                    assert c.getTopologySummaryByName("busy").status == "ACTIVE"
                elif kind == 2:
                    assert c.isTopologyNameAllowed(f"free-{n}") is True
                else:
                    assert "nimbus.thrift.port" in json.loads(c.getNimbusConf())
            c.transport.close()
        except Exception as e:  # noqa: BLE001 - every failure is collected and reported
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def raw_exchange(port, data):
    """Sends bytes on a fresh connection; True if nimbus closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        try:
            while True:
                if not s.recv(4096):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def test_garbage_and_oversized_frames_close_only_their_connection(nimbus, client):
    assert raw_exchange(nimbus.port, b"GET / HTTP/1.1\r\nHost: nimbus\r\n\r\n")
    assert raw_exchange(nimbus.port, struct.pack(">i", 2 * 1048576) + b"\x80\x01\x00\x01" + b"x" * 1000)
    # A whole frame: a call of "abc" whose arguments claim a list of 2^31-1 strings.
    call = b"\x00\x00\x00\x03abc" + b"\x01" + b"\x00\x00\x00\x01" + b"\x0f\x00\x01\x0b\x7f\xff\xff\xff"
    assert raw_exchange(nimbus.port, struct.pack(">i", len(call)) + call)
    assert client.getLeader().isLeader
    assert connect(nimbus.port).getClusterInfo().nimbuses[0].port == nimbus.port


def test_frame_over_max_buffer_size_is_refused(nimbus, client):
    location = client.beginFileUpload()
    started = time.time()
    # Nimbus closes the connection at once: the client sees it end, not a timeout.
    with pytest.raises(TTransport.TTransportException) as refused:
        client.uploadChunk(location, b"x" * (1048576 + 10))
    # Closing with the frame's bytes still unread resets the connection, so the client sees either
    # the end of the stream or the reset, whichever its next read or write meets first.
    ended = refused.value.type == TTransport.TTransportException.END_OF_FILE
    reset = isinstance(getattr(refused.value, "inner", None), (ConnectionResetError, BrokenPipeError))
    assert ended or reset, repr(refused.value)
    assert time.time() - started < 5
    fresh = connect(nimbus.port)
    assert fresh.getLeader().isLeader


def test_a_stalled_half_message_is_dropped_after_the_socket_timeout():
    from conftest import NimbusProcess
    n = NimbusProcess(["storm.thrift.socket.timeout.ms=1000"])
    try:
        # Claims a 127-byte method name, sends 4 bytes of it, then nothing.
        assert raw_exchange(n.port, struct.pack(">i", 12) + b"\x80\x01\x00\x01\x00\x00\x00\x7fxyz!")
        assert connect(n.port).getLeader().isLeader
    finally:
        assert n.stop() == 0
