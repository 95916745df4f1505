"""Metrics an operator reaches without a shell on the node: each supervisor's /metrics serves its workers' built-in
metrics (Storm's names, as Prometheus families), what Swift components registered and what shell components sent
with `metrics`; nimbus serves its own. Debian's real Prometheus scrapes a running cluster and answers PromQL."""

import glob
import json
import os
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Cluster, free_port, storm_bin, ttypes, upload, wait_until
from stormclient import JavaComponent, ShellBolt, TopologyBuilder, pack_resources
from test_multilang import resources
from test_workers import WORKER_CONF, worker_logs

# pystorm's Bolt, from PyPI: its report_metric sends Storm's `metrics` command.
SPLIT = """
    from pystorm import Bolt

    class Split(Bolt):
        def initialize(self, conf, context):
            self.misbehaved = False

        def process(self, tup):
            words = tup.values[0].split()
            for word in words:
                self.emit([word])
            self.report_metric("sentences_split", 1)
            self.report_metric("words_per_sentence", float(len(words)))
            if not self.misbehaved:
                self.misbehaved = True
                self.report_metric("__reserved", 1)
                self.report_metric("bad_params", "many")

    Split().run()
"""


@pytest.fixture
def metrics_cluster(zookeeper):
    c = Cluster(zookeeper, nimbuses=1, extra_conf=[*WORKER_CONF, "-c", "worker.metrics.export.secs=1"])
    yield c
    c.stop()


class Prometheus:
    """Debian's Prometheus, scraping `targets` every second, its data in a fresh folder."""

    def __init__(self, targets):
        self.dir = tempfile.mkdtemp(prefix="prometheus-e2e-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n")
            for job, target in targets.items():
                f.write(f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_until(lambda: self.get("/-/ready")[0] == 200, 30), self.log_text()

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def query(self, promql):
        """The instant vector `promql` evaluates to: a list of (labels, value)."""
        code, body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert code == 200, body
        return [(r["metric"], float(r["value"][1])) for r in json.loads(body)["data"]["result"]]

    def value(self, promql):
        result = self.query(promql)
        return result[0][1] if len(result) == 1 else None

    def targets_up(self):
        body = json.loads(self.get("/api/v1/targets")[1])
        return {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}

    def log_text(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()[-3000:]

    def stop(self):
        self.process.kill()
        self.process.wait()


def metered_topology(sink):
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[200]))
    builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 2).shuffle_grouping("sentences")
    builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), 2) \
        .fields_grouping("split", ["word"])
    builder.set_bolt("record", JavaComponent("storm.swift.testing.RecordingSink", [], args=[sink]), 1) \
        .shuffle_grouping("count")
    return builder.build()


def test_prometheus_scrapes_builtin_custom_and_shell_metrics_of_a_running_topology(metrics_cluster):
    cluster = metrics_cluster
    supervisor = cluster.add_supervisor("a", [free_port(), free_port()])
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    nimbus = next(iter(cluster.nimbuses.values()))
    prometheus = Prometheus({"storm-supervisors": supervisor.metrics_port, "storm-nimbus": nimbus.metrics_port})
    try:
        work = tempfile.mkdtemp(prefix="metered-")
        csv_dir = os.path.join(work, "csv")
        conf = {
            "topology.workers": 2,
            "topology.metrics.reporters": [
                {"class": "org.apache.storm.metrics2.reporters.CsvStormReporter", "report.period": 1,
                 "report.period.units": "SECONDS", "csv.log.dir": csv_dir,
                 "filter": {"class": "org.apache.storm.metrics2.filters.RegexFilter", "expression": "__emit-count"}},
                {"class": "org.apache.storm.metrics2.reporters.ConsoleStormReporter", "report.period": 2,
                 "filter": {"class": "org.apache.storm.metrics2.filters.RegexFilter", "expression": "tuples-recorded"}},
            ],
        }
        location = upload(client, pack_resources(resources(split=SPLIT)))
        client.submitTopology("metered", location, json.dumps(conf), metered_topology(os.path.join(work, "sink")))
        topology_id = client.getTopologySummaryByName("metered").id

        # Storm's __emit-count of the spout, as a rate over the last seconds.
        emit_rate = 'sum(rate(storm_emit_count_total{topology="metered",component="sentences",stream="default"}[10s]))'
        assert wait_until(lambda: (prometheus.value(emit_rate) or 0) > 0, 90), \
            (prometheus.targets_up(), prometheus.log_text(), worker_logs(cluster, topology_id)[-3000:])
        # Executed counts by input, labelled the way a dashboard selects them.
        executed = prometheus.query('storm_execute_count_total{topology="metered",component="count"}')
        assert len({labels["task"] for labels, _ in executed}) == 2, executed
        assert all(labels["source_component"] == "split" and labels["source_stream"] == "default"
                   and labels["topology_id"] == topology_id and labels["host"] == "127.0.0.1" for labels, _ in executed)
        # A Swift component's own counter, and the shell component's metrics sent through pystorm.
        assert wait_until(lambda: (prometheus.value('sum(tuples_recorded_total{topology="metered"})') or 0) > 0, 30)
        assert wait_until(lambda: (prometheus.value('sum(sentences_split_total{component="split"})') or 0) > 0, 30)
        mean = prometheus.value('sum(words_per_sentence_sum{topology="metered"}) / '
                                'sum(words_per_sentence_count{topology="metered"})')
        assert mean is not None and 6 <= mean <= 8, mean
        # The worker's own metrics, and the daemons'.
        workers = prometheus.query('process_resident_memory_bytes{topology="metered"}')
        assert len(workers) == 2 and all(v > 1_000_000 for _, v in workers), workers
        assert prometheus.value('storm_supervisor_slots{state="running"}') == 2
        assert prometheus.value("storm_cluster_topologies") == 1
        assert prometheus.value("storm_nimbus_leader") == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{supervisor.metrics_port}/metrics") as r:
            assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"

        # Metrics the shell component may not make: refused once each, in one line, in the topology's errors.
        def errors():
            info = client.getTopologyInfo(topology_id)
            return [e.error for e in info.errors.get("split", [])]
        assert wait_until(lambda: any("starts with '__'" in e for e in errors()), 30), errors()
        assert any("metrics 'bad_params': params must be" in e for e in errors()), errors()
        assert all("\n" not in e for e in errors())
        assert prometheus.query('{__name__=~".*reserved.*|.*bad_params.*"}') == []

        # Storm's reporters: the Csv one writes a file per metric the filter lets through, a row a second.
        assert wait_until(lambda: glob.glob(os.path.join(csv_dir, "*__emit-count-default.csv")), 30), os.listdir(work)
        emitted = glob.glob(os.path.join(csv_dir, f"storm.topology.{topology_id}.127_0_0_1.sentences.*-__emit-count-default.csv"))
        assert len(emitted) == 1, os.listdir(csv_dir)
        assert wait_until(lambda: len(open(emitted[0]).read().splitlines()) >= 3, 20)
        rows = open(emitted[0]).read().splitlines()
        assert rows[0] == "t,count" and int(rows[-1].split(",")[1]) >= int(rows[1].split(",")[1]) > 0, rows
        assert not [n for n in os.listdir(csv_dir) if "__emit-count" not in n]
        # The Console one prints Dropwizard's layout into the worker's log.
        assert wait_until(lambda: "-tuples-recorded\n             count = " in worker_logs(cluster, topology_id), 30)
    finally:
        prometheus.stop()


def test_bad_reporters_and_a_taken_metrics_port_are_refused_in_one_line(metrics_cluster):
    client = metrics_cluster.client()
    for reporters, message in [
        ([{"class": "org.apache.storm.metrics2.reporters.GraphiteStormReporter"}],
         "config key 'topology.metrics.reporters' entry 1: reporter class "
         "'org.apache.storm.metrics2.reporters.GraphiteStormReporter' is not offered here"),
        ([{"class": "org.apache.storm.metrics2.reporters.CsvStormReporter", "report.period": 0}],
         "entry 1: 'report.period' must be a positive number, not 0"),
        ("console", "config key 'topology.metrics.reporters' must be a list of maps"),
    ]:
        with pytest.raises(ttypes.InvalidTopologyException) as refused:
            client.submitTopology("badreporter", upload(client), json.dumps({"topology.metrics.reporters": reporters}),
                                  metered_topology("/dev/null"))
        assert message in refused.value.msg and "\n" not in refused.value.msg, refused.value.msg
    assert client.getClusterInfo().topologies == []

    nimbus = next(iter(metrics_cluster.nimbuses.values()))
    result = subprocess.run(
        [storm_bin(), "nimbus", "-c", "storm.cluster.state.store=memory", "-c", f"nimbus.thrift.port={free_port()}",
         "-c", f"nimbus.metrics.port={nimbus.metrics_port}", "-c", f"storm.local.dir={tempfile.mkdtemp()}"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"storm: nimbus cannot listen on nimbus.metrics.port {nimbus.metrics_port}: "), result.stderr[-2000:]
