"""Fixtures that start real `storm nimbus` processes on loopback and talk to them over TCP."""

import importlib
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

# The Thrift package the tests drive nimbus with: ours by default; set STORM_THRIFT_PACKAGE (and PYTHONPATH) to run
# the same tests with code generated from Apache Storm's own storm.thrift.
THRIFT_PACKAGE = os.environ.get("STORM_THRIFT_PACKAGE", "storm_thrift")
ttypes = importlib.import_module(THRIFT_PACKAGE + ".ttypes")
NimbusService = importlib.import_module(THRIFT_PACKAGE + ".Nimbus")

# Code generated from Storm's own IDL has unhashable structs; maps keyed by GlobalStreamId need a hash to be built.
if getattr(ttypes.GlobalStreamId, "__hash__", None) is None:
    ttypes.GlobalStreamId.__hash__ = lambda self: hash((self.componentId, self.streamId))

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


def connect(port, timeout_ms=20000):
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(timeout_ms)
    transport = TTransport.TFramedTransport(sock)
    transport.open()
    client = NimbusService.Client(TBinaryProtocol.TBinaryProtocol(transport))
    client.transport = transport
    return client


class NimbusProcess:
    def __init__(self, extra_conf=()):
        self.dir = tempfile.mkdtemp(prefix="nimbus-e2e-")
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "nimbus.log")
        # On its own, nimbus keeps the cluster state in memory; cluster tests give it a ZooKeeper.
        self.conf_args = ["-c", f"nimbus.thrift.port={self.port}", "-c", f"storm.local.dir={self.dir}/local",
                          "-c", f"nimbus.seeds=[\"127.0.0.1:{self.port}\"]", "-c", "storm.cluster.state.store=memory"]
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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


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


def wait_until(condition, timeout=15, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
