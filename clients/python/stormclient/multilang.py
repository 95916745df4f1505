"""Storm's multilang protocol for Python components: subclass Spout, Bolt or BasicBolt and call run().

Messages are JSON, each followed by a line "end", on stdin (from the worker) and stdout (to it). Only the standard
library is used, so a component runs wherever Python 3 does. Anything printed to stdout by hand would corrupt
the protocol: use self.log().
"""

import json
import os
import sys
import traceback
from collections import deque

TRACE, DEBUG, INFO, WARN, ERROR = range(5)


class Tuple:
    __slots__ = ("id", "component", "stream", "task", "values")

    def __init__(self, id, component, stream, task, values):
        self.id, self.component, self.stream, self.task, self.values = id, component, stream, task, values

    @property
    def is_heartbeat(self):
        return self.task == -1 and self.stream == "__heartbeat"

    @property
    def is_tick(self):
        return self.task == -1 and self.stream == "__tick"

    def __repr__(self):
        return f"Tuple(id={self.id!r}, component={self.component!r}, stream={self.stream!r}, task={self.task}, values={self.values!r})"


class _Component:
    def __init__(self, input=None, output=None):
        self._in = input or sys.stdin
        self._out = output or sys.stdout
        self._pending_commands = deque()
        self._pending_task_ids = deque()
        self.conf = {}
        self.context = {}

    # -- the wire --

    def _read_message(self):
        lines = []
        while True:
            line = self._in.readline()
            if not line:
                raise EOFError("the worker closed stdin")
            if line == "end\n" or line == "end":
                break
            lines.append(line)
        return json.loads("".join(lines))

    def _send(self, message):
        self._out.write(json.dumps(message))
        self._out.write("\nend\n")
        self._out.flush()

    def _read_command(self):
        if self._pending_commands:
            return self._pending_commands.popleft()
        message = self._read_message()
        while isinstance(message, list):
            self._pending_task_ids.append(message)
            message = self._read_message()
        return message

    def _read_task_ids(self):
        if self._pending_task_ids:
            return self._pending_task_ids.popleft()
        message = self._read_message()
        while not isinstance(message, list):
            self._pending_commands.append(message)
            message = self._read_message()
        return message

    def _handshake(self):
        setup = self._read_message()
        pid = os.getpid()
        self._send({"pid": pid})
        open(os.path.join(setup["pidDir"], str(pid)), "w").close()
        self.conf, self.context = setup["conf"], setup["context"]
        self.initialize(self.conf, self.context)

    # -- for components --

    def initialize(self, conf, context):
        """Called once, after the handshake."""

    def log(self, message, level=INFO):
        self._send({"command": "log", "msg": str(message), "level": level})

    def metric(self, name, value=None):
        """Records `value` under the task's metric `name` (Storm's rpcMetrics): nothing or a whole number counts
        up by it, any other number is one value of a histogram."""
        self._send({"command": "metrics", "name": name, "params": value})

    def report_error(self, message):
        """Records an error in the topology's errors (storm get-errors)."""
        self._send({"command": "error", "msg": str(message)})

    def _emit(self, message, need_task_ids):
        if not need_task_ids:
            message["need_task_ids"] = False
        self._send(message)
        if need_task_ids and "task" not in message:
            return self._read_task_ids()
        return None


class Bolt(_Component):
    """Override process(tup); call emit, ack and fail as Storm's IRichBolt does."""

    def process(self, tup):
        pass

    def emit(self, values, stream=None, anchors=(), direct_task=None, need_task_ids=False):
        message = {"command": "emit", "tuple": list(values), "anchors": [a.id for a in anchors]}
        if stream is not None:
            message["stream"] = stream
        if direct_task is not None:
            message["task"] = direct_task
        return self._emit(message, need_task_ids)

    def ack(self, tup):
        self._send({"command": "ack", "id": tup.id})

    def fail(self, tup):
        self._send({"command": "fail", "id": tup.id})

    def _handle(self, tup):
        self.process(tup)

    def run(self):
        try:
            self._handshake()
            while True:
                command = self._read_command()
                tup = Tuple(command["id"], command["comp"], command["stream"], command["task"], command["tuple"])
                if tup.is_heartbeat:
                    self._send({"command": "sync"})
                else:
                    self._handle(tup)
        except EOFError:
            return
        except Exception:
            self.report_error(traceback.format_exc())
            raise


class BasicBolt(Bolt):
    """A bolt whose emits are anchored to the tuple being processed, which is acked after process returns
    (failed if it raises)."""

    def emit(self, values, stream=None, anchors=None, direct_task=None, need_task_ids=False):
        return super().emit(values, stream, anchors if anchors is not None else [self._current], direct_task,
                            need_task_ids)

    def _handle(self, tup):
        self._current = tup
        try:
            self.process(tup)
            self.ack(tup)
        except Exception:
            self.report_error(traceback.format_exc())
            self.fail(tup)


class Spout(_Component):
    """Override next_tuple() (and ack, fail, activate, deactivate); emit with a message id to be told its fate."""

    def next_tuple(self):
        pass

    def ack(self, id):
        pass

    def fail(self, id):
        pass

    def activate(self):
        pass

    def deactivate(self):
        pass

    def emit(self, values, id=None, stream=None, direct_task=None, need_task_ids=False):
        message = {"command": "emit", "tuple": list(values)}
        if id is not None:
            message["id"] = id
        if stream is not None:
            message["stream"] = stream
        if direct_task is not None:
            message["task"] = direct_task
        return self._emit(message, need_task_ids)

    def run(self):
        try:
            self._handshake()
            while True:
                command = self._read_command()
                name = command["command"]
                if name == "next":
                    self.next_tuple()
                elif name == "ack":
                    self.ack(command["id"])
                elif name == "fail":
                    self.fail(command["id"])
                elif name == "activate":
                    self.activate()
                elif name == "deactivate":
                    self.deactivate()
                self._send({"command": "sync"})
        except EOFError:
            return
        except Exception:
            self.report_error(traceback.format_exc())
            raise
