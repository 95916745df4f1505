"""Submits a word count of built-in Swift components to a nimbus: `python3 submit_wordcount.py HOST PORT`.

Storm's five sentences, split on spaces, counted per word, in two workers; the counts are logged by
LogInfoBolt in the workers' logs (storm.log.dir/workers-artifacts/<id>/<port>/worker.log). The components are
named by class, as a Java client names Storm's; `storm kill wordcount` stops it.
"""

import sys
import time

from stormclient import JavaComponent, Nimbus, TopologyBuilder, pack_resources

host, port = sys.argv[1], int(sys.argv[2])

builder = TopologyBuilder()
builder.set_spout("sentences", JavaComponent("org.apache.storm.starter.spout.RandomSentenceSpout", ["word"]), 1)
builder.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), 2) \
    .shuffle_grouping("sentences")
builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), 2) \
    .fields_grouping("split", ["word"])
builder.set_bolt("log", JavaComponent("org.apache.storm.flux.wrappers.bolts.LogInfoBolt", []), 1) \
    .shuffle_grouping("count")

deadline = time.time() + 30
while True:
    try:
        nimbus = Nimbus(host, port)
        break
    except Exception:
        if time.time() > deadline:
            raise
        time.sleep(0.2)

with nimbus:
    topology_id = nimbus.submit("wordcount", builder.build(), pack_resources(None), {"topology.workers": 2})
    print(f"submitted {topology_id}")
