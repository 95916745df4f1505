"""Builds a StormTopology of shell components (and named built-in classes), as Storm's TopologyBuilder does."""

import json

from storm_thrift.ttypes import Bolt, ComponentCommon, ComponentObject, GlobalStreamId, Grouping, JavaObject, \
    JavaObjectArg, NullStruct, ShellComponent, SpoutSpec, StormTopology, StreamInfo

DEFAULT_STREAM = "default"


class _Component:
    def __init__(self, fields, streams=None):
        self.streams = {DEFAULT_STREAM: list(fields)} if fields is not None else {}
        for stream, stream_fields in (streams or {}).items():
            self.streams[stream] = list(stream_fields)

    def common(self, inputs, parallelism, conf):
        streams = {sid: StreamInfo(output_fields=fields, direct=False) for sid, fields in self.streams.items()}
        return ComponentCommon(inputs=inputs, streams=streams, parallelism_hint=parallelism,
                               json_conf=json.dumps(conf) if conf else None)


class _Shell(_Component):
    def __init__(self, command, fields, streams=None):
        super().__init__(fields, streams)
        if isinstance(command, str):
            command = [command]
        if not command:
            raise ValueError("a shell component needs a command")
        # A ShellComponent runs [execution_command, script].
        self.command = list(command)

    def object(self):
        script = " ".join(self.command[1:]) if len(self.command) > 1 else None
        return ComponentObject(shell=ShellComponent(execution_command=self.command[0], script=script))


class ShellSpout(_Shell):
    """A spout run as `command` (e.g. ["python3", "spout.py"]) in the topology's resources folder."""


class ShellBolt(_Shell):
    """A bolt run as `command` in the topology's resources folder."""


class JavaComponent(_Component):
    """A component named by class, for the built-in ones (e.g. org.apache.storm.testing.TestWordSpout)."""

    def __init__(self, class_name, fields, args=(), streams=None):
        super().__init__(fields, streams)
        self.class_name = class_name
        self.args = list(args)

    def object(self):
        def arg(value):
            if isinstance(value, bool):
                return JavaObjectArg(bool_arg=value)
            if isinstance(value, int):
                return JavaObjectArg(long_arg=value)
            if isinstance(value, float):
                return JavaObjectArg(double_arg=value)
            if isinstance(value, bytes):
                return JavaObjectArg(binary_arg=value)
            return JavaObjectArg(string_arg=str(value))
        return ComponentObject(java_object=JavaObject(full_class_name=self.class_name,
                                                      args_list=[arg(a) for a in self.args]))


class _Declarer:
    def __init__(self, inputs):
        self._inputs = inputs

    def _add(self, component, stream, grouping):
        self._inputs[GlobalStreamId(componentId=component, streamId=stream)] = grouping
        return self

    def shuffle_grouping(self, component, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(shuffle=NullStruct()))

    def local_or_shuffle_grouping(self, component, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(local_or_shuffle=NullStruct()))

    def fields_grouping(self, component, fields, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(fields=list(fields)))

    def global_grouping(self, component, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(fields=[]))

    def all_grouping(self, component, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(all=NullStruct()))

    def none_grouping(self, component, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(none=NullStruct()))

    def direct_grouping(self, component, stream=DEFAULT_STREAM):
        return self._add(component, stream, Grouping(direct=NullStruct()))


class TopologyBuilder:
    def __init__(self):
        self._spouts = {}
        self._bolts = {}

    def set_spout(self, component_id, spout, parallelism=1, conf=None):
        self._check_id(component_id)
        self._spouts[component_id] = (spout, parallelism, conf)

    def set_bolt(self, component_id, bolt, parallelism=1, conf=None):
        self._check_id(component_id)
        inputs = {}
        self._bolts[component_id] = (bolt, parallelism, conf, inputs)
        return _Declarer(inputs)

    def _check_id(self, component_id):
        if component_id in self._spouts or component_id in self._bolts:
            raise ValueError(f"component id '{component_id}' is used twice")

    def build(self):
        spouts = {cid: SpoutSpec(spout_object=c.object(), common=c.common({}, p, conf))
                  for cid, (c, p, conf) in self._spouts.items()}
        bolts = {}
        for cid, (c, p, conf, inputs) in self._bolts.items():
            bolts[cid] = Bolt(bolt_object=c.object(), common=c.common(dict(inputs), p, conf))
        return StormTopology(spouts=spouts, bolts=bolts, state_spouts={})

    def to_flux(self, name, conf=None):
        """The topology as a Flux YAML file (for `storm local`, `storm submit` and `storm jar`): named classes by
        className and constructorArgs, shell components through FluxShellSpout/FluxShellBolt."""
        q = json.dumps
        lines = _flux_header(name, conf)
        lines.append("spouts:")
        for cid, (c, p, _conf) in self._spouts.items():
            lines += _flux_component(cid, c, p, "spout")
        if self._bolts:
            lines.append("bolts:")
            for cid, (c, p, _conf, _inputs) in self._bolts.items():
                lines += _flux_component(cid, c, p, "bolt")
            lines.append("streams:")
            for cid, (_c, _p, _conf, inputs) in self._bolts.items():
                for source, grouping in inputs.items():
                    lines.append(f"  - from: {q(source.componentId)}")
                    lines.append(f"    to: {q(cid)}")
                    lines.append(f"    grouping: {_flux_grouping(grouping, source.streamId)}")
        return "\n".join(lines) + "\n"


def _flux_header(name, conf):
    q = json.dumps
    lines = [f"name: {q(name)}"]
    if conf:
        lines.append("config:")
        lines += [f"  {q(k)}: {q(v)}" for k, v in sorted(conf.items())]
    return lines


def _flux_component(cid, c, parallelism, kind, indent="  "):
    """A Flux list entry for a component; with an id of None, it has none."""
    q = json.dumps
    keys = [f"id: {q(cid)}"] if cid is not None else []
    if isinstance(c, _Shell):
        wrapper = "spouts.FluxShellSpout" if kind == "spout" else "bolts.FluxShellBolt"
        keys.append(f"className: \"org.apache.storm.flux.wrappers.{wrapper}\"")
        keys.append(f"constructorArgs: [{q(c.command)}, {q(c.streams.get(DEFAULT_STREAM, []))}]")
        named = {s: f for s, f in c.streams.items() if s != DEFAULT_STREAM}
        if named:
            keys.append("configMethods:")
            for stream, fields in sorted(named.items()):
                keys.append(f"  - {{name: \"setNamedStream\", args: [{q(stream)}, {q(fields)}]}}")
    else:
        keys.append(f"className: {q(c.class_name)}")
        if c.args:
            keys.append(f"constructorArgs: {q(c.args)}")
    keys.append(f"parallelism: {parallelism}")
    return [indent + ("- " if i == 0 else "  ") + key for i, key in enumerate(keys)]


def _flux_grouping(grouping, stream):
    q = json.dumps
    if grouping.fields is not None:
        kind = f"type: FIELDS, args: {q(grouping.fields)}" if grouping.fields else "type: GLOBAL"
    elif grouping.shuffle is not None:
        kind = "type: SHUFFLE"
    elif grouping.all is not None:
        kind = "type: ALL"
    elif grouping.none is not None:
        kind = "type: NONE"
    elif grouping.direct is not None:
        kind = "type: DIRECT"
    elif grouping.local_or_shuffle is not None:
        kind = "type: LOCAL_OR_SHUFFLE"
    else:
        raise ValueError(f"grouping {grouping} has no Flux form")
    if stream != DEFAULT_STREAM:
        kind += f", streamId: {q(stream)}"
    return "{" + kind + "}"


COORDINATED_STREAM = "org.apache.storm.coordination.CoordinatedBolt/coord-stream"


class LinearDRPCTopologyBuilder:
    """Storm's LinearDRPCTopologyBuilder: a DRPC function as a chain of bolts, each seeing the request id as its
    tuples' first value. The topology is Storm's: DRPCSpout ("spout") -> PrepareRequest ("prepare-request") ->
    the bolts ("bolt0", "bolt1", ...) -> JoinResult -> ReturnResults; the cluster coordinates each bolt, so a bolt
    knows when it has every tuple of a request. The last bolt declares one stream of two fields, [id, result], and
    emits one tuple per request.

        builder = LinearDRPCTopologyBuilder("distinct")
        builder.add_bolt(ShellBolt(["python3", "split.py"], ["request", "word"]), 3)
        builder.add_bolt(JavaComponent("storm.swift.drpc.DistinctPerRequest", ["request", "value"]), 2) \\
            .fields_grouping(["request", "value"])
        builder.add_bolt(JavaComponent("storm.swift.drpc.CountPerRequest", ["request", "count"])) \\
            .fields_grouping(["request"])
        nimbus.submit("distinct", builder.create_topology(), pack_resources("resources/"),
                      {"drpc.servers": ["drpc1.example.com"]})
    """

    SPOUT_ID = "spout"
    PREPARE_ID = "prepare-request"

    def __init__(self, function):
        if not function:
            raise ValueError("a linear DRPC topology needs a function name")
        self.function = function
        self._bolts = []

    def add_bolt(self, bolt, parallelism=1, conf=None, component_id=None):
        """Adds the next bolt of the chain; say how it reads the bolt before it on what this returns (the first
        reads each request once, from PrepareRequest's [request, args], unless told otherwise)."""
        inputs = []
        self._bolts.append((component_id, bolt, parallelism, conf, inputs))
        return _PreviousBoltDeclarer(inputs)

    def _ids(self):
        return [cid or f"bolt{i}" for i, (cid, *_rest) in enumerate(self._bolts)]

    def create_topology(self):
        what = f"linear DRPC topology '{self.function}'"
        if not self._bolts:
            raise ValueError(f"{what} has no bolts")
        ids = self._ids()
        join_id, return_id = f"bolt{len(ids)}", f"bolt{len(ids) + 1}"
        seen = set()
        for cid in [self.SPOUT_ID, self.PREPARE_ID, *ids, join_id, return_id]:
            if cid in seen:
                raise ValueError(f"{what} uses the component id '{cid}' twice")
            seen.add(cid)
        last = self._bolts[-1][1]
        outputs = {s: f for s, f in last.streams.items() if s != COORDINATED_STREAM}
        if len(outputs) != 1:
            raise ValueError(f"{what}: its last bolt '{ids[-1]}' must declare exactly one stream, [id, result]; "
                             f"it declares {sorted(outputs)}")
        (result_stream, result_fields), = outputs.items()
        if len(result_fields) != 2:
            raise ValueError(f"{what}: the last bolt's stream must have exactly two fields, the request id and the "
                             f"result; '{ids[-1]}' declares {result_fields}")

        def stream_id(component, stream):
            return GlobalStreamId(componentId=component, streamId=stream)

        def java(class_name, args=()):
            return JavaComponent(class_name, None, args).object()

        def common(inputs, streams, parallelism=1, conf=None):
            infos = {sid: StreamInfo(output_fields=list(fields), direct=sid == COORDINATED_STREAM)
                     for sid, fields in streams.items()}
            return ComponentCommon(inputs=inputs, streams=infos, parallelism_hint=parallelism,
                                   json_conf=json.dumps(conf) if conf else None)

        bolts = {self.PREPARE_ID: Bolt(
            bolt_object=java("org.apache.storm.drpc.PrepareRequest"),
            common=common({stream_id(self.SPOUT_ID, DEFAULT_STREAM): Grouping(none=NullStruct())},
                          {DEFAULT_STREAM: ["request", "args"], "ret": ["request", "return_info"], "id": ["request"]}))}
        for i, (_cid, bolt, parallelism, conf, declared) in enumerate(self._bolts):
            previous = self.PREPARE_ID if i == 0 else ids[i - 1]
            inputs, coordination = {}, {"sources": {}}
            if i > 0:
                coordination["sources"][previous] = "single" if i == 1 else "all"
                inputs[stream_id(previous, COORDINATED_STREAM)] = Grouping(direct=NullStruct())
            if i == len(self._bolts) - 1:
                coordination["id-stream"] = [self.PREPARE_ID, "id"]
                inputs[stream_id(self.PREPARE_ID, "id")] = Grouping(fields=["request"])
            if not declared and i > 0:
                raise ValueError(f"{what}: bolt '{ids[i]}' says not how it reads '{previous}' "
                                 f"(a shuffle, fields, global, ... grouping)")
            for stream, grouping in declared or [(DEFAULT_STREAM, Grouping(none=NullStruct()))]:
                inputs[stream_id(previous, stream)] = grouping
            streams = dict(bolt.streams)
            streams[COORDINATED_STREAM] = ["id", "count"]
            bolts[ids[i]] = Bolt(bolt_object=bolt.object(), common=common(
                inputs, streams, parallelism, {**(conf or {}), "storm.coordination": coordination}))
        bolts[join_id] = Bolt(
            bolt_object=java("org.apache.storm.drpc.JoinResult", [self.PREPARE_ID]),
            common=common({stream_id(ids[-1], result_stream): Grouping(fields=[result_fields[0]]),
                           stream_id(self.PREPARE_ID, "ret"): Grouping(fields=["request"])},
                          {DEFAULT_STREAM: ["result", "return-info"]}))
        bolts[return_id] = Bolt(
            bolt_object=java("org.apache.storm.drpc.ReturnResults"),
            common=common({stream_id(join_id, DEFAULT_STREAM): Grouping(none=NullStruct())}, {}))
        spout = SpoutSpec(spout_object=java("org.apache.storm.drpc.DRPCSpout", [self.function]),
                          common=common({}, {DEFAULT_STREAM: ["args", "return-info"]}))
        return StormTopology(spouts={self.SPOUT_ID: spout}, bolts=bolts, state_spouts={})

    def to_flux(self, name, conf=None):
        """The topology as a Flux file with a linearDRPC section (for `storm local`, `storm submit`, `storm jar`)."""
        q = json.dumps
        lines = _flux_header(name, conf)
        lines += ["linearDRPC:", f"  function: {q(self.function)}", "  bolts:"]
        for cid, bolt, parallelism, _conf, declared in self._bolts:
            lines += _flux_component(cid, bolt, parallelism, "bolt", indent="    ")
            for stream, grouping in declared[:1]:
                lines.append(f"      grouping: {_flux_grouping(grouping, stream)}")
        return "\n".join(lines) + "\n"


class _PreviousBoltDeclarer:
    """How a bolt of a linear DRPC chain reads the bolt before it."""

    def __init__(self, inputs):
        self._inputs = inputs

    def _add(self, stream, grouping):
        self._inputs.append((stream, grouping))
        return self

    def shuffle_grouping(self, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(shuffle=NullStruct()))

    def local_or_shuffle_grouping(self, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(local_or_shuffle=NullStruct()))

    def fields_grouping(self, fields, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(fields=list(fields)))

    def global_grouping(self, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(fields=[]))

    def all_grouping(self, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(all=NullStruct()))

    def none_grouping(self, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(none=NullStruct()))

    def direct_grouping(self, stream=DEFAULT_STREAM):
        return self._add(stream, Grouping(direct=NullStruct()))
