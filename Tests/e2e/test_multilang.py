"""Shell components speaking Storm's multilang protocol: our Python adapter and pystorm from PyPI, in local mode and
in worker processes; children that crash, babble, lie or hang."""

import json
import os
import re
import subprocess
import tempfile
import textwrap

import pytest

from conftest import storm_bin, ttypes, upload, wait_until
from stormclient import JavaComponent, ShellBolt, TopologyBuilder, pack_resources
from test_workers import (expected_counts, executed, two_supervisors, worker_logs, worker_ports,  # noqa: F401
                          workers_cluster)

SPLIT = """
    from stormclient.multilang import BasicBolt

    class Split(BasicBolt):
        def process(self, tup):
            for word in tup.values[0].split():
                self.emit([word])

    Split().run()
"""

# pystorm's Bolt anchors to and acks the current tuple by itself.
COUNT = """
    from collections import Counter
    from pystorm import Bolt

    class Count(Bolt):
        def initialize(self, conf, context):
            self.counts = Counter()

        def process(self, tup):
            word = tup.values[0]
            self.counts[word] += 1
            self.emit([word, self.counts[word]])

    Count().run()
"""


def resources(**scripts):
    """A fresh folder holding each script as NAME.py."""
    folder = tempfile.mkdtemp(prefix="multilang-")
    for name, text in scripts.items():
        with open(os.path.join(folder, name + ".py"), "w") as f:
            f.write(textwrap.dedent(text))
    return folder


def flux_file(yaml, **scripts):
    """A Flux file with the scripts in resources/ beside it (where storm local and storm submit look)."""
    folder = tempfile.mkdtemp(prefix="flux-")
    os.rename(resources(**scripts), os.path.join(folder, "resources"))
    path = os.path.join(folder, "topology.yaml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(yaml))
    return path


def run_local(path, seconds, *args):
    run = subprocess.run([storm_bin(), "local", path, "--duration", str(seconds), *args],
                         capture_output=True, text=True, timeout=seconds + 60)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def final_counts(log_text):
    final = {}
    for word, count in re.findall(r"component=log:\d+ (?:\[\w+\] )?\[(\w+), (\d+)\]", log_text):
        final[word] = max(final.get(word, 0), int(count))
    return final


def test_local_mode_runs_python_bolts_of_our_adapter_and_pystorm_with_exact_counts():
    path = flux_file("""
        name: "python-words"
        spouts:
          - id: "sentences"
            className: "storm.swift.SentenceSpout"
            constructorArgs: [200]
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "split.py"], ["word"]]
            parallelism: 2
          - id: "count"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "count.py"], ["word", "count"]]
            parallelism: 2
          - id: "log"
            className: "org.apache.storm.flux.wrappers.bolts.LogInfoBolt"
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
          - {from: "split", to: "count", grouping: {type: FIELDS, args: ["word"]}}
          - {from: "count", to: "log", grouping: {type: SHUFFLE}}
    """, split=SPLIT, count=COUNT)
    run = run_local(path, 8)
    # 200 sentences: each of the five 40 times, whichever the spout's task starts with.
    expected = expected_counts(200, [0])
    assert f"log executed {sum(expected.values())}" in run.stdout, run.stdout + run.stderr[-3000:]
    assert final_counts(run.stderr) == expected


def word_count(limit):
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"], args=[limit]), 1)
    builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 2).shuffle_grouping("sentences")
    builder.set_bolt("count", ShellBolt(["python3", "count.py"], ["word", "count"]), 2) \
        .fields_grouping("split", ["word"])
    builder.set_bolt("log", JavaComponent("org.apache.storm.flux.wrappers.bolts.LogInfoBolt", []), 1) \
        .shuffle_grouping("count")
    return builder.build()


def submit(client, name, topology, folder, conf):
    location = upload(client, pack_resources(folder))
    client.submitTopology(name, location, json.dumps(conf), topology)
    return client.getTopologySummaryByName(name).id


def test_python_bolts_in_two_workers_count_exactly(workers_cluster):
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    folder = resources(split=SPLIT, count=COUNT)
    topology_id = submit(client, "pywords", word_count(300), folder, {"topology.workers": 2})
    assert wait_until(lambda: len(worker_ports(topology_id)) == 2, 60)
    spout_tasks = [e.executor_info.task_start for e in client.getTopologyInfoByName("pywords").executors
                   if e.component_id == "sentences"]
    expected = expected_counts(300, spout_tasks)
    assert wait_until(lambda: executed(client, "pywords", "log") == sum(expected.values()), 60), \
        worker_logs(workers_cluster, topology_id)[-3000:]
    assert final_counts(worker_logs(workers_cluster, topology_id)) == expected
    # A worker that dies on its own (kill -9, its topology alive): its children go too, and a new worker with new
    # children takes its place.
    port, pid = sorted(worker_ports(topology_id).items())[0]
    children = children_of(pid)
    assert children
    os.kill(pid, 9)
    assert wait_until(lambda: not any(alive(c) for c in children), 30), children
    assert wait_until(lambda: worker_ports(topology_id).get(port) not in (None, pid) and children_of(worker_ports(topology_id)[port]), 60)
    # The children write their pids where the supervisor looks when it cleans up after a worker.
    def recorded():
        return [int(os.path.basename(path))
                for path in __import__("glob").glob(f"{workers_cluster.dir}/supervisor-*/workers/*/pids/*")]
    assert wait_until(lambda: len(recorded()) == 4, 30), recorded()
    pids = recorded()
    client.killTopologyWithOpts("pywords", ttypes.KillOptions(wait_secs=0))
    assert wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 30)


FAILURES = {
    "crash": ("""
        import sys
        from stormclient.multilang import Bolt
        class Crash(Bolt):
            def process(self, tup):
                print("about to fall over", file=sys.stderr, flush=True)
                sys.exit(3)
        Crash().run()
    """, ["exited with status 3", "about to fall over"]),
    "malformed": ("""
        import sys
        from stormclient.multilang import Bolt
        class Babble(Bolt):
            def process(self, tup):
                sys.stdout.write("{this is not json\\nend\\n")
                sys.stdout.flush()
        Babble().run()
    """, ["malformed JSON"]),
    "unknown-ack": ("""
        from stormclient.multilang import Bolt
        class Liar(Bolt):
            def process(self, tup):
                self._send({"command": "ack", "id": "no-such-tuple"})
        Liar().run()
    """, ["acked tuple id no-such-tuple"]),
    "hang": ("""
        import sys, time
        from stormclient.multilang import Bolt
        class Hang(Bolt):
            def process(self, tup):
                print("thinking very hard", file=sys.stderr, flush=True)
                time.sleep(3600)
        Hang().run()
    """, ["said nothing for 3 s", "thinking very hard"]),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_child_is_reported_and_its_worker_restarted(workers_cluster, failure):
    script, expected = FAILURES[failure]
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    folder = resources(bad=script)
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    builder.set_bolt("bad", ShellBolt(["python3", "bad.py"], ["word"]), 1).shuffle_grouping("words")
    topology_id = submit(client, failure, builder.build(), folder,
                         {"topology.workers": 1, "topology.subprocess.timeout.secs": 3})

    def errors():
        info = client.getTopologyInfoByName(failure)
        return [e.error for e in info.errors.get("bad", [])]
    assert wait_until(lambda: errors(), 60), worker_logs(workers_cluster, topology_id)[-3000:]
    for text in expected:
        assert any(text in e for e in errors()), (text, errors())
    # `storm get-errors` shows it too, and the supervisor restarts the worker that died of it.
    out = workers_cluster.cli("get-errors", failure)
    assert expected[0] in out.stdout, out
    def supervisor_logs():
        return workers_cluster.supervisors["a"].log_text() + workers_cluster.supervisors["b"].log_text()

    def launched():
        return [int(p) for p in re.findall(r"launched worker \S+ \(pid (\d+)\)", supervisor_logs())]
    assert wait_until(lambda: "ended with exit status 20" in supervisor_logs(), 30), supervisor_logs()[-3000:]
    # A new worker process, and the old one gone...
    assert wait_until(lambda: len(set(launched())) >= 2, 60), supervisor_logs()[-3000:]
    first = launched()[0]
    assert wait_until(lambda: not alive(first), 10)

    # ...with its child: every bad.py left is the child of a live worker of this topology.
    def strays():
        workers = set(worker_ports(topology_id).values())
        return [pid for pid, parent in processes_running("bad.py") if parent not in workers]
    assert wait_until(lambda: not strays(), 15), strays()


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
        except (OSError, ValueError):
            continue
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_running(script):
    """(pid, parent pid) of every live process whose command line names `script`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if script.encode() not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            out.append((int(entry), int(fields[1])))
    return out


def test_storm_submit_packs_the_resources_and_the_topology_runs(workers_cluster):
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    path = flux_file("""
        name: "submitted"
        config:
          topology.workers: 2
        spouts:
          - id: "sentences"
            className: "storm.swift.SentenceSpout"
            constructorArgs: [100]
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "split.py"], ["word"]]
            parallelism: 2
          - id: "count"
            className: "org.apache.storm.testing.TestWordCounter"
            parallelism: 2
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
          - {from: "split", to: "count", grouping: {type: FIELDS, args: ["word"]}}
    """, split=SPLIT)
    os.makedirs(os.path.join(os.path.dirname(path), "resources", "lib"))
    with open(os.path.join(os.path.dirname(path), "resources", "lib", "data.txt"), "w") as f:
        f.write("shipped along\n")
    missing = workers_cluster.cli("submit", path, "--resources", "/no/such/folder")
    assert missing.returncode != 0 and missing.stderr == "storm: /no/such/folder: no such resources folder\n"
    out = workers_cluster.cli("submit", path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Submitted topology submitted as submitted-"), out.stdout
    topology_id = client.getTopologySummaryByName("submitted").id
    assert wait_until(lambda: len(worker_ports(topology_id)) == 2, 60)
    words = sum(expected_counts(100, [0]).values())  # 100 sentences: each of the five 20 times
    assert wait_until(lambda: executed(client, "submitted", "count") == words, 60), \
        worker_logs(workers_cluster, topology_id)[-3000:]
    shipped = __import__("glob").glob(f"{workers_cluster.dir}/supervisor-*/supervisor/stormdist/{topology_id}/resources/lib/data.txt")
    assert shipped, "the resources folder did not reach the supervisors"

    # A file nimbus would refuse is refused before anything is uploaded, in one line naming the file and line.
    with open(path, "a") as f:
        f.write("  - {from: \"nobody\", to: \"count\", grouping: {type: SHUFFLE}}\n")
    out = workers_cluster.cli("submit", path)
    assert out.returncode != 0
    assert out.stderr.startswith(f"storm: {path}:") and "unknown component 'nobody'" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_storm_jar_runs_a_flux_file_with_the_archive_resources_storms_way():
    archive = os.path.join(tempfile.mkdtemp(prefix="jar-"), "topology.jar")
    with open(archive, "wb") as f:
        f.write(pack_resources(resources(split=SPLIT)))
    # No resources/ beside this file: the ones in the archive must be what runs.
    path = flux_file("""
        name: "${name}"
        spouts:
          - {id: "sentences", className: "storm.swift.SentenceSpout", constructorArgs: [50]}
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "split.py"], ["word"]]
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
    """)
    properties = os.path.join(os.path.dirname(path), "dev.properties")
    with open(properties, "w") as f:
        f.write("name=from-filter\n")
    run = subprocess.run([storm_bin(), "jar", archive, "org.apache.storm.flux.Flux", "--local", "--local-ttl", "5",
                          "--filter", properties, path],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "running from-filter-" in run.stdout
    assert "split executed 50" in run.stdout, run.stdout

    other = subprocess.run([storm_bin(), "jar", archive, "com.example.Main", "--remote", path],
                           capture_output=True, text=True, timeout=30)
    assert other.returncode != 0 and "archives run Flux topologies only" in other.stderr
    absent = subprocess.run([storm_bin(), "jar", "/no/such.jar", "org.apache.storm.flux.Flux", "--local", path],
                            capture_output=True, text=True, timeout=30)
    assert absent.returncode != 0 and absent.stderr == "storm: /no/such.jar: no such archive\n"


POLYGLOT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "polyglot")


def test_node_python_and_ruby_components_in_one_topology_count_exactly_locally_and_on_a_cluster(workers_cluster):
    # Local mode: a Node.js spout, a Python split, a Ruby count, each through its own adapter.
    run = subprocess.run([storm_bin(), "local", os.path.join(POLYGLOT, "polyglot.yaml"), "--duration", "8",
                          "-c", "polyglot.sentences=500"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = expected_counts(500, [0])
    assert f"log executed {sum(expected.values())}" in run.stdout, run.stdout + run.stderr[-2000:]
    assert final_counts(run.stderr) == expected

    # The same file submitted to a cluster (its limit set in its conf), in two workers.
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    folder = tempfile.mkdtemp(prefix="polyglot-")
    subprocess.run(["cp", "-r", os.path.join(POLYGLOT, "resources"), folder], check=True)
    with open(os.path.join(POLYGLOT, "polyglot.yaml")) as f:
        text = f.read().replace("  topology.workers: 2\n", "  topology.workers: 2\n  polyglot.sentences: 300\n")
    with open(os.path.join(folder, "polyglot.yaml"), "w") as f:
        f.write(text)
    out = workers_cluster.cli("submit", os.path.join(folder, "polyglot.yaml"))
    assert out.returncode == 0, out.stderr
    topology_id = client.getTopologySummaryByName("polyglot").id
    expected = expected_counts(300, [0])
    assert wait_until(lambda: executed(client, "polyglot", "log") == sum(expected.values()), 90), \
        worker_logs(workers_cluster, topology_id)[-3000:]
    assert final_counts(worker_logs(workers_cluster, topology_id)) == expected


def test_the_python_builder_writes_flux_that_storm_local_runs():
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"], args=[100]), 1)
    builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 2).shuffle_grouping("sentences")
    builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), 2) \
        .fields_grouping("split", ["word"])
    builder.set_bolt("everything", JavaComponent("org.apache.storm.perf.bolt.DevNullBolt", []), 1) \
        .all_grouping("count")
    path = flux_file(builder.to_flux("built", {"topology.workers": 1}), split=SPLIT)
    run = run_local(path, 6)
    words = sum(expected_counts(100, [0]).values())
    assert f"count executed {words}" in run.stdout and f"everything executed {words}" in run.stdout, run.stdout


PYSTORM_SPOUT = """
    from pystorm import Spout

    SENTENCES = ["the cow jumped over the moon", "an apple a day keeps the doctor away", "four score and seven years ago",
                 "snow white and the seven dwarfs", "i am at two with nature"]

    class Sentences(Spout):
        def initialize(self, conf, context):
            self.sent = 0

        def next_tuple(self):
            if self.sent < 200:
                self.emit([SENTENCES[self.sent % 5]], tup_id=self.sent)
                self.sent += 1

    Sentences().run()
"""

SPLIT_SKIPPING_TICKS = """
    from stormclient.multilang import BasicBolt

    class Split(BasicBolt):
        def process(self, tup):
            if tup.is_tick:
                return
            for word in tup.values[0].split():
                self.emit([word])

    Split().run()
"""

# pystorm's BatchingBolt groups what arrives between tick tuples and emits one count per word and batch.
BATCHES = """
    from pystorm.bolt import BatchingBolt

    class Batches(BatchingBolt):
        ticks_between_batches = 1

        def group_key(self, tup):
            return tup.values[0]

        def process_batch(self, key, tups):
            self.emit([key, len(tups)])

    Batches().run()
"""


def test_a_pystorm_spout_and_batching_bolt_with_tick_tuples():
    path = flux_file("""
        name: "batches"
        config:
          topology.tick.tuple.freq.secs: 1
        spouts:
          - id: "sentences"
            className: "org.apache.storm.flux.wrappers.spouts.FluxShellSpout"
            constructorArgs: [["python3", "sentences.py"], ["sentence"]]
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "split.py"], ["word"]]
          - id: "batches"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "batches.py"], ["word", "count"]]
            parallelism: 2
          - id: "log"
            className: "org.apache.storm.flux.wrappers.bolts.LogInfoBolt"
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
          - {from: "split", to: "batches", grouping: {type: FIELDS, args: ["word"]}}
          - {from: "batches", to: "log", grouping: {type: SHUFFLE}}
    """, sentences=PYSTORM_SPOUT, split=SPLIT_SKIPPING_TICKS, batches=BATCHES)
    run = run_local(path, 8)
    totals = {}
    for word, count in re.findall(r"component=log:\d+ (?:\[\w+\] )?\[(\w+), (\d+)\]", run.stderr):
        totals[word] = totals.get(word, 0) + int(count)
    # Batches add up to the exact counts, and they were batches: fewer log lines than words.
    expected = expected_counts(200, [0])
    assert totals == expected, run.stderr[-2000:]
    assert len(re.findall(r"component=log:\d+ (?:\[\w+\] )?\[(\w+), (\d+)\]", run.stderr)) < sum(expected.values())


# Written the way components for Storm's storm.py are, with only the import changed.
STORM_PY_SPOUT = """
    from stormclient import storm

    class Sentences(storm.Spout):
        def initialize(self, conf, context):
            self.sent = 0
            self.acked = 0

        def nextTuple(self):
            if self.sent < 100:
                ids = storm.emit(["the cow jumped over the moon"], id=self.sent)
                assert isinstance(ids, list) and len(ids) == 1, ids
                self.sent += 1

        def ack(self, id):
            self.acked += 1
            if self.acked == 100:
                storm.logWarn("all 100 sentences acked")

    Sentences().run()
"""

STORM_PY_SPLIT = """
    from stormclient import storm

    class SplitSentenceBolt(storm.BasicBolt):
        def process(self, tup):
            for word in tup.values[0].split(" "):
                storm.emit([word])

    SplitSentenceBolt().run()
"""


def test_components_written_for_storms_storm_py_run_with_the_import_changed():
    path = flux_file("""
        name: "stormpy"
        spouts:
          - id: "sentences"
            className: "org.apache.storm.flux.wrappers.spouts.FluxShellSpout"
            constructorArgs: [["python3", "spout.py"], ["sentence"]]
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "split.py"], ["word"]]
          - id: "count"
            className: "org.apache.storm.testing.TestWordCounter"
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
          - {from: "split", to: "count", grouping: {type: FIELDS, args: ["word"]}}
    """, spout=STORM_PY_SPOUT, split=STORM_PY_SPLIT)
    run = run_local(path, 5)
    assert "count executed 600" in run.stdout, run.stdout + run.stderr[-2000:]
    assert "all 100 sentences acked" in run.stderr
    # Each sentence a tree (sentence, words), acked through the storm.py-style split and the Swift counter.
    assert "sentences: 100 tuple trees acked" in run.stdout and "0 failed" in run.stdout, run.stdout


# pystorm builds a named tuple type for each source stream from the context's source->stream->fields, so
# `tup.values.word` works only when the worker sends it; the rest of the context is read by hand.
CONTEXT_READER = """
    from pystorm import Bolt

    class ContextReader(Bolt):
        def initialize(self, conf, context):
            self.told = False

        def process(self, tup):
            if not self.told:
                self.told = True
                ctx = self.context
                targets = ctx["stream->target->grouping"]["default"]
                source = ctx["source->stream->grouping"]["split"]["default"]
                self.emit(["context", "streams=%s targets=%s source=%s:%s fields=%s" % (
                    ",".join(sorted(ctx["streams"])),
                    ",".join("%s:%s" % (target, g["type"]) for target, g in sorted(targets.items())),
                    source["type"], ",".join(source["fields"]), ",".join(ctx["source->stream->fields"]["split"]["default"]))])
            self.emit(["word", tup.values.word])

    ContextReader().run()
"""


def test_a_pystorm_bolt_reads_its_streams_groupings_and_source_fields_from_the_context():
    path = flux_file("""
        name: "context"
        spouts:
          - {id: "sentences", className: "storm.swift.SentenceSpout", constructorArgs: [20]}
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "split.py"], ["word"]]
          - id: "reader"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs: [["python3", "reader.py"], ["key", "value"]]
          - {id: "log", className: "org.apache.storm.flux.wrappers.bolts.LogInfoBolt"}
          - {id: "discard", className: "org.apache.storm.perf.bolt.DevNullBolt"}
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
          - {from: "split", to: "reader", grouping: {type: FIELDS, args: ["word"]}}
          - {from: "reader", to: "log", grouping: {type: GLOBAL}}
          - {from: "reader", to: "discard", grouping: {type: LOCAL_OR_SHUFFLE}}
    """, split=SPLIT, reader=CONTEXT_READER)
    run = run_local(path, 5)
    words = sum(expected_counts(20, [0]).values())
    assert f"reader executed {words}" in run.stdout, run.stdout + run.stderr[-3000:]
    told = re.findall(r"component=log:\d+ (?:\[\w+\] )?\[context, (.*)\]", run.stderr)
    # A global grouping is a fields grouping on no fields, as Storm describes it.
    assert told == ["streams=default targets=discard:LOCAL_OR_SHUFFLE,log:FIELDS source=FIELDS:word fields=word"], \
        run.stderr[-3000:]
    named = re.findall(r"component=log:\d+ (?:\[\w+\] )?\[word, (\w+)\]", run.stderr)
    assert len(named) == words


REPORTER = """
    from stormclient.multilang import Bolt
    class Reporter(Bolt):
        def process(self, tup):
            self._send({"command": "error", "msg": "bad word " + tup.values[0]})
            self.ack(tup)
    Reporter().run()
"""


def test_a_shell_bolts_errors_reach_the_topology_throttled_per_interval(workers_cluster):
    """Storm's multilang `error` command: each one is the component's error in getTopologyInfo and `storm
    get-errors`, at most topology.max.error.report.per.interval of them per topology.error.throttle.interval.secs
    (the rest are only logged); the bolt keeps running."""
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    folder = resources(reporter=REPORTER)
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    builder.set_bolt("reporter", ShellBolt(["python3", "reporter.py"], []), 1).shuffle_grouping("words")
    submit(client, "reports", builder.build(), folder,
           {"topology.workers": 1, "topology.max.error.report.per.interval": 3, "topology.error.throttle.interval.secs": 60})

    def errors():
        return [e.error for e in client.getTopologyInfoByName("reports").errors.get("reporter", [])]
    assert wait_until(lambda: len(errors()) == 3, 60), (errors(), worker_logs(workers_cluster, client.getTopologySummaryByName("reports").id)[-3000:])
    assert all(e.startswith("bad word ") for e in errors()), errors()
    # The bolt reports ten a second; within the interval no more than three are kept.
    seen = executed(client, "reports", "reporter")
    assert wait_until(lambda: executed(client, "reports", "reporter") > seen + 30, 30)
    assert len(errors()) == 3, errors()
    out = workers_cluster.cli("get-errors", "reports")
    assert "bad word " in out.stdout, out


def test_the_children_of_a_killed_worker_are_cleaned_up_even_when_they_hang(workers_cluster):
    """A child stuck in its own work never reads the end of its stdin: when its worker is killed (kill -9, the
    topology alive), the supervisor kills the children the worker recorded."""
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    folder = resources(bad=FAILURES["hang"][0])
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    builder.set_bolt("bad", ShellBolt(["python3", "bad.py"], ["word"]), 1).shuffle_grouping("words")
    topology_id = submit(client, "stuck", builder.build(), folder,
                         {"topology.workers": 1, "topology.subprocess.timeout.secs": 600})
    assert wait_until(lambda: "thinking very hard" in worker_logs(workers_cluster, topology_id), 60)
    [(port, pid)] = worker_ports(topology_id).items()
    [child] = children_of(pid)
    os.kill(pid, 9)
    assert wait_until(lambda: not alive(child), 30), "the hung child outlived its worker"
    # The supervisor logs the kill after the child is gone: wait for the line too.
    supervisor_logs = lambda: workers_cluster.supervisors["a"].log_text() + workers_cluster.supervisors["b"].log_text()  # noqa: E731
    assert wait_until(lambda: f"killed shell process {child}" in supervisor_logs(), 10), supervisor_logs()[-2000:]
