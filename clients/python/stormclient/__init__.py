"""A Python client for a Storm nimbus.

    from stormclient import Nimbus, TopologyBuilder, ShellBolt, ShellSpout, pack_resources

    builder = TopologyBuilder()
    builder.set_spout("sentences", ShellSpout(["python3", "spout.py"], ["sentence"]), 1)
    builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 4).shuffle_grouping("sentences")
    with Nimbus("localhost", 6627) as nimbus:
        nimbus.submit("wordcount", builder.build(), pack_resources("resources/"), {"topology.workers": 2})
        print(nimbus.list())
"""

import importlib

# Loaded when first named: a shell component's interpreter imports only stormclient.multilang (or .storm), and
# need not have thrift, which the client and the topology builder import.
_EXPORTS = {
    "Nimbus": "client", "NimbusError": "client", "TopologyBuilder": "topology", "ShellSpout": "topology",
    "ShellBolt": "topology", "JavaComponent": "topology", "LinearDRPCTopologyBuilder": "topology",
    "pack_resources": "archive",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stormclient' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
