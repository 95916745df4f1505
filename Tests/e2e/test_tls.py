"""TLS as Storm offers it, with certificates from a CA made here with openssl. Nimbus as its TlsTransportPlugin
serves it: its TLS port alone (nimbus.thrift.tls.server.only), clients known by the subject of their certificates
and authorized by SimpleACLAuthorizer; clients are Python's Thrift TSSLSocket with code generated from Storm's own
storm.thrift, our CLI and a supervisor with nimbus.thrift.client.use.tls. Worker links over TLS
(storm.messaging.netty.tls.*)."""

import json
import os
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import pytest
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSSLSocket, TTransport

from conftest import Cluster, NimbusService, ZooKeeper, free_port, storm_bin, terminate, ttypes, upload, wait_until
from test_security import AUTHORIZER, PASSWORDS, recorded_lines, recording_topology, secured_conf
from test_workers import WORKER_CONF, worker_logs


def make_certificates(folder):
    """A CA; a server certificate for 127.0.0.1 and localhost ("nimbus"); admin's, alice's, bob's and a supervisor's
    ("sup") signed by the CA (each certificate with its key in one PEM, and PKCS#12 for nimbus and alice); mallory's signed by a CA nobody
    trusts. Returns the path of a file made."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca} CA",
                "-keyout", f"{ca}.key", "-out", f"{ca}.crt")
    for name, ca, san in [("nimbus", "ca", "IP:127.0.0.1,DNS:localhost"), ("admin", "ca", None), ("alice", "ca", None),
                          ("bob", "ca", None), ("sup", "ca", None), ("mallory", "rogue", None)]:
        args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/O=storm/CN={name}",
                "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-keyout", f"{name}.key", "-out", f"{name}.crt"]
        openssl(*(args + (["-addext", f"subjectAltName={san}"] if san else [])))
        with open(os.path.join(folder, f"{name}.pem"), "w") as out:
            for part in ("crt", "key"):
                with open(os.path.join(folder, f"{name}.{part}")) as f:
                    out.write(f.read())
    for name in ("nimbus", "alice"):
        openssl("pkcs12", "-export", "-in", f"{name}.crt", "-inkey", f"{name}.key", "-out", f"{name}.p12",
                "-passout", f"pass:{name}-pw")
    return lambda name: os.path.join(folder, name)


TLS_IDLE_MS = 5000


class TLSNimbus:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tls-nimbus-")
        self.path = make_certificates(self.dir)
        self.plain_port, self.port = free_port(), free_port()
        self.log_path = os.path.join(self.dir, "nimbus.log")
        self.process = subprocess.Popen([
            storm_bin(), "nimbus", "-c", f"storm.local.dir={self.dir}/local", "-c", "storm.cluster.state.store=memory",
            "-c", "nimbus.metrics.port=0", "-c", f"nimbus.thrift.port={self.plain_port}",
            "-c", f"nimbus.thrift.tls.port={self.port}", "-c", "nimbus.thrift.tls.server.only=true",
            "-c", f"nimbus.thrift.tls.server.keystore.path={self.path('nimbus.pem')}",
            "-c", f"nimbus.thrift.tls.server.truststore.path={self.path('ca.crt')}",
            "-c", f"nimbus.authorizer={AUTHORIZER}", "-c", 'nimbus.admins=["CN=admin,O=storm"]',
            # Idle TLS connections are closed after this (the plain port's storm.thrift.socket.timeout.ms is 10 min).
            "-c", f"storm.thrift.tls.socket.timeout.ms={TLS_IDLE_MS}",
        ], stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        assert wait_until(lambda: self.answers("admin"), 30), self.log()

    def client(self, name, ca="ca.crt"):
        """Storm's generated Python client over Thrift's own TSSLSocket, with `name`'s certificate (None: none)."""
        context = ssl.create_default_context(cafile=self.path(ca))
        if name:
            context.load_cert_chain(self.path(f"{name}.crt"), self.path(f"{name}.key"))
        sock = TSSLSocket.TSSLSocket("127.0.0.1", self.port, ssl_context=context, server_hostname="127.0.0.1")
        sock.setTimeout(10000)
        transport = TTransport.TFramedTransport(sock)
        transport.open()
        client = NimbusService.Client(TBinaryProtocol.TBinaryProtocol(transport))
        client.transport = transport
        return client

    def answers(self, name):
        try:
            c = self.client(name)
            c.getLeader()
            c.transport.close()
            return True
        except Exception:
            return False

    def cli(self, name, *args, keystore=None):
        conf = ["-c", f'nimbus.seeds=["127.0.0.1:{self.plain_port}"]', "-c", f"nimbus.thrift.tls.port={self.port}",
                "-c", "nimbus.thrift.client.use.tls=true",
                "-c", f"nimbus.thrift.tls.client.keystore.path={keystore or self.path(f'{name}.pem')}",
                "-c", "nimbus.thrift.tls.client.keystore.password=alice-pw",
                "-c", f"nimbus.thrift.tls.client.truststore.path={self.path('ca.crt')}"]
        return subprocess.run([storm_bin(), *args, *conf], capture_output=True, text=True, timeout=60)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        terminate(self.process)


@pytest.fixture(scope="module")
def nimbus():
    n = TLSNimbus()
    yield n
    n.stop()


def test_clients_are_known_by_their_certificates_and_authorized(nimbus):
    assert "nimbus serving the Thrift API over TLS on port" in nimbus.log()
    # Only the TLS port is served.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", nimbus.plain_port), timeout=5).close()

    alice, bob = nimbus.client("alice"), nimbus.client("bob")
    alice.submitTopology("alices", upload(alice), json.dumps({"topology.workers": 1}),
                         recording_topology("/dev/null"))
    summary = alice.getTopologySummaryByName("alices")
    assert summary.owner == "CN=alice,O=storm"
    assert json.loads(alice.getTopologyConf(summary.id))["topology.submitter.principal"] == "CN=alice,O=storm"
    with pytest.raises(ttypes.AuthorizationException) as refused:
        bob.killTopology("alices")
    assert refused.value.msg == "killTopology on topology alices is not authorized"
    assert wait_until(lambda: "denied killTopology on topology alices to CN=bob,O=storm" in nimbus.log(), 10)
    admin = nimbus.client("admin")
    assert [t.name for t in admin.getClusterInfo().topologies] == ["alices"]
    for c in (alice, bob, admin):
        c.transport.close()


@pytest.mark.parametrize("name,ca", [(None, "ca.crt"), ("mallory", "ca.crt"), ("alice", "rogue.crt")])
def test_clients_without_a_trusted_certificate_or_trusting_another_server_are_refused(nimbus, name, ca):
    with pytest.raises(Exception):
        client = nimbus.client(name, ca)
        client.getLeader()
    assert nimbus.answers("alice"), "a refused handshake stopped the server"
    assert wait_until(lambda: "refused a TLS connection from 127.0.0.1:" in nimbus.log(), 10), nimbus.log()[-2000:]


def test_an_idle_tls_connection_is_closed_after_storms_tls_socket_timeout(nimbus):
    idle = nimbus.client("alice")
    idle.getLeader()
    time.sleep(TLS_IDLE_MS / 1000 + 2)
    with pytest.raises(Exception):
        idle.getLeader()
    assert nimbus.answers("alice")


def test_the_cli_speaks_tls_with_a_pkcs12_or_pem_keystore(nimbus):
    listed = nimbus.cli("alice", "list", keystore=nimbus.path("alice.p12"))
    assert listed.returncode == 0, listed.stderr
    assert "alices" in listed.stdout and "CN=alice,O=storm" in listed.stdout, listed.stdout
    refused = nimbus.cli("bob", "kill", "alices", "-w", "0")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "storm: not authorized: killTopology on topology alices is not authorized"
    unknown = nimbus.cli("mallory", "list")
    assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr


def test_tls_settings_that_cannot_work_stop_nimbus_in_one_line(tmp_path):
    jks = tmp_path / "server.jks"
    jks.write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02")
    base = ["nimbus", "-c", f"storm.local.dir={tmp_path}/local", "-c", "storm.cluster.state.store=memory",
            "-c", "nimbus.metrics.port=0", "-c", f"nimbus.thrift.port={free_port()}"]
    for conf, message in [
        ([f"nimbus.thrift.tls.port={free_port()}"],
         "config key 'nimbus.thrift.tls.port' is set, but nimbus.thrift.tls.server.keystore.path"),
        ([f"nimbus.thrift.tls.port={free_port()}", f"nimbus.thrift.tls.server.keystore.path={jks}"],
         "config key 'nimbus.thrift.tls.client.auth.required' is true, but nimbus.thrift.tls.server.truststore.path"),
        ([f"nimbus.thrift.tls.port={free_port()}", f"nimbus.thrift.tls.server.keystore.path={jks}",
          "nimbus.thrift.tls.client.auth.required=false"], "is a Java KeyStore (JKS), which this build cannot read"),
        (["nimbus.thrift.tls.server.only=true"], "is true, but nimbus.thrift.tls.port names no port to serve"),
    ]:
        args = [storm_bin(), *base]
        for c in conf:
            args += ["-c", c]
        run = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert run.returncode != 0
        lines = [line for line in run.stderr.strip().splitlines() if not line.startswith("20")]
        assert len(lines) == 1 and message in lines[0], run.stderr


def test_a_supervisor_over_tls_and_worker_links_over_tls_carry_tuples_and_refuse_plain_peers(tmp_path):
    """A secured cluster whose supervisor reaches nimbus over TLS, known by its certificate as a supervisor user (the
    only way it may fetch the topology's files: it has no DIGEST login), and whose two workers link over TLS
    (storm.messaging.netty.tls.*): tuples cross and are counted; a peer that does not speak TLS, or shows a
    certificate of another CA, gets no frame through."""
    path = make_certificates(str(tmp_path))
    tls_port = free_port()
    tls = ["-c", "storm.messaging.netty.tls.enable=true",
           "-c", f"storm.messaging.netty.tls.keystore.path={path('nimbus.p12')}",
           "-c", "storm.messaging.netty.tls.keystore.password=nimbus-pw",
           "-c", f"storm.messaging.netty.tls.truststore.path={path('ca.crt')}",
           "-c", f"nimbus.thrift.tls.port={tls_port}",
           "-c", f"nimbus.thrift.tls.server.keystore.path={path('nimbus.pem')}",
           "-c", f"nimbus.thrift.tls.server.truststore.path={path('ca.crt')}"]
    secured, _ = secured_conf(str(tmp_path))
    secured = [item.replace('nimbus.supervisor.users=["sup"]', 'nimbus.supervisor.users=["CN=sup,O=storm"]')
               for item in secured]
    over_tls = ["-c", "nimbus.thrift.client.use.tls=true",
                "-c", f"nimbus.thrift.tls.client.keystore.path={path('sup.pem')}",
                "-c", f"nimbus.thrift.tls.client.truststore.path={path('ca.crt')}",
                "-c", "java.security.auth.login.config=/nonexistent"]
    zk = ZooKeeper()
    cluster = Cluster(zk, extra_conf=[*WORKER_CONF, *tls, *secured], credentials=("admin", PASSWORDS["admin"]))
    try:
        cluster.add_supervisor("a", [free_port(), free_port()], extra_conf=over_tls)
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        sink = str(tmp_path / "sink")
        client.submitTopology("linked", upload(client), json.dumps({"topology.workers": 2}), recording_topology(sink))
        topology_id = client.getTopologySummaryByName("linked").id

        def recorded():
            return recorded_lines(sink)
        assert wait_until(lambda: recorded() > 20, 90), worker_logs(cluster, topology_id)[-3000:]
        ports = {e.port for e in client.getTopologyInfo(topology_id).executors}
        assert len(ports) == 2, "the spout and the sink share a worker: no link to test"

        # A plain hello and batch, then a TLS peer with a certificate of another CA.
        port = next(iter(ports))
        plain = socket.create_connection(("127.0.0.1", port), timeout=10)
        hello = f"storm-swift/1 {topology_id}".encode()
        plain.sendall(struct.pack("<I", len(hello)) + hello + struct.pack("<I", 3) + b"\x01\x02\x03")
        assert wait_until(lambda: plain.recv(4096) == b"", 10)
        plain.close()
        rogue = ssl.create_default_context(cafile=path("ca.crt"))
        rogue.check_hostname = False
        rogue.load_cert_chain(path("mallory.crt"), path("mallory.key"))
        with pytest.raises(OSError):
            with rogue.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as wrapped:
                wrapped.sendall(struct.pack("<I", len(hello)) + hello)
                assert wrapped.recv(4096) == b""
        assert wait_until(lambda: "TLS handshake" in worker_logs(cluster, topology_id), 10)
        before = recorded()
        assert wait_until(lambda: recorded() > before + 20, 30), "the topology stopped after the refused peers"
    finally:
        cluster.stop()
        zk.stop()
