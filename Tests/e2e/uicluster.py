"""What the UI's tests share: a `storm ui` process and a cluster running a topology whose last bolt is saturated."""

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import Cluster, free_port, storm_bin, terminate, upload, wait_until
from stormclient import JavaComponent, TopologyBuilder
from test_workers import WORKER_CONF, worker_ports


class UI:
    """A `storm ui` process on a free port."""

    def __init__(self, cluster, *extra):
        self.port = free_port()
        self.log_path = f"{cluster.dir}/ui-{self.port}.log"
        self.process = subprocess.Popen([storm_bin(), "ui", *cluster.conf, "-c", f"ui.port={self.port}", *extra],
                                        stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        assert wait_until(lambda: self.request("GET", "/index.html")[0] == 200, 30), self.log()

    def request(self, method, path, body=None):
        data = None if body is None else body.encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return None, str(e)

    def get(self, path):
        status, text = self.request("GET", path)
        assert status == 200, f"GET {path}: {status} {text}"
        return json.loads(text)

    def post(self, path, body=None):
        status, text = self.request("POST", path, body)
        assert status == 200, f"POST {path}: {status} {text}"
        return json.loads(text)

    def error(self, method, path, body=None):
        """An error answer: its status and message, after checking it has Storm's error shape."""
        status, text = self.request(method, path, body)
        answer = json.loads(text)
        assert set(answer) == {"error", "errorMessage"}, answer
        assert answer["error"].startswith(str(status)), answer
        return status, answer["errorMessage"]

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        return terminate(self.process)


class LogViewer:
    """A `storm logviewer` process serving a supervisor's logs on a free port."""

    def __init__(self, log_dir):
        self.port = free_port()
        self.process = subprocess.Popen([storm_bin(), "logviewer", "-c", f"storm.log.dir={log_dir}",
                                         "-c", f"logviewer.port={self.port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert wait_until(lambda: self.listening(), 30)

    def listening(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/listLogs", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        return terminate(self.process)


def saturated_topology():
    """Acked sentences, split into words, into a bolt that sleeps 1 ms a word: it is the bottleneck."""
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"]), 1)
    b.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), 2) \
        .shuffle_grouping("sentences")
    b.set_bolt("slow", JavaComponent("storm.swift.testing.SlowBolt", ["value"], args=[1000]), 1) \
        .shuffle_grouping("split")
    return b.build()


@pytest.fixture
def running(zookeeper):
    """One nimbus, one supervisor with two slots and its log viewer, the saturated topology running in one worker,
    and a UI whose seeds also name a nimbus that is not there."""
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF)
    ui = viewer = None
    try:
        cluster.add_supervisor("a", [free_port(), free_port()])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        conf = {"topology.workers": 1, "topology.max.spout.pending": 50, "topology.message.timeout.secs": 60}
        client.submitTopology("saturated", upload(client), json.dumps(conf), saturated_topology())
        topology_id = client.getTopologySummaryByName("saturated").id
        assert wait_until(lambda: len(worker_ports(topology_id)) == 1, 60)
        dead_seed = free_port()
        seeds = f'nimbus.seeds=["127.0.0.1:{cluster.nimbus_ports[0]}","127.0.0.1:{dead_seed}"]'
        viewer = LogViewer(f"{cluster.dir}/supervisor-a/logs")
        ui = UI(cluster, "-c", seeds, "-c", f"logviewer.port={viewer.port}")
        yield cluster, client, ui, topology_id, dead_seed
    finally:
        if ui:
            ui.stop()
        if viewer:
            viewer.stop()
        cluster.stop()
