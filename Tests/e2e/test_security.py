"""A cluster that authenticates and authorizes as Storm's secured clusters do: SASL DIGEST-MD5 on nimbus' Thrift
port with users from a JAAS file in Storm's form, and SimpleACLAuthorizer. Clients are PyPI's thrift_sasl and
pure-sasl (as Python users of Storm authenticate), our own `storm` CLI and the supervisor."""

import base64
import glob
import hashlib
import importlib
import json
import os
import pwd
import re
import socket
import struct
import subprocess
import tempfile

import pytest
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket

from conftest import (THRIFT_PACKAGE, Cluster, ZooKeeper, connect, free_port, storm_bin, terminate, ttypes, upload,
                      wait_until)
from test_corrupt_state import zk_commands
from stormclient import JavaComponent, ShellBolt, TopologyBuilder, pack_resources
from test_java_client import java_classpath  # noqa: F401 (a fixture)
from test_workers import WORKER_CONF, worker_logs

OurInvocations = importlib.import_module(THRIFT_PACKAGE + ".DistributedRPCInvocations")

DIGEST = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin"
AUTHORIZER = "org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer"
PASSWORDS = {"admin": "admin-pw", "alice": "alice-pw", "bob": "bob-pw", "sup": "sup-pw", "ui": "ui-pw"}
# The daemons' own ZooKeeper identity (storm.zookeeper.auth.payload).
ZK_DIGEST = "storm:zk-secret"


def jaas(folder, name, client_user=None):
    """A JAAS file in Storm's form: every user in StormServer, and `client_user`'s login in StormClient."""
    path = os.path.join(folder, f"{name}.jaas")
    users = "\n".join(f'    user_{u}="{p}"' for u, p in PASSWORDS.items())
    text = f"StormServer {{\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n{users};\n}};\n"
    if client_user:
        text += (f"StormClient {{\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                 f'    username="{client_user}"\n    password="{PASSWORDS[client_user]}";\n}};\n')
    with open(path, "w") as f:
        f.write(text)
    return path


def secured_conf(folder):
    """The daemons' settings of a secured cluster, as docs/security.md gives them, and a JAAS file per user (whose
    StormClient logs in as that user). Nimbus logs in as admin; supervisors, given SUPERVISOR_CONF, as sup, which may
    only fetch files; the UI as ui, which may act for any user from this host."""
    files = {user: jaas(folder, user, user) for user in PASSWORDS}
    conf = ["-c", f"storm.thrift.transport={DIGEST}", "-c", f"nimbus.authorizer={AUTHORIZER}",
            "-c", 'nimbus.admins=["admin"]', "-c", 'nimbus.supervisor.users=["sup"]',
            "-c", "storm.zookeeper.auth.scheme=digest", "-c", f"storm.zookeeper.auth.payload={ZK_DIGEST}",
            "-c", 'nimbus.impersonation.acl={"ui": {"hosts": ["127.0.0.1"], "groups": ["*"]}}',
            "-c", f"java.security.auth.login.config={files['admin']}"]
    return conf, files


def supervisor_conf(files):
    return ["-c", f"java.security.auth.login.config={files['sup']}"]


class Secured:
    def __init__(self):
        # Workers run as their topology's owner: alice has a Unix account here, bob has none.
        self.made_alice = False
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("alice")
            except KeyError:
                subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "alice"], check=True)
                self.made_alice = True
        self.dir = tempfile.mkdtemp(prefix="secured-e2e-")
        # Where the workers, as their owners, may write.
        os.chmod(self.dir, 0o1777)
        conf, self.jaas = secured_conf(self.dir)
        self.zk = ZooKeeper()
        self.cluster = Cluster(self.zk, nimbuses=1, credentials=("admin", PASSWORDS["admin"]),
                               extra_conf=[*WORKER_CONF, *conf])
        os.chmod(self.cluster.dir, 0o755)  # the owners' workers reach their folders through it
        run_as_owner = ["-c", "supervisor.run.worker.as.user=true"] if os.geteuid() == 0 else []
        self.cluster.add_supervisor("a", [free_port(), free_port()],
                                    extra_conf=[*supervisor_conf(self.jaas), *run_as_owner])
        admin = self.client("admin")
        assert wait_until(lambda: len(admin.getClusterInfo().supervisors) == 1, 30)
        admin.transport.close()
        self.port = self.cluster.nimbus_ports[0]

    def client(self, user, password=None):
        return connect(self.cluster.leader_port(), credentials=(user, password or PASSWORDS[user]))

    def cli(self, user, *args, transport=True):
        """`storm ARGS` as `user` (its own JAAS file), or with no authentication at all."""
        conf = ["-c", f'nimbus.seeds=["127.0.0.1:{self.cluster.nimbus_ports[0]}"]']
        if transport:
            conf += ["-c", f"storm.thrift.transport={DIGEST}", "-c", f"java.security.auth.login.config={self.jaas[user]}"]
        return subprocess.run([storm_bin(), *args, *conf], capture_output=True, text=True, timeout=60)

    def nimbus_log(self):
        return self.cluster.nimbuses[self.port].log_text()

    def stop(self):
        self.cluster.stop()
        self.zk.stop()
        if self.made_alice:
            subprocess.run(["userdel", "alice"], capture_output=True)


@pytest.fixture(scope="module")
def secured():
    s = Secured()
    yield s
    s.stop()


def recorded_lines(sink):
    """How many tuples RecordingSink has written to `sink` so far."""
    try:
        with open(sink) as f:
            return len(f.readlines())
    except OSError:
        return 0


def recording_topology(sink):
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[100]))
    builder.set_bolt("record", JavaComponent("storm.swift.testing.RecordingSink", [], args=[sink]), 1) \
        .shuffle_grouping("sentences")
    return builder.build()


def test_every_client_must_authenticate(secured):
    with pytest.raises(Exception):
        plain = connect(secured.port, 5000)
        plain.getLeader()
    with pytest.raises(Exception, match="wrong user name or password"):
        secured.client("alice", "not-her-password").getLeader()
    assert wait_until(lambda: "no SASL negotiation: this server requires authentication" in secured.nimbus_log())
    assert "refused a Thrift connection from 127.0.0.1:" in secured.nimbus_log()

    allowed = secured.client("alice")
    assert allowed.getLeader().port == secured.port
    allowed.transport.close()

    listing = secured.cli("bob", "list")
    assert listing.returncode == 0, listing.stderr
    unauthenticated = secured.cli("bob", "list", transport=False)
    assert unauthenticated.returncode == 1
    lines = unauthenticated.stderr.strip().splitlines()
    assert len(lines) == 1 and "requires authentication and refused this unauthenticated client" in lines[0], lines


def test_the_owner_is_the_principal_and_only_the_topology_users_may_touch_it(secured):
    alice = secured.client("alice")
    bob = secured.client("bob")
    admin = secured.client("admin")
    sink = os.path.join(secured.dir, "alices-sink")
    # The conf names another submitter and carries a secret: the owner is who authenticated, and only they see it.
    conf = {"topology.workers": 2, "topology.submitter.user": "mallory", "db.password": "s3cret"}
    alice.submitTopology("alices", upload(alice), json.dumps(conf), recording_topology(sink))
    topology_id = alice.getTopologySummaryByName("alices").id

    assert alice.getTopologyInfo(topology_id).owner == "alice"
    own = json.loads(alice.getTopologyConf(topology_id))
    assert own["db.password"] == "s3cret"
    assert own["topology.submitter.user"] == "alice" and own["topology.submitter.principal"] == "alice"
    assert "alice" in own["topology.users"]
    assert json.loads(admin.getTopologyConf(topology_id))["db.password"] == "*****"

    for call, message in [
        (lambda: bob.killTopology("alices"), "killTopology on topology alices is not authorized"),
        (lambda: bob.rebalance("alices", ttypes.RebalanceOptions()), "rebalance on topology alices is not authorized"),
        (lambda: bob.getTopologyConf(topology_id), "getTopologyConf on topology alices is not authorized"),
        (lambda: bob.getTopologyInfo(topology_id), "getTopologyInfo on topology alices is not authorized"),
        # Topology files go to supervisors and admins only, the submitter included.
        (lambda: bob.beginFileDownload(f"{topology_id}/stormjar.jar"), "fileDownload is not authorized"),
        (lambda: alice.beginFileDownload(f"{topology_id}/stormjar.jar"), "fileDownload is not authorized"),
    ]:
        with pytest.raises(ttypes.AuthorizationException) as refused:
            call()
        assert refused.value.msg == message
    assert "denied killTopology on topology alices to bob" in secured.nimbus_log()

    killed = secured.cli("bob", "kill", "alices", "-w", "0")
    assert killed.returncode == 1
    assert killed.stderr.strip() == "storm: not authorized: killTopology on topology alices is not authorized"

    # The supervisor, authenticated as a supervisor user, fetched the files and runs the topology on two workers,
    # whose links authenticate with the topology's secret.
    def recorded():
        return recorded_lines(sink)
    assert wait_until(lambda: recorded() > 20, 90), secured.cluster.supervisors["a"].log_text()[-3000:]
    # The topology's secret, which its workers also log in to ZooKeeper with: USER:PASSWORD, both random.
    assert own["storm.messaging.netty.authentication"] is True and own["storm.zookeeper.topology.auth.scheme"] == "digest"
    assert re.fullmatch("[0-9a-f]{16}:[0-9a-f]{64}", own["storm.zookeeper.topology.auth.payload"])

    # What an attacker on the network can do: greet a worker's port naming the public topology id, then send a
    # batch. The worker closes the connection before reading the batch, and says so.
    port = admin.getTopologyInfo(topology_id).executors[0].port
    forged = socket.create_connection(("127.0.0.1", port), timeout=10)
    hello = f"storm-swift/1 {topology_id}".encode()
    forged.sendall(struct.pack("<I", len(hello)) + hello + struct.pack("<I", 3) + b"\x01\x02\x03")
    assert wait_until(lambda: forged.recv(4096) == b"", 10)  # the 32-byte challenge, then the end
    forged.close()
    refusal = f"refused: it did not prove it knows the secret of topology {topology_id}"
    assert wait_until(lambda: refusal in worker_logs(secured.cluster, topology_id), 10)
    before = recorded()
    assert wait_until(lambda: recorded() > before + 20, 30), "the topology stopped after the forged connection"

    assert secured.cli("alice", "kill", "alices", "-w", "0").returncode == 0
    for c in (alice, bob, admin):
        c.transport.close()


def test_a_java_client_with_storms_digest_settings_logs_in(secured, java_classpath):  # noqa: F811
    """Java's JAAS parser reads our JAAS file and Java's DIGEST-MD5 (what Storm's DigestSaslTransportPlugin uses)
    authenticates against nimbus."""
    def login(jaas_file):
        return subprocess.run(["java", f"-Djava.security.auth.login.config={jaas_file}", "-cp", java_classpath,
                               "org.stormswift.example.DigestLoginExample", "127.0.0.1", str(secured.port)],
                              capture_output=True, text=True, timeout=120)
    run = login(secured.jaas["bob"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == f"logged in as bob, leader 127.0.0.1:{secured.port}"
    wrong = os.path.join(secured.dir, "wrong.jaas")
    with open(wrong, "w") as f:
        f.write('StormClient {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '  username="bob"\n  password="guess";\n};\n')
    refused = login(wrong)
    assert refused.returncode != 0
    assert "wrong user name or password" in refused.stderr, refused.stderr


def test_a_supervisor_user_may_only_do_what_supervisors_do(secured):
    sup = secured.client("sup")
    with pytest.raises(ttypes.AuthorizationException, match="getClusterInfo is not authorized"):
        sup.getClusterInfo()
    with pytest.raises(ttypes.AuthorizationException, match="submitTopology is not authorized"):
        sup.submitTopology("sups", "nowhere", "{}", recording_topology("/dev/null"))
    sup.transport.close()


@pytest.mark.parametrize("conf,message", [
    ([f"nimbus.authorizer={AUTHORIZER}"], "config key 'nimbus.authorizer' needs authenticated clients"),
    ([f"storm.thrift.transport={DIGEST}"], "config key 'java.security.auth.login.config' is not set"),
    ([f"storm.thrift.transport={DIGEST}", "java.security.auth.login.config=/nonexistent.jaas"],
     "config key 'java.security.auth.login.config' '/nonexistent.jaas' cannot be read"),
])
def test_nimbus_refuses_security_it_cannot_give_in_one_line(conf, message):
    folder = tempfile.mkdtemp(prefix="nimbus-refusal-")
    args = ["-c", f"storm.local.dir={folder}", "-c", "storm.cluster.state.store=memory",
            "-c", f"nimbus.thrift.port={free_port()}", "-c", "nimbus.metrics.port=0"]
    for item in conf:
        args += ["-c", item]
    run = subprocess.run([storm_bin(), "nimbus", *args], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    lines = [line for line in run.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and message in lines[0], run.stderr


def test_zookeeper_nodes_belong_to_the_daemons(secured):
    """Every node the daemons create is theirs alone: ZooKeeper's own CLI, without the daemons' digest, can neither
    read nor write the cluster state (as in the attack of rewriting an assignment); with it, it can."""
    admin = secured.client("admin")
    admin.submitTopology("zk-acl", upload(admin), json.dumps({"topology.workers": 1}),
                         recording_topology(os.path.join(secured.dir, "zk-acl-sink")))
    topology_id = admin.getTopologySummaryByName("zk-acl").id
    assert wait_until(lambda: "zk-acl" in [t.name for t in admin.getClusterInfo().topologies])
    assert wait_until(lambda: admin.getTopologyInfo(topology_id).executors, 30)
    denied = zk_commands(secured.zk, f"get /storm/assignments/{topology_id}", f"set /storm/assignments/{topology_id} x",
                         "create /storm/intruder x", "ls /storm/storms", check=False)
    assert denied.count("Insufficient permission") == 4, denied
    allowed = zk_commands(secured.zk, f"addauth digest {ZK_DIGEST}", "ls /storm/storms", check=False)
    assert topology_id in allowed and "Insufficient permission" not in allowed, allowed
    admin.killTopologyWithOpts("zk-acl", ttypes.KillOptions(wait_secs=0))
    admin.transport.close()


def zk_digest_id(credentials):
    """ZooKeeper's digest identity for `user:password`, as its DigestAuthenticationProvider writes it."""
    user = credentials.split(":", 1)[0]
    return user + ":" + base64.b64encode(hashlib.sha1(credentials.encode()).digest()).decode()


def test_workers_reach_their_own_topologys_zookeeper_nodes_alone(secured):
    """A worker logs in to ZooKeeper as its topology, with the identity nimbus gave it, not as the daemons: the conf
    its supervisor hands it lacks the daemons' password, and with its topology's identity ZooKeeper's own CLI reads
    that topology's assignment but not another's, nor may it rewrite it. The workers still heartbeat and process."""
    alice = secured.client("alice")
    sinks = {name: os.path.join(secured.dir, f"{name}-sink") for name in ("zk-own-a", "zk-own-b")}
    for name, sink in sinks.items():
        alice.submitTopology(name, upload(alice), json.dumps({"topology.workers": 1}), recording_topology(sink))
    ids = {name: alice.getTopologySummaryByName(name).id for name in sinks}
    supervisor_dir = f"{secured.cluster.dir}/supervisor-a"
    assert wait_until(lambda: all(recorded_lines(sink) > 0 for sink in sinks.values()), 90), \
        secured.cluster.supervisors["a"].log_text()[-3000:] + worker_logs(secured.cluster, ids["zk-own-a"])[-3000:]
    # Workers heartbeat through ZooKeeper: nimbus sees their executors alive.
    assert wait_until(lambda: all(e.uptime_secs > 0 for e in alice.getTopologyInfo(ids["zk-own-a"]).executors), 30)

    worker_confs = glob.glob(f"{supervisor_dir}/workers/*/conf.json")
    assert worker_confs
    for path in worker_confs:
        with open(path) as f:
            handed = json.load(f)
        assert "storm.zookeeper.auth.payload" not in handed and ZK_DIGEST.split(":")[1] not in json.dumps(handed)
        assert handed["storm.zookeeper.superACL"] == "digest:" + zk_digest_id(ZK_DIGEST)

    with open(f"{supervisor_dir}/supervisor/stormdist/{ids['zk-own-a']}/stormconf.ser") as f:
        identity = json.load(f)["storm.zookeeper.topology.auth.payload"]
    a, b = ids["zk-own-a"], ids["zk-own-b"]
    own = zk_commands(secured.zk, f"addauth digest {identity}", f"get /storm/assignments/{a}",
                      f"get /storm/storms/{a}", f"getAcl /storm/assignments/{a}", check=False)
    assert "Insufficient permission" not in own and "127.0.0.1" in own, own
    # ZooKeeper shows a digest's hash to those with the ADMIN right alone: the topology's identity may read, no more.
    assert re.search(f"'digest,'{identity.split(':')[0]}:\\S+\n: r\n", own), own
    others = zk_commands(secured.zk, f"addauth digest {identity}", f"get /storm/assignments/{b}",
                         f"set /storm/assignments/{a} x", f"get /storm/stormconf/{a}", "ls /storm/storms",
                         f"create /storm/workerbeats/{b}/forged x", check=False)
    assert others.count("Insufficient permission") == 5, others
    # What its workers wrote is the daemons' to read.
    beats = zk_commands(secured.zk, f"addauth digest {ZK_DIGEST}", f"ls /storm/workerbeats/{a}", check=False)
    nodes = re.search(r"\[(.*?)\]", beats)
    assert "Insufficient permission" not in beats and nodes and nodes.group(1), beats
    acl = zk_commands(secured.zk, f"addauth digest {ZK_DIGEST}",
                      f"getAcl /storm/workerbeats/{a}/{nodes.group(1).split(',')[0].strip()}", check=False)
    assert f"'digest,'{zk_digest_id(ZK_DIGEST)}\n: cdrwa\n" in acl, acl
    for name in sinks:
        alice.killTopologyWithOpts(name, ttypes.KillOptions(wait_secs=0))
    alice.transport.close()


def test_drpc_authenticates_callers_and_topologies(tmp_path):
    """Both DRPC ports ask for SASL DIGEST-MD5: a caller that does not authenticate is refused, `storm drpc-client`
    logs in as bob, and the topology's DRPCSpout and ReturnResults log in with their conf's JAAS file."""
    from test_drpc import DRPCProcess, drpc_topology
    from thrift.transport.TTransport import TTransportException
    _, files = secured_conf(str(tmp_path))
    secure = [f"storm.thrift.transport={DIGEST}"]
    # Storm's DRPCSimpleACLAuthorizer: bob may call reverse, which alice's topology serves.
    acl = tmp_path / "drpc-auth-acl.yaml"
    acl.write_text('drpc.authorizer.acl:\n  reverse:\n    client.users: ["bob"]\n    invocation.user: "alice"\n')
    drpc = DRPCProcess(*secure, f"java.security.auth.login.config={files['admin']}",
                       "drpc.authorizer=org.apache.storm.security.auth.authorizer.DRPCSimpleACLAuthorizer",
                       f"drpc.authorizer.acl.filename={acl}")
    flux = drpc_topology(tmp_path, drpc)
    flux.write_text(flux.read_text().replace(
        "config:\n", f"config:\n  storm.thrift.transport: {DIGEST}\n"
                     f"  java.security.auth.login.config: {files['alice']}\n", 1))
    topology = subprocess.Popen([storm_bin(), "local", str(flux), "--duration", "60"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env={**os.environ, "HOME": str(tmp_path)})
    try:
        with pytest.raises(TTransportException):
            drpc.caller_with_types().execute("reverse", "unauthenticated")
        assert wait_until(lambda: "refused a Thrift connection from 127.0.0.1" in drpc.log_text(), 10)

        def call(jaas_file):
            return subprocess.run([storm_bin(), "drpc-client", *drpc.conf_args, "-c", secure[0],
                                   "-c", f"java.security.auth.login.config={jaas_file}", "reverse", "ping"],
                                  capture_output=True, text=True, timeout=60)
        assert wait_until(lambda: call(files["bob"]).stdout.strip() == 'reverse "ping" => "gnip"', 40), \
            call(files["bob"]).stderr
        wrong = tmp_path / "wrong.jaas"
        wrong.write_text('StormClient { M required username="bob" password="guess"; };\n')
        refused = call(str(wrong))
        assert refused.returncode == 1 and "wrong user name or password" in refused.stderr, refused.stderr
        # Authenticated is not enough: admin is not among reverse's callers, nor bob among its servers.
        denied = call(files["admin"])
        assert denied.returncode == 1 and denied.stderr.strip() == (
            "storm: drpc-client: reverse \"ping\": not authorized: DRPC request 'execute' for 'admin' user is not "
            "authorized"), denied.stderr
        assert "denied DRPC execute of 'reverse' to admin" in drpc.log_text()
        from stormclient.sasl import digest_transport
        sock = TSocket.TSocket("127.0.0.1", drpc.invocations)
        transport = digest_transport(sock, "127.0.0.1", "bob", PASSWORDS["bob"])
        transport.open()
        invocations = OurInvocations.Client(TBinaryProtocol.TBinaryProtocol(transport))
        with pytest.raises(ttypes.AuthorizationException) as stolen:
            invocations.fetchRequest("reverse")
        assert stolen.value.msg == "DRPC request 'fetchRequest' for 'bob' user is not authorized"
        transport.close()
    finally:
        terminate(topology)
        drpc.stop()


WRITER = """
import os
from stormclient.multilang import Bolt


class Writer(Bolt):
    def initialize(self, conf, context):
        self.out = conf["writer.file"]

    def process(self, tup):
        with open(self.out, "a") as f:
            f.write(f"{os.getuid()} {tup.values[0]}\\n")
        self.ack(tup)


Writer().run()
"""


def writer_topology():
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[20]))
    builder.set_bolt("writer", ShellBolt(["/usr/bin/python3", "writer.py"], []), 1).shuffle_grouping("sentences")
    return builder.build()


def test_workers_and_their_shell_components_run_as_the_topology_owner(secured):
    if os.geteuid() != 0:
        pytest.fail("supervisor.run.worker.as.user needs the supervisor to run as root, as CI does")
    alice_uid = pwd.getpwnam("alice").pw_uid
    resources = tempfile.mkdtemp(prefix="writer-")
    with open(os.path.join(resources, "writer.py"), "w") as f:
        f.write(WRITER)
    out = os.path.join(secured.dir, "written-by-alice")
    alice = secured.client("alice")
    alice.submitTopology("owned", upload(alice, pack_resources(resources)),
                         json.dumps({"topology.workers": 1, "writer.file": out}), writer_topology())
    topology_id = alice.getTopologySummaryByName("owned").id
    assert wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 90), \
        secured.cluster.supervisors["a"].log_text()[-3000:] + worker_logs(secured.cluster, topology_id)[-3000:]
    # The file the shell component wrote is alice's, and so says the child itself.
    assert os.stat(out).st_uid == alice_uid
    with open(out) as f:
        assert f.readline().split()[0] == str(alice_uid)
    # The topology's files, resources included, are alice's and no one else's.
    dist = [d for d in glob.glob(f"{secured.cluster.dir}/supervisor-a/supervisor/stormdist/{topology_id}")]
    assert dist, os.listdir(f"{secured.cluster.dir}/supervisor-a/supervisor/stormdist")
    for path in [dist[0], *glob.glob(f"{dist[0]}/**", recursive=True)]:
        info = os.lstat(path)
        assert info.st_uid == alice_uid and info.st_mode & 0o077 == 0, (path, oct(info.st_mode))
    assert secured.cli("alice", "kill", "owned", "-w", "0").returncode == 0

    # bob has no account on this host: his workers do not start, and the supervisor says why.
    bob = secured.client("bob")
    bob.submitTopology("bobs", upload(bob), json.dumps({"topology.workers": 1}), writer_topology())
    bobs_id = bob.getTopologySummaryByName("bobs").id
    refusal = f"cannot run the workers of {bobs_id} as its owner 'bob': no such user on this host"
    assert wait_until(lambda: refusal in secured.cluster.supervisors["a"].log_text(), 60)
    bob.killTopologyWithOpts("bobs", ttypes.KillOptions(wait_secs=0))
    for c in (alice, bob):
        c.transport.close()
