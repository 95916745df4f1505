"""Storm's storm.py interface (module functions emit/ack/fail/log and the Bolt, BasicBolt and Spout classes) over
stormclient.multilang, so components written for Storm's own adapter run with `from stormclient import storm`."""

import traceback

from . import multilang as _multilang

Tuple = _multilang.Tuple
ANCHOR_TUPLE = None
_current = None


def emit(tup, stream=None, anchors=None, directTask=None, id=None):
    """Emits from the running bolt or spout; returns the task ids it went to (None for a direct emit)."""
    if isinstance(_current, _multilang.Spout):
        return _current.emit(tup, id=id, stream=stream, direct_task=directTask, need_task_ids=directTask is None)
    if ANCHOR_TUPLE is not None:
        anchors = [ANCHOR_TUPLE]
    return _current.emit(tup, stream=stream, anchors=anchors or [], direct_task=directTask,
                         need_task_ids=directTask is None)


def emitDirect(task, *args, **kwargs):
    kwargs["directTask"] = task
    emit(*args, **kwargs)


def ack(tup):
    _current.ack(tup)


def fail(tup):
    _current.fail(tup)


def reportError(msg):
    _current.report_error(msg)


def log(msg, level=2):
    _current.log(msg, level)


def logTrace(msg):
    log(msg, 0)


def logDebug(msg):
    log(msg, 1)


def logInfo(msg):
    log(msg, 2)


def logWarn(msg):
    log(msg, 3)


def logError(msg):
    log(msg, 4)


def rpcMetrics(name, params):
    """Metrics are not collected here."""


class Bolt(_multilang.Bolt):
    """Override process(tuple); emit, ack and fail through the module's functions."""

    def run(self):
        global _current
        _current = self
        super().run()


class BasicBolt(Bolt):
    """Anchors emits to the tuple being processed and acks it afterwards (fails it if process raises)."""

    def _handle(self, tup):
        global ANCHOR_TUPLE
        ANCHOR_TUPLE = tup
        try:
            self.process(tup)
            ack(tup)
        except Exception:
            reportError(traceback.format_exc())
            fail(tup)


class Spout(_multilang.Spout):
    """Override nextTuple (and ack, fail, activate, deactivate); emit through the module's emit."""

    def nextTuple(self):
        pass

    def next_tuple(self):
        self.nextTuple()

    def run(self):
        global _current
        _current = self
        super().run()
