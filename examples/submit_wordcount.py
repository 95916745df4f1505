"""Submits a word-count topology of Python shell components to a nimbus: `python3 submit_wordcount.py HOST PORT`.

Its archive is empty for now: the components' scripts arrive with the multilang adapter, when workers run them.
"""

import sys
import time

from stormclient import Nimbus, ShellBolt, ShellSpout, TopologyBuilder, pack_resources

host, port = sys.argv[1], int(sys.argv[2])

builder = TopologyBuilder()
builder.set_spout("sentences", ShellSpout(["python3", "sentences.py"], ["sentence"]), 1)
builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 4).shuffle_grouping("sentences")
builder.set_bolt("count", ShellBolt(["python3", "count.py"], ["word", "count"]), 2).fields_grouping("split", ["word"])

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
