"""Fixtures that start real `storm nimbus` processes on loopback and talk to them over TCP."""

import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "clients", "python"))
# The daemons the tests start pass their environment on to workers and their shell components, which import our
# multilang adapter from this checkout.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(REPO, "clients", "python"), os.environ.get("PYTHONPATH")]))

# The Thrift package the tests drive nimbus with: ours by default; set STORM_THRIFT_PACKAGE (and PYTHONPATH) to run
# the same tests with code generated from Apache Storm's own storm.thrift.
THRIFT_PACKAGE = os.environ.get("STORM_THRIFT_PACKAGE", "storm_thrift")
ttypes = importlib.import_module(THRIFT_PACKAGE + ".ttypes")
NimbusService = importlib.import_module(THRIFT_PACKAGE + ".Nimbus")

# Code generated from Storm's own IDL has unhashable structs; maps keyed by GlobalStreamId need a hash to be built.
if getattr(ttypes.GlobalStreamId, "__hash__", None) is None:
    ttypes.GlobalStreamId.__hash__ = lambda self: hash((self.componentId, self.streamId))

# Polling a daemon that is still starting makes Thrift's socket log every refused connection.
logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402


def storm_bin():
    path = os.environ.get("STORM_BIN", os.path.join(REPO, ".build", "debug", "storm"))
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: run `swift build` first (or set STORM_BIN)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, timeout_ms=20000, credentials=None):
    """A nimbus client; with `credentials` (user, password) it authenticates with SASL DIGEST-MD5 through PyPI's
    thrift_sasl and pure-sasl."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(timeout_ms)
    if credentials:
        from stormclient.sasl import digest_transport
        transport = digest_transport(sock, "127.0.0.1", *credentials)
    else:
        transport = TTransport.TFramedTransport(sock)
    transport.open()
    client = NimbusService.Client(TBinaryProtocol.TBinaryProtocol(transport))
    client.transport = transport
    return client


def terminate(process, grace=15):
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class NimbusProcess:
    def __init__(self, extra_conf=()):
        self.dir = tempfile.mkdtemp(prefix="nimbus-e2e-")
        self.port = free_port()
        self.metrics_port = free_port()
        self.log_path = os.path.join(self.dir, "nimbus.log")
        # On its own, nimbus keeps the cluster state in memory; cluster tests give it a ZooKeeper.
        self.conf_args = ["-c", f"nimbus.thrift.port={self.port}", "-c", f"storm.local.dir={self.dir}/local",
                          "-c", f"nimbus.seeds=[\"127.0.0.1:{self.port}\"]", "-c", "storm.cluster.state.store=memory",
                          "-c", f"nimbus.metrics.port={self.metrics_port}"]
        for item in extra_conf:
            self.conf_args += ["-c", item]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([storm_bin(), "nimbus", *self.conf_args], stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, "HOME": self.dir})
        deadline = time.time() + 30
        while True:
            try:
                client = connect(self.port, 2000)
                client.getLeader()
                client.transport.close()
                break
            except Exception:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"nimbus did not start: {open(self.log_path).read()}")
                time.sleep(0.1)

    def client(self):
        return connect(self.port)

    def cli(self, *args, timeout=30):
        """Runs `storm ARGS` against this nimbus; returns the CompletedProcess."""
        return subprocess.run([storm_bin(), *args, *self.conf_args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": self.dir})

    def stop(self):
        return terminate(self.process)


@pytest.fixture
def nimbus():
    n = NimbusProcess()
    try:
        yield n
    finally:
        n.process.kill() if n.process.poll() is None and n.stop() is None else None
        n.log.close()


@pytest.fixture
def client(nimbus):
    c = nimbus.client()
    yield c
    c.transport.close()


def upload(client, data=b"PK\x05\x06" + b"\x00" * 18, chunk=100_000):
    location = client.beginFileUpload()
    for offset in range(0, len(data), chunk):
        client.uploadChunk(location, data[offset:offset + chunk])
    client.finishFileUpload(location)
    return location


def shell_topology():
    """sentences (spout) -> split (shuffle) -> count (fields on word), all shell components."""
    t = ttypes

    def common(fields, inputs=None, parallelism=1):
        return t.ComponentCommon(inputs=inputs or {}, streams={"default": t.StreamInfo(output_fields=fields, direct=False)},
                                 parallelism_hint=parallelism)

    spout = t.SpoutSpec(spout_object=t.ComponentObject(shell=t.ShellComponent("python3", "sentences.py")),
                        common=common(["sentence"]))
    split = t.Bolt(bolt_object=t.ComponentObject(shell=t.ShellComponent("python3", "split.py")),
                   common=common(["word"], {t.GlobalStreamId("sentences", "default"): t.Grouping(shuffle=t.NullStruct())}, 3))
    count = t.Bolt(bolt_object=t.ComponentObject(shell=t.ShellComponent("python3", "count.py")),
                   common=common(["word", "count"], {t.GlobalStreamId("split", "default"): t.Grouping(fields=["word"])}, 2))
    return t.StormTopology(spouts={"sentences": spout}, bolts={"split": split, "count": count}, state_spouts={})


def closed_by_peer(sock, timeout=10):
    """True if the other end closes (or resets) the connection within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def wait_until(condition, timeout=15, interval=0.1):
    """Polls `condition` until it holds; an exception counts as "not yet" until the last try."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return True
        except Exception:  # noqa: BLE001 - a daemon still recovering answers with errors for a moment
            pass
        time.sleep(interval)
    return condition()


# ----- a real cluster: ZooKeeper, nimbuses and supervisors as processes on loopback -----

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"


def four_letter_word(port, word="srvr"):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(1)
            s.sendall(word.encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data.decode()
                data += chunk
    except OSError:
        return None


class ZooKeeper:
    """Debian's ZooKeeper server, standalone on loopback, with a short tick so sessions expire quickly."""

    def __init__(self, tick_ms=500, address="127.0.0.1"):
        if not os.path.exists(ZOOKEEPER_JAR):
            pytest.fail("the ZooKeeper server is not installed: run .ci/run or apt-get install zookeeper")
        self.dir = tempfile.mkdtemp(prefix="zk-e2e-")
        self.port = free_port()
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            # Sessions may last from 2 to 20 ticks (ZooKeeper's bounds): 1 to 10 s with the tests' short tick.
            f.write(f"tickTime={tick_ms}\nminSessionTimeout={2 * tick_ms}\ndataDir={self.dir}/data\nclientPort={self.port}\n"
                    f"clientPortAddress={address}\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat,mntr,cons\n")
        self.process = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "zookeeper.log"), "a")
        self.process = subprocess.Popen(
            ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", ZOOKEEPER_JAR,
             "org.apache.zookeeper.server.ZooKeeperServerMain", os.path.join(self.dir, "zoo.cfg")],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while "Mode: standalone" not in (four_letter_word(self.port) or ""):
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError("ZooKeeper did not start: " + open(os.path.join(self.dir, "zookeeper.log")).read())
            time.sleep(0.05)

    def stop(self):
        if self.process:
            terminate(self.process)
        self.log.close()

    def mntr(self):
        out = {}
        for line in (four_letter_word(self.port, "mntr") or "").splitlines():
            key, _, value = line.partition("\t")
            out[key] = value
        return out

    def zxid(self):
        for line in (four_letter_word(self.port) or "").splitlines():
            if line.startswith("Zxid:"):
                return int(line.split()[1], 16)
        return None


class Daemon:
    """A `storm nimbus` or `storm supervisor` process of a cluster; restartable with the same storm.local.dir."""

    def __init__(self, kind, args, log_path, prefix=()):
        # `prefix`: what the command runs under (`ip netns exec NAME` for a daemon in its own network namespace).
        # Each daemon serves its /metrics on a port of its own, kept across restarts.
        self.metrics_port = free_port()
        args = [*args, "-c", f"{kind}.metrics.port={self.metrics_port}"]
        self.kind, self.args, self.log_path, self.prefix = kind, args, log_path, list(prefix)
        self.process = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        # A process group of its own, shared with the workers it starts: the cluster's teardown kills the groups,
        # so no worker outlives a test even when its supervisor was killed.
        self.process = subprocess.Popen([*self.prefix, storm_bin(), self.kind, *self.args], stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.groups = getattr(self, "groups", []) + [self.process.pid]

    def kill_groups(self):
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self):
        code = terminate(self.process)
        self.log.close()
        return code

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()


class Cluster:
    SESSION_TIMEOUT_MS = 4000

    def __init__(self, zookeeper, nimbuses=1, storm_defaults=False, extra_conf=(), host="127.0.0.1", credentials=None):
        """`host`: the address ZooKeeper and the nimbuses are reached at, and the nimbuses' hostname. `credentials`:
        the (user, password) the tests' own clients authenticate with, on a cluster that asks."""
        self.zk = zookeeper
        self.credentials = credentials
        self.dir = tempfile.mkdtemp(prefix="cluster-e2e-")
        self.nimbus_ports = [free_port() for _ in range(nimbuses)]
        seeds = ",".join(f'"{host}:{p}"' for p in self.nimbus_ports)
        self.conf = [
            "-c", f'storm.zookeeper.servers=["{host}"]', "-c", f"storm.zookeeper.port={zookeeper.port}",
            "-c", f"storm.zookeeper.session.timeout={self.SESSION_TIMEOUT_MS}", "-c", f"storm.local.hostname={host}",
            "-c", f"nimbus.seeds=[{seeds}]",
            # Many tests submit shell topologies, whose workers cannot run yet: keep nimbus from reassigning
            # their slots for want of worker heartbeats.
            "-c", "nimbus.task.launch.secs=600",
        ]
        if not storm_defaults:
            # Short periods, so tests see failures handled within seconds.
            self.conf += ["-c", "nimbus.monitor.freq.secs=1", "-c", "nimbus.supervisor.timeout.secs=5",
                          "-c", "supervisor.heartbeat.frequency.secs=1", "-c", "supervisor.monitor.frequency.secs=1"]
        self.conf += list(extra_conf)
        self.nimbuses = {}
        self.supervisors = {}
        for port in self.nimbus_ports:
            self.nimbuses[port] = Daemon("nimbus", [*self.conf, "-c", f"nimbus.thrift.port={port}",
                                                    "-c", f"storm.local.dir={self.dir}/nimbus-{port}"],
                                         f"{self.dir}/nimbus-{port}.log")
        for port in self.nimbus_ports:
            self.wait_for_nimbus(port)

    def wait_for_nimbus(self, port, timeout=30):
        def up():
            try:
                c = connect(port, 2000, self.credentials)
                c.getLeader()
                c.transport.close()
                return True
            except Exception:
                return False
        assert wait_until(up, timeout), self.nimbuses[port].log_text()

    def add_supervisor(self, name, ports, netns=None, hostname=None, extra_conf=()):
        """A supervisor; given a network namespace, it and its workers run there, known to the others as
        `hostname`."""
        extra = (["-c", f"storm.local.hostname={hostname}"] if hostname else []) + list(extra_conf)
        self.supervisors[name] = Daemon(
            "supervisor", [*self.conf, "-c", f"storm.local.dir={self.dir}/supervisor-{name}",
                           "-c", f"supervisor.slots.ports={list(ports)}", *extra], f"{self.dir}/supervisor-{name}.log",
            prefix=["ip", "netns", "exec", netns] if netns else ())
        return self.supervisors[name]

    def supervisor_dir(self, name):
        return f"{self.dir}/supervisor-{name}/supervisor"

    def add_two_supervisors(self, a_ports, b_ports):
        """Supervisors "a" and "b", and a client of the leader once both are registered."""
        self.add_supervisor("a", a_ports)
        self.add_supervisor("b", b_ports)
        client = self.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2)
        return client

    def leader_port(self):
        for port in self.nimbus_ports:
            try:
                c = connect(port, 2000, self.credentials)
                leader = c.getLeader()
                c.transport.close()
                return leader.port
            except Exception:
                continue
        return None

    def client(self, port=None, credentials=None):
        return connect(port or self.leader_port(), credentials=credentials or self.credentials)

    def cli(self, *args, timeout=30):
        return subprocess.run([storm_bin(), *args, *self.conf], capture_output=True, text=True, timeout=timeout)

    def stop(self):
        for d in list(self.nimbuses.values()) + list(self.supervisors.values()):
            if d.process.poll() is None:
                d.process.kill()
                d.process.wait()
            d.kill_groups()


@pytest.fixture
def zookeeper():
    zk = ZooKeeper()
    yield zk
    zk.stop()


@pytest.fixture
def cluster(zookeeper):
    c = Cluster(zookeeper, nimbuses=2)
    yield c
    c.stop()


# ----- skips CI must not take -----

def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """With STORM_E2E_NO_SKIPS set (.ci/run sets it: CI runs as root, so every test can run), a skipped test fails
    the run: a green CI must not hide the partition or full-disk tests."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not os.environ.get("STORM_E2E_NO_SKIPS") or not skipped:
        return
    terminalreporter.write_line(f"{len(skipped)} test(s) skipped, and STORM_E2E_NO_SKIPS forbids it:", red=True)
    for report in skipped:
        terminalreporter.write_line(f"  {report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("STORM_E2E_NO_SKIPS") and session.testscollected and exitstatus == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and reporter.stats.get("skipped"):
            session.exitstatus = 1
