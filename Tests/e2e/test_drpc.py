"""`storm drpc` as a process, driven by clients generated from Apache Storm's own storm.thrift (the copy streamparse
bundles, Storm 1's, loaded with thriftpy2): callers on the DistributedRPC port, a stand-in for a topology on the
invocations port (what Storm's DRPCSpout and ReturnResults call), HTTP, `storm drpc-client`, and bad input on every
port. Storm 2's exception type (a field Storm 1's clients skip) is read with our client, whose IDL
scripts/check-idl-compat.py holds to Storm 2's."""

import importlib
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from conftest import THRIFT_PACKAGE, closed_by_peer, free_port, storm_bin, terminate, wait_until

# Ours first: thriftpy2 registers Storm's IDL under the same module name, storm_thrift.
OurDistributedRPC = importlib.import_module(THRIFT_PACKAGE + ".DistributedRPC")
ours = importlib.import_module(THRIFT_PACKAGE + ".ttypes")

from streamparse.thrift import storm_thrift  # noqa: E402
from thriftpy2.rpc import make_client  # noqa: E402
from thriftpy2.transport import TFramedTransportFactory  # noqa: E402


class DRPCProcess:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="drpc-e2e-")
        self.port, self.invocations, self.http = free_port(), free_port(), free_port()
        self.conf_args = ["-c", f"drpc.port={self.port}", "-c", f"drpc.invocations.port={self.invocations}",
                          "-c", f"drpc.http.port={self.http}", "-c", 'drpc.servers=["127.0.0.1"]']
        for item in extra:
            self.conf_args += ["-c", item]
        self.log_path = os.path.join(self.dir, "drpc.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([storm_bin(), "drpc", *self.conf_args], stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, "HOME": self.dir})
        assert wait_until(lambda: self.listening(), 30), self.log_text()

    def listening(self):
        for port in (self.port, self.invocations, self.http):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return False
        return True

    def caller(self, timeout_ms=20000):
        return make_client(storm_thrift.DistributedRPC, "127.0.0.1", self.port,
                           trans_factory=TFramedTransportFactory(), timeout=timeout_ms)

    def caller_with_types(self):
        """A caller with Storm 2's IDL (ours): its DRPCExecutionException has the type."""
        sock = TSocket.TSocket("127.0.0.1", self.port)
        sock.setTimeout(30000)
        transport = TTransport.TFramedTransport(sock)
        transport.open()
        return OurDistributedRPC.Client(TBinaryProtocol.TBinaryProtocol(transport))

    def topology(self):
        return make_client(storm_thrift.DistributedRPCInvocations, "127.0.0.1", self.invocations,
                           trans_factory=TFramedTransportFactory(), timeout=20000)

    def url(self, path):
        return f"http://127.0.0.1:{self.http}{path}"

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        return terminate(self.process)


@pytest.fixture
def drpc():
    d = DRPCProcess("drpc.request.timeout.secs=3")
    yield d
    d.stop()


class Topology(threading.Thread):
    """Stands in for a DRPC topology: fetches `function`'s requests and answers each with `answer(args)`, or
    fails it when `answer` returns None, until stopped."""

    def __init__(self, drpc, function, answer):
        super().__init__(daemon=True)
        self.client = drpc.topology()
        self.function, self.answer = function, answer
        self.stopped = threading.Event()
        self.served = 0

    def run(self):
        while not self.stopped.is_set():
            request = self.client.fetchRequest(self.function)
            if not request.request_id:
                time.sleep(0.002)
                continue
            result = self.answer(request.func_args)
            if result is None:
                self.client.failRequest(request.request_id)
            else:
                self.client.result(request.request_id, result)
            self.served += 1

    def stop(self):
        self.stopped.set()
        self.join(5)


def reverse_concurrently(drpc, callers):
    """Caller i -> its answer to `reverse("call i")`, `callers` callers at once, each on its own connection."""
    answers = {}

    def call(i):
        answers[i] = drpc.caller().execute("reverse", f"call {i}")
    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


def test_callers_get_their_own_answers_over_thrift_and_http(drpc):
    topology = Topology(drpc, "reverse", lambda args: args[::-1])
    topology.start()
    try:
        assert drpc.caller().execute("reverse", "hello") == "olleh"

        # 50 callers at once, each with its own args and connection.
        assert reverse_concurrently(drpc, 50) == {i: f"call {i}"[::-1] for i in range(50)}

        with urllib.request.urlopen(drpc.url("/drpc/reverse/by%20get")) as r:
            assert r.status == 200 and r.read().decode() == "teg yb"
        # Its own metrics on the HTTP port, for Prometheus: nothing waits now.
        with urllib.request.urlopen(drpc.url("/metrics")) as r:
            text = r.read().decode()
        assert 'storm_drpc_pending_requests{daemon="drpc",' in text and 'process_threads{daemon="drpc",' in text
        assert re.search(r"^storm_drpc_pending_requests\{[^}]*\} 0$", text, re.M), text
        with urllib.request.urlopen(drpc.url("/drpc/reverse")) as r:
            assert r.read().decode() == ""
        post = urllib.request.Request(drpc.url("/drpc/reverse"), data=b"posted args", method="POST")
        with urllib.request.urlopen(post) as r:
            assert r.read().decode() == "sgra detsop"

        # Storm's command line client: FUNCTION ARGUMENT pairs, or -f FUNCTION and arguments.
        cli = subprocess.run([storm_bin(), "drpc-client", *drpc.conf_args, "reverse", "abc", "reverse", "xy"],
                             capture_output=True, text=True, timeout=30)
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout.splitlines() == ['reverse "abc" => "cba"', 'reverse "xy" => "yx"']
        cli = subprocess.run([storm_bin(), "drpc-client", *drpc.conf_args, "-f", "reverse", "12", "345"],
                             capture_output=True, text=True, timeout=30)
        assert cli.stdout.splitlines() == ['reverse "12" => "21"', 'reverse "345" => "543"']
    finally:
        topology.stop()


def test_failures_and_timeouts_reach_callers_with_storms_types(drpc):
    topology = Topology(drpc, "picky", lambda args: "ok" if args == "good" else None)
    topology.start()
    try:
        assert drpc.caller().execute("picky", "good") == "ok"
        with pytest.raises(storm_thrift.DRPCExecutionException) as failed:
            drpc.caller().execute("picky", "bad")
        assert failed.value.msg == "Request failed"
        with pytest.raises(ours.DRPCExecutionException) as typed:
            drpc.caller_with_types().execute("picky", "bad")
        assert typed.value.type == ours.DRPCExceptionType.FAILED_REQUEST
        with pytest.raises(urllib.error.HTTPError) as http_failed:
            urllib.request.urlopen(drpc.url("/drpc/picky/bad"))
        assert http_failed.value.code == 400
        assert json.loads(http_failed.value.read()) == {"error": "FAILED_REQUEST", "errorMessage": "Request failed"}
    finally:
        topology.stop()

    # Nobody serves this function: the caller waits drpc.request.timeout.secs (3 s here), then times out.
    started = time.time()
    with pytest.raises(ours.DRPCExecutionException) as timed_out:
        drpc.caller_with_types().execute("nobody", "x")
    assert timed_out.value.type == ours.DRPCExceptionType.SERVER_TIMEOUT and timed_out.value.msg == "Timed Out"
    assert 2.5 <= time.time() - started < 6
    with pytest.raises(urllib.error.HTTPError) as http_timed_out:
        urllib.request.urlopen(drpc.url("/drpc/nobody/x"))
    assert http_timed_out.value.code == 504

    # What a topology says about requests that are gone is dropped: nothing is answered twice, nothing breaks.
    invocations = drpc.topology()
    invocations.result("1", "late")
    invocations.result("no-such-request", "x")
    invocations.failRequest("no-such-request")
    assert invocations.fetchRequest("nobody").request_id == ""


def test_garbage_on_every_port_is_refused_and_the_server_keeps_serving(drpc):
    for port in (drpc.port, drpc.invocations):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(64))
            assert closed_by_peer(s)
    with socket.create_connection(("127.0.0.1", drpc.http)) as s:
        s.sendall(os.urandom(256) + b"\r\n\r\n")
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 400") or closed_by_peer(s)
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(drpc.url("/nothing/here"))
    assert unknown.value.code == 404

    topology = Topology(drpc, "still", lambda args: "alive")
    topology.start()
    try:
        assert drpc.caller().execute("still", "?") == "alive"
    finally:
        topology.stop()
    assert drpc.process.poll() is None


def test_a_thrift_caller_that_hangs_up_takes_its_request_with_it():
    """libthrift reads nothing from a connection while its call runs, so the server looks at a waiting caller's
    socket each second: a Thrift caller that closes its connection gives up its request long before its timeout,
    and no topology fetches it; a caller still connected keeps its request, and gets its answer."""
    drpc = DRPCProcess("drpc.request.timeout.secs=60")
    try:
        hang_up_and_wait(drpc)
    finally:
        drpc.stop()


def hang_up_and_wait(drpc):
    abandoned = drpc.caller(timeout_ms=300)
    with pytest.raises(Exception):  # noqa: B017 - the caller's own timeout; it then hangs up
        abandoned.execute("abandoned", "nobody waits")
    abandoned.close()
    kept = {}
    waiting = threading.Thread(target=lambda: kept.update(answer=drpc.caller().execute("kept", "somebody waits")))
    waiting.start()
    time.sleep(2.5)  # past the server's second look at each socket
    topology = drpc.topology()
    assert topology.fetchRequest("abandoned").request_id == ""
    request = topology.fetchRequest("kept")
    assert request.func_args == "somebody waits"
    topology.result(request.request_id, "answered")
    waiting.join(10)
    assert kept == {"answer": "answered"}


def test_stopping_fails_waiting_callers_as_shutting_down():
    d = DRPCProcess()
    errors = []

    def call():
        try:
            d.caller_with_types().execute("never", "x")
        except ours.DRPCExecutionException as e:
            errors.append(e.type)
    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(1)
    assert d.stop() == 0
    caller.join(10)
    assert errors == [ours.DRPCExceptionType.SERVER_SHUTDOWN]


def test_bad_conf_and_bad_arguments_are_one_line():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        out = subprocess.run([storm_bin(), "drpc", "-c", f"drpc.port={taken.getsockname()[1]}"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode != 0
        lines = out.stderr.strip().splitlines()
        assert f"cannot listen on drpc.port {taken.getsockname()[1]}" in lines[-1], out.stderr
    finally:
        taken.close()
    for option, message in (("drpc.queue.size=0", "config key 'drpc.queue.size' must be positive"),
                            ("drpc.request.timeout.secs=-1",
                             "config key 'drpc.request.timeout.secs' must be a positive number of seconds")):
        out = subprocess.run([storm_bin(), "drpc", "-c", option], capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and out.stderr.strip().splitlines() == [f"storm: {message}"], out.stderr
    out = subprocess.run([storm_bin(), "drpc-client", "reverse"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "FUNCTION ARGUMENT pairs; got 1 arguments" in out.stderr.strip().splitlines()[-1]
    out = subprocess.run([storm_bin(), "drpc-client", "reverse", "x"], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "HOME": tempfile.mkdtemp()})
    assert out.returncode != 0 and "drpc.servers is not set" in out.stderr.strip().splitlines()[-1]


def assert_failed_at_once(drpc, function, args, within):
    """The call fails with FAILED_REQUEST (its tree failed) well before the request timeout."""
    started = time.time()
    with pytest.raises(ours.DRPCExecutionException) as failed:
        drpc.caller_with_types().execute(function, args)
    assert failed.value.type == ours.DRPCExceptionType.FAILED_REQUEST
    assert time.time() - started < within


REVERSE_BOLT = '''
from stormclient.multilang import Bolt


class Reverse(Bolt):
    """DRPC's middle: [args, return-info] in, [result, return-info] out; args "fail" fail their tree."""
    def process(self, tup):
        args, return_info = tup.values
        if args == "fail":
            self.fail(tup)
            return
        self.emit([args[::-1], return_info], anchors=[tup])
        self.ack(tup)


if __name__ == "__main__":
    Reverse().run()
'''


def drpc_topology(tmp_path, drpc=None):
    """A Flux file: Storm's DRPCSpout for "reverse" -> a Python shell bolt -> Storm's ReturnResults; naming
    `drpc`'s server, or none (storm local then runs one)."""
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "reverse.py").write_text(REVERSE_BOLT)
    path = tmp_path / "drpc.yaml"
    servers = f'drpc.servers: ["127.0.0.1"]\n  drpc.invocations.port: {drpc.invocations}' if drpc else ""
    path.write_text(f'''
name: "reverse-drpc"
config:
  {servers}
  topology.message.timeout.secs: 5
spouts:
  - id: "requests"
    className: "org.apache.storm.drpc.DRPCSpout"
    constructorArgs: ["reverse"]
bolts:
  - id: "reverse"
    className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
    constructorArgs:
      - ["python3", "reverse.py"]
      - ["result", "return-info"]
    parallelism: 2
  - id: "return"
    className: "org.apache.storm.drpc.ReturnResults"
streams:
  - from: "requests"
    to: "reverse"
    grouping:
      type: SHUFFLE
  - from: "reverse"
    to: "return"
    grouping:
      type: SHUFFLE
''')
    return path


def test_a_topology_of_storms_drpc_components_answers_callers(drpc, tmp_path):
    topology = subprocess.Popen([storm_bin(), "local", str(drpc_topology(tmp_path, drpc)), "--duration", "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "HOME": str(tmp_path)})
    try:
        caller = drpc.caller()
        assert wait_until(lambda: caller.execute("reverse", "ping") == "gnip", 30)
        assert reverse_concurrently(drpc, 20) == {i: f"call {i}"[::-1] for i in range(20)}
        with urllib.request.urlopen(drpc.url("/drpc/reverse/over%20http")) as r:
            assert r.read().decode() == "ptth revo"

        # A failed tree fails its request on the server at once: the caller does not wait for the timeout.
        assert_failed_at_once(drpc, "reverse", "fail", within=2.5)
    finally:
        terminate(topology)
        output = topology.stdout.read()
    assert "reverse executed" in output, output



def echo_topology(linear):
    """echo: Storm's DRPCSpout straight into ReturnResults, or a linear chain of two IdentityBolts of two tasks each
    (whose coordination crosses the workers)."""
    from stormclient import JavaComponent, LinearDRPCTopologyBuilder, TopologyBuilder
    if linear:
        builder = LinearDRPCTopologyBuilder("echo")
        identity = JavaComponent("org.apache.storm.testing.IdentityBolt", ["id", "result"], args=["id", "result"])
        builder.add_bolt(identity, 2)
        builder.add_bolt(identity, 2).fields_grouping(["id"])
        return builder.create_topology()
    builder = TopologyBuilder()
    builder.set_spout("requests", JavaComponent("org.apache.storm.drpc.DRPCSpout", ["args", "return-info"],
                                                args=["echo"]), 1)
    builder.set_bolt("return", JavaComponent("org.apache.storm.drpc.ReturnResults", []), 1) \
        .shuffle_grouping("requests")
    return builder.build()


@pytest.mark.parametrize("linear", [False, True], ids=["spout-to-return", "linear-chain"])
def test_on_a_cluster_a_worker_killed_mid_stream_loses_no_request(zookeeper, tmp_path, linear):
    """A DRPC topology of two workers (the spout's tuples cross to the other) answers callers generated from
    Storm's own IDL; a worker `kill -9`ed while four callers keep calling costs no request: each is answered, or
    fails with FAILED_REQUEST (its tree timed out) or SERVER_TIMEOUT (its spout died with it), none waits past
    drpc.request.timeout.secs, and calls are answered again once the worker is back. In a linear chain, what the
    dead worker's coordinators held is lost with it, and its requests fail the same way."""
    from conftest import Cluster
    from test_workers import WORKER_CONF, submit, two_supervisors, worker_processes

    timeout = 8
    d = DRPCProcess(f"drpc.request.timeout.secs={timeout}")
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF)
    try:
        client, _, _ = two_supervisors(cluster, slots=1)
        topology_id = submit(client, "drpc-echo", echo_topology(linear), {
            "topology.workers": 2, "drpc.servers": ["127.0.0.1"], "drpc.invocations.port": d.invocations,
            "topology.message.timeout.secs": 3})
        assert wait_until(lambda: len(worker_processes(topology_id)) == 2, 60)
        assert wait_until(lambda: d.caller().execute("echo", "up") == "up", 60)

        outcomes = []
        stop = threading.Event()

        def call(i):
            caller, n = d.caller_with_types(), 0
            while not stop.is_set():
                args, started = f"{i}-{n}", time.time()
                try:
                    answer = caller.execute("echo", args)
                    outcomes.append(("answered" if answer == args else f"wrong answer {answer!r}", time.time() - started))
                except ours.DRPCExecutionException as e:
                    outcomes.append((ours.DRPCExceptionType._VALUES_TO_NAMES[e.type], time.time() - started))
                except Exception as e:  # noqa: BLE001 - anything else is what the test must not see
                    outcomes.append((f"{type(e).__name__}: {e}", time.time() - started))
                    caller = d.caller_with_types()
                n += 1
        callers = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in callers:
            t.start()
        time.sleep(2)
        victim = next(iter(worker_processes(topology_id)))
        os.kill(victim, 9)
        # Back: the supervisor restarts the worker, and calls are answered again.
        assert wait_until(lambda: victim not in worker_processes(topology_id)
                          and len(worker_processes(topology_id)) == 2, 60)
        answered_before = sum(1 for o, _ in outcomes if o == "answered")
        assert wait_until(lambda: sum(1 for o, _ in outcomes if o == "answered") > answered_before + 20, 60), \
            outcomes[-10:]
        stop.set()
        for t in callers:
            t.join(timeout + 5)
        kinds = {o for o, _ in outcomes}
        assert kinds <= {"answered", "FAILED_REQUEST", "SERVER_TIMEOUT"}, kinds
        assert max(seconds for _, seconds in outcomes) < timeout + 2
        assert sum(1 for o, _ in outcomes if o == "answered") > 40
    finally:
        cluster.stop()
        d.stop()


def test_storm_local_runs_a_drpc_server_for_a_topology_that_names_none(tmp_path):
    """No drpc.servers: `storm local` serves DRPC itself on the configured ports, as Storm's local mode does."""
    port, invocations, http = free_port(), free_port(), free_port()
    conf = ["-c", f"drpc.port={port}", "-c", f"drpc.invocations.port={invocations}", "-c", f"drpc.http.port={http}"]
    topology = subprocess.Popen([storm_bin(), "local", str(drpc_topology(tmp_path)), "--duration", "60", *conf],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "HOME": str(tmp_path)})
    try:
        banner = topology.stdout.readline() + topology.stdout.readline()
        assert f"DRPC server in this process: execute on port {port}, HTTP on port {http}" in banner, banner
        cli = subprocess.run([storm_bin(), "drpc-client", "-c", 'drpc.servers=["127.0.0.1"]', *conf, "reverse", "local"],
                             capture_output=True, text=True, timeout=30)
        assert cli.stdout.splitlines() == ['reverse "local" => "lacol"'], cli.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/drpc/reverse/web") as r:
            assert r.read().decode() == "bew"
    finally:
        assert terminate(topology) == 0
    # The server stopped with the topology.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


# bolt0 of a linear DRPC chain, in pystorm from PyPI: [request, args] in, [request, word] per word out.
PYSTORM_SPLIT_ARGS = '''
from pystorm import Bolt


class SplitArgs(Bolt):
    auto_ack = False
    auto_anchor = False

    def process(self, tup):
        request, args = tup.values
        words = args.split()
        if "fail" in words:
            self.fail(tup)
            return
        for word in words:
            self.emit([request, word], anchors=[tup])
        self.ack(tup)


SplitArgs().run()
'''


def distinct_words_builder():
    """Storm's reach shape: a pystorm split (two tasks) -> distinct per request (two, by [request, word]) -> count
    per request (two, by request); the answer is how many distinct words the args have."""
    from stormclient import JavaComponent, LinearDRPCTopologyBuilder, ShellBolt
    builder = LinearDRPCTopologyBuilder("distinct")
    builder.add_bolt(ShellBolt(["python3", "split.py"], ["request", "word"]), 2)
    builder.add_bolt(JavaComponent("storm.swift.drpc.DistinctPerRequest", ["request", "value"]), 2) \
        .fields_grouping(["request", "word"])
    builder.add_bolt(JavaComponent("storm.swift.drpc.CountPerRequest", ["request", "count"]), 2) \
        .fields_grouping(["request"])
    return builder


def distinct_args(i):
    """i + 1 distinct words, most of them twice."""
    return " ".join(f"w{j} w{j // 2}" for j in range(i + 1))


def test_a_linear_drpc_chain_with_a_shell_bolt_answers_each_caller_once_on_a_cluster(zookeeper, tmp_path):
    """The Python client's LinearDRPCTopologyBuilder on two workers, so every step's tuples and counts cross
    between them: callers generated from Storm's IDL, 50 at once, HTTP GET and POST, a request with no words, and
    a request the shell bolt fails, failed to its caller at once. ReturnResults answers each request once."""
    from conftest import Cluster
    from test_multilang import resources, submit
    from test_workers import WORKER_CONF, executed, two_supervisors, worker_logs, worker_processes

    d = DRPCProcess("drpc.request.timeout.secs=60")
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF)
    try:
        client, _, _ = two_supervisors(cluster, slots=1)
        topology_id = submit(client, "distinct", distinct_words_builder().create_topology(),
                             resources(split=PYSTORM_SPLIT_ARGS), {
                                 "topology.workers": 2, "drpc.servers": ["127.0.0.1"],
                                 "drpc.invocations.port": d.invocations, "topology.message.timeout.secs": 10})
        assert wait_until(lambda: len(worker_processes(topology_id)) == 2, 60)
        try:
            first = d.caller(timeout_ms=60000).execute("distinct", "a b a c b")
        except Exception as e:  # noqa: BLE001 - the workers' logs say why
            raise AssertionError(worker_logs(cluster, topology_id)[-5000:]) from e
        assert first == "3"

        answers = {}

        def call(i):
            answers[i] = d.caller().execute("distinct", distinct_args(i))
        callers = [threading.Thread(target=call, args=(i,)) for i in range(50)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(30)
        assert answers == {i: str(i + 1) for i in range(50)}

        with urllib.request.urlopen(d.url("/drpc/distinct/x%20y%20x")) as r:
            assert r.read().decode() == "2"
        with urllib.request.urlopen(urllib.request.Request(d.url("/drpc/distinct"), data=b"p q r s",
                                                           method="POST")) as r:
            assert r.read().decode() == "4"
        with urllib.request.urlopen(d.url("/drpc/distinct")) as r:
            assert r.read().decode() == "0"

        assert_failed_at_once(d, "distinct", "a fail b", within=5)

        answered = 1 + 50 + 3
        assert wait_until(lambda: executed(client, "distinct", "bolt4") == answered, 30), \
            executed(client, "distinct", "bolt4")
        errors = client.getTopologyInfoByName("distinct").errors
        assert not errors.get("bolt3"), errors
    finally:
        cluster.stop()
        d.stop()


# A bolt written for Storm's storm.py (the import changed): the whole chain of a linear DRPC function.
STORM_PY_EXCLAIM = '''
from stormclient import storm


class Exclaim(storm.BasicBolt):
    def process(self, tup):
        storm.emit([tup.values[0], tup.values[1] + "!"])


Exclaim().run()
'''


def test_storm_local_runs_a_linear_drpc_flux_file_the_python_client_wrote(tmp_path):
    """`LinearDRPCTopologyBuilder.to_flux` writes the linearDRPC section; storm local runs it with its own DRPC
    server, and a chain of one storm.py bolt answers `storm drpc-client`."""
    from stormclient import LinearDRPCTopologyBuilder, ShellBolt
    builder = LinearDRPCTopologyBuilder("exclaim")
    builder.add_bolt(ShellBolt(["python3", "exclaim.py"], ["id", "result"]), 2)
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "exclaim.py").write_text(STORM_PY_EXCLAIM)
    path = tmp_path / "exclaim.yaml"
    path.write_text(builder.to_flux("exclaim"))
    port, invocations, http = free_port(), free_port(), free_port()
    conf = ["-c", f"drpc.port={port}", "-c", f"drpc.invocations.port={invocations}", "-c", f"drpc.http.port={http}"]
    topology = subprocess.Popen([storm_bin(), "local", str(path), "--duration", "60", *conf],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "HOME": str(tmp_path)})
    try:
        banner = topology.stdout.readline()
        assert f"DRPC server in this process: execute on port {port}" in banner, banner
        cli = subprocess.run([storm_bin(), "drpc-client", "-c", 'drpc.servers=["127.0.0.1"]', *conf,
                              "-f", "exclaim", "hello", "world"], capture_output=True, text=True, timeout=30)
        assert cli.stdout.splitlines() == ['exclaim "hello" => "hello!"', 'exclaim "world" => "world!"'], cli.stderr
    finally:
        terminate(topology)
