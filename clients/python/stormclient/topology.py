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
        lines = [f"name: {q(name)}"]
        if conf:
            lines.append("config:")
            lines += [f"  {q(k)}: {q(v)}" for k, v in sorted(conf.items())]

        def component(cid, c, parallelism, kind):
            out = [f"  - id: {q(cid)}"]
            if isinstance(c, _Shell):
                wrapper = "spouts.FluxShellSpout" if kind == "spout" else "bolts.FluxShellBolt"
                out.append(f"    className: \"org.apache.storm.flux.wrappers.{wrapper}\"")
                out.append(f"    constructorArgs: [{q(c.command)}, {q(c.streams.get(DEFAULT_STREAM, []))}]")
                named = {s: f for s, f in c.streams.items() if s != DEFAULT_STREAM}
                if named:
                    out.append("    configMethods:")
                    for stream, fields in sorted(named.items()):
                        out.append(f"      - {{name: \"setNamedStream\", args: [{q(stream)}, {q(fields)}]}}")
            else:
                out.append(f"    className: {q(c.class_name)}")
                if c.args:
                    out.append(f"    constructorArgs: {q(c.args)}")
            out.append(f"    parallelism: {parallelism}")
            return out

        lines.append("spouts:")
        for cid, (c, p, _conf) in self._spouts.items():
            lines += component(cid, c, p, "spout")
        if self._bolts:
            lines.append("bolts:")
            for cid, (c, p, _conf, _inputs) in self._bolts.items():
                lines += component(cid, c, p, "bolt")
            lines.append("streams:")
            for cid, (_c, _p, _conf, inputs) in self._bolts.items():
                for source, grouping in inputs.items():
                    lines.append(f"  - from: {q(source.componentId)}")
                    lines.append(f"    to: {q(cid)}")
                    lines.append(f"    grouping: {_flux_grouping(grouping, source.streamId)}")
        return "\n".join(lines) + "\n"


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
