"""Connects to nimbus over Thrift (framed transport, binary protocol) and wraps the calls a user makes."""

import json

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from storm_thrift import Nimbus as NimbusService
from stormclient.sasl import digest_transport
from storm_thrift.ttypes import GetInfoOptions, KillOptions, NumErrorsChoice, RebalanceOptions, SubmitOptions, \
    TopologyInitialStatus

CHUNK_BYTES = 256 * 1024


class NimbusError(Exception):
    """A call nimbus refused: carries the Thrift exception as `cause`."""

    def __init__(self, cause):
        super().__init__(getattr(cause, "msg", None) or getattr(cause, "message", None) or str(cause))
        self.cause = cause


class Nimbus:
    """A connection to one nimbus. `client` is the raw Thrift client for every other method."""

    def __init__(self, host="localhost", port=6627, timeout_ms=30000, user=None, password=None):
        """With `user` and `password`, authenticates with SASL DIGEST-MD5 (a cluster whose storm.thrift.transport
        is Storm's DigestSaslTransportPlugin; needs PyPI's thrift_sasl and pure-sasl)."""
        socket = TSocket.TSocket(host, port)
        socket.setTimeout(timeout_ms)
        if user is not None:
            self.transport = digest_transport(socket, host, user, password)
        else:
            self.transport = TTransport.TFramedTransport(socket)
        self.client = NimbusService.Client(TBinaryProtocol.TBinaryProtocol(self.transport))
        self.transport.open()

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def upload(self, data):
        """Uploads a topology archive (bytes) in chunks and returns the location to submit with."""
        location = self.client.beginFileUpload()
        for offset in range(0, len(data), CHUNK_BYTES):
            self.client.uploadChunk(location, data[offset:offset + CHUNK_BYTES])
        self.client.finishFileUpload(location)
        return location

    def submit(self, name, topology, archive=b"", conf=None, active=True):
        """Uploads `archive` and submits `topology` under `name`; returns the topology id."""
        location = self.upload(archive)
        status = TopologyInitialStatus.ACTIVE if active else TopologyInitialStatus.INACTIVE
        self.client.submitTopologyWithOpts(name, location, json.dumps(conf or {}), topology, SubmitOptions(status))
        return self.client.getTopologySummaryByName(name).id

    def list(self):
        return self.client.getTopologySummaries()

    def info(self, name, errors=NumErrorsChoice.ALL):
        return self.client.getTopologyInfoByNameWithOpts(name, GetInfoOptions(errors))

    def conf(self, name):
        return json.loads(self.client.getTopologyConf(self.client.getTopologySummaryByName(name).id))

    def kill(self, name, wait_secs=None):
        self.client.killTopologyWithOpts(name, KillOptions(wait_secs))

    def activate(self, name):
        self.client.activate(name)

    def deactivate(self, name):
        self.client.deactivate(name)

    def rebalance(self, name, wait_secs=None, workers=None, executors=None):
        self.client.rebalance(name, RebalanceOptions(wait_secs=wait_secs, num_workers=workers, num_executors=executors))
