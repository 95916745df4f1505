"""A Python client for a Storm nimbus.

    from stormclient import Nimbus, TopologyBuilder, ShellBolt, ShellSpout, pack_resources

    builder = TopologyBuilder()
    builder.set_spout("sentences", ShellSpout(["python3", "spout.py"], ["sentence"]), 1)
    builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 4).shuffle_grouping("sentences")
    with Nimbus("localhost", 6627) as nimbus:
        nimbus.submit("wordcount", builder.build(), pack_resources("resources/"), {"topology.workers": 2})
        print(nimbus.list())
"""

from .client import Nimbus, NimbusError
from .topology import ShellBolt, ShellSpout, JavaComponent, LinearDRPCTopologyBuilder, TopologyBuilder
from .archive import pack_resources

__all__ = ["Nimbus", "NimbusError", "TopologyBuilder", "ShellSpout", "ShellBolt", "JavaComponent",
           "LinearDRPCTopologyBuilder", "pack_resources"]
