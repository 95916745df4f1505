"""SASL DIGEST-MD5 for Thrift, as a cluster with Storm's DigestSaslTransportPlugin asks: PyPI's thrift_sasl runs
Thrift's SASL negotiation and pure-sasl the mechanism (`pip install thrift_sasl pure-sasl`)."""

SERVICE = "storm_thrift_server"
MECHANISM = "DIGEST-MD5"


class PureSaslClient:
    """The SASL client interface thrift_sasl calls, over pure-sasl's SASLClient."""

    def __init__(self, host, user, password, service=SERVICE):
        from puresasl.client import SASLClient
        self._sasl = SASLClient(host, service, mechanism=MECHANISM, username=user, password=password)

    def start(self, mechanism):
        return True, mechanism, self._sasl.process() or b""

    def step(self, challenge):
        return True, self._sasl.process(challenge) or b""

    def encode(self, data):
        return True, self._sasl.wrap(data)

    def decode(self, data):
        return True, self._sasl.unwrap(data)

    def getError(self):
        return self._sasl.getError()


def digest_transport(socket, host, user, password):
    """A transport over `socket` that authenticates as `user` when opened, then carries framed Thrift."""
    try:
        import thrift_sasl
    except ImportError as e:
        raise ImportError("authenticating to nimbus needs PyPI's thrift_sasl and pure-sasl: "
                          "pip install thrift_sasl pure-sasl") from e
    return thrift_sasl.TSaslClientTransport(lambda: PureSaslClient(host, user, password), MECHANISM, socket)
