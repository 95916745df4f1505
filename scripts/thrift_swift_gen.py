#!/usr/bin/env python3
"""Generates the Swift model and the Nimbus service glue from `thrift --gen json` output.

The Swift code reads and writes through StormThrift's ThriftProtocol, which drives libthrift's own binary
protocol, so the wire format is libthrift's and this script only decides the shape of the Swift types.

usage: thrift_swift_gen.py IDL JSON OUTDIR
"""
import json
import re
import sys

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "func", "import", "init", "inout", "internal", "let",
    "operator", "private", "protocol", "public", "static", "struct", "subscript", "typealias", "var", "break",
    "case", "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
    "return", "switch", "where", "while", "as", "catch", "false", "is", "nil", "rethrows", "super", "self", "Self",
    "throw", "throws", "true", "try", "none", "some", "any",
}

WIRE = {
    "bool": ".bool", "byte": ".byte", "i8": ".byte", "i16": ".i16", "i32": ".i32", "i64": ".i64",
    "double": ".double", "string": ".string", "binary": ".string", "struct": ".struct", "union": ".struct",
    "exception": ".struct", "map": ".map", "set": ".set", "list": ".list", "enum": ".i32",
}


def camel(name):
    parts = name.split("_")
    head = parts[0]
    out = head[:1].lower() + head[1:] if head.isupper() is False else head.lower()
    for p in parts[1:]:
        if p:
            out += p[:1].upper() + p[1:]
    return out


def ident(name):
    return f"`{name}`" if name in SWIFT_KEYWORDS else name


def enum_case(name):
    parts = name.lower().split("_")
    return ident(parts[0] + "".join(p.capitalize() for p in parts[1:]))


class Generator:
    def __init__(self, idl_text, model):
        self.model = model
        self.enums = {e["name"]: e for e in model["enums"]}
        self.structs = {s["name"]: s for s in model["structs"]}
        self.enum_fields = self.find_enum_fields(idl_text)

    # The JSON generator reports enum-typed fields as plain i32; the IDL text says which enum they are.
    def find_enum_fields(self, text):
        text = re.sub(r"#.*", "", text)
        found = {}
        enum_alt = "|".join(map(re.escape, self.enums)) or "$^"
        field_re = re.compile(r"(-?\d+)\s*:\s*(?:required\s+|optional\s+)?(" + enum_alt + r")\s+(\w+)")
        for m in re.finditer(r"(?:struct|union|exception)\s+(\w+)\s*\{([^}]*)\}", text):
            for f in field_re.finditer(m.group(2)):
                found[(m.group(1), f.group(3))] = f.group(2)
        for m in re.finditer(r"\b([\w<>, ]+?)\s+(\w+)\s*\(([^)]*)\)", text):
            ret = m.group(1).split()[-1]
            if ret in self.enums:
                found[("return", m.group(2))] = ret
            for f in field_re.finditer(m.group(3)):
                found[(m.group(2), f.group(3))] = f.group(2)
        return found

    def resolve(self, typ, owner, field):
        """Attaches the enum name to an i32 that the IDL declares as an enum."""
        if typ.get("typeId") == "i32" and (owner, field) in self.enum_fields:
            return {"typeId": "enum", "class": self.enum_fields[(owner, field)]}
        return typ

    # ----- types -----

    def swift_type(self, t):
        tid = t["typeId"]
        if tid == "bool":
            return "Bool"
        if tid in ("byte", "i8"):
            return "Int8"
        if tid == "i16":
            return "Int16"
        if tid == "i32":
            return "Int32"
        if tid == "i64":
            return "Int64"
        if tid == "double":
            return "Double"
        if tid == "string":
            return "String"
        if tid == "binary":
            return "[UInt8]"
        if tid in ("struct", "union", "exception", "enum"):
            return t["class"]
        if tid == "list":
            return "[" + self.swift_type(self.elem(t)) + "]"
        if tid == "set":
            return "Set<" + self.swift_type(self.elem(t)) + ">"
        if tid == "map":
            return "[" + self.swift_type(self.key(t)) + ": " + self.swift_type(self.value(t)) + "]"
        raise ValueError(f"unsupported type {t}")

    @staticmethod
    def elem(t):
        return t.get("elemType") or {"typeId": t["elemTypeId"]}

    @staticmethod
    def key(t):
        return t.get("keyType") or {"typeId": t["keyTypeId"]}

    @staticmethod
    def value(t):
        return t.get("valueType") or {"typeId": t["valueTypeId"]}

    def full_type(self, f):
        t = f.get("type") or {"typeId": f["typeId"]}
        if "typeId" not in t:
            t = {"typeId": f["typeId"]}
        return t

    def read_expr(self, t):
        tid = t["typeId"]
        simple = {"bool": "readBool", "byte": "readByte", "i8": "readByte", "i16": "readI16", "i32": "readI32",
                  "i64": "readI64", "double": "readDouble", "string": "readString", "binary": "readBinary"}
        if tid in simple:
            return f"try p.{simple[tid]}()"
        if tid in ("struct", "union", "exception"):
            return f"try {t['class']}(from: p)"
        if tid == "enum":
            return f"try p.readEnum({t['class']}.self)"
        if tid == "list":
            return "try p.readList { " + self.read_expr(self.elem(t)) + " }"
        if tid == "set":
            return "try p.readSet { " + self.read_expr(self.elem(t)) + " }"
        if tid == "map":
            return ("try p.readMap({ " + self.read_expr(self.key(t)) + " }, { " + self.read_expr(self.value(t))
                    + " })")
        raise ValueError(tid)

    def write_stmt(self, t, value, depth=0):
        tid = t["typeId"]
        simple = {"bool": "writeBool", "byte": "writeByte", "i8": "writeByte", "i16": "writeI16",
                  "i32": "writeI32", "i64": "writeI64", "double": "writeDouble", "string": "writeString",
                  "binary": "writeBinary"}
        if tid in simple:
            return f"try p.{simple[tid]}({value})"
        if tid in ("struct", "union", "exception"):
            return f"try {value}.write(to: p)"
        if tid == "enum":
            return f"try p.writeI32({value}.rawValue)"
        v = f"v{depth}"
        if tid in ("list", "set"):
            e = self.elem(t)
            kind = "writeList" if tid == "list" else "writeSet"
            return (f"try p.{kind}({value}, of: {WIRE[e['typeId']]}) {{ {v} in "
                    + self.write_stmt(e, v, depth + 1) + " }")
        if tid == "map":
            k, val = self.key(t), self.value(t)
            kv, vv = f"k{depth}", f"v{depth}"
            return (f"try p.writeMap({value}, keys: {WIRE[k['typeId']]}, values: {WIRE[val['typeId']]}, "
                    f"{{ {kv} in {self.write_stmt(k, kv, depth + 1)} }}, "
                    f"{{ {vv} in {self.write_stmt(val, vv, depth + 1)} }})")
        raise ValueError(tid)

    def default_literal(self, t, default):
        tid = t["typeId"]
        if tid in ("map",) and default == {}:
            return "[:]"
        if tid in ("list", "set") and default == []:
            return "[]"
        if tid == "string":
            return json.dumps(default)
        if tid in ("i16", "i32", "i64", "double", "byte"):
            return str(default)
        if tid == "bool":
            return "true" if default else "false"
        raise ValueError(f"unsupported default {default} for {t}")

    # ----- structs -----

    def fields_of(self, owner, fields):
        out = []
        for f in fields:
            t = self.resolve(self.full_type(f), owner, f["name"])
            required = f["required"] == "required"
            default = None
            if "default" in f:
                default = self.default_literal(t, f["default"])
            out.append({"id": f["key"], "wire_name": f["name"], "name": ident(camel(f["name"])), "type": t,
                        "swift": self.swift_type(t), "required": required, "default": default})
        return out

    def gen_struct(self, s, conformances="ThriftStruct", access="public", owner=None):
        name = s["name"]
        fields = self.fields_of(owner or name, s["fields"])
        lines = []
        lines.append(f"{access} struct {name}: {conformances} {{")
        for f in fields:
            opt = "" if f["required"] else "?"
            lines.append(f"    {access} var {f['name']}: {f['swift']}{opt}")
        params = []
        for f in fields:
            if f["required"]:
                params.append(f"{f['name']}: {f['swift']}")
            else:
                d = f["default"] if f["default"] is not None else "nil"
                params.append(f"{f['name']}: {f['swift']}? = {d}")
        lines.append("")
        lines.append(f"    {access} init(" + ", ".join(params) + ") {")
        for f in fields:
            lines.append(f"        self.{f['name']} = {f['name']}")
        lines.append("    }")
        lines.append("")
        lines.append(f"    {access} init(from p: ThriftProtocol) throws {{")
        for f in fields:
            init = f["default"] if (f["default"] is not None) else "nil"
            lines.append(f"        var {f['name']}: {f['swift']}? = {init}")
        lines.append("        try p.readStructBegin()")
        lines.append("        while let (fieldType, " + ("fieldId" if fields else "_") + ") = try p.readFieldBegin() {")
        if fields:
            lines.append("            switch (fieldId, fieldType) {")
            for f in fields:
                lines.append(f"            case ({f['id']}, {WIRE[f['type']['typeId']]}): "
                             f"{f['name']} = {self.read_expr(f['type'])}")
            lines.append("            default: try p.skip(fieldType)")
            lines.append("            }")
        else:
            lines.append("            try p.skip(fieldType)")
        lines.append("            try p.readFieldEnd()")
        lines.append("        }")
        lines.append("        try p.readStructEnd()")
        for f in fields:
            if f["required"]:
                lines.append(f"        guard let {f['name']} else {{ throw ThriftDecodingError.missingField"
                             f"(\"{name}\", \"{f['wire_name']}\") }}")
        lines.append("        self.init(" + ", ".join(f"{f['name']}: {f['name']}" for f in fields) + ")")
        lines.append("    }")
        lines.append("")
        lines.append(f"    {access} func write(to p: ThriftProtocol) throws {{")
        lines.append(f"        try p.writeStructBegin(\"{name}\")")
        for f in fields:
            wire = WIRE[f["type"]["typeId"]]
            if f["required"]:
                lines.append(f"        try p.writeFieldBegin(\"{f['wire_name']}\", {wire}, {f['id']})")
                lines.append("        " + self.write_stmt(f["type"], f["name"]))
                lines.append("        try p.writeFieldEnd()")
            else:
                lines.append(f"        if let {f['name']} {{")
                lines.append(f"            try p.writeFieldBegin(\"{f['wire_name']}\", {wire}, {f['id']})")
                lines.append("            " + self.write_stmt(f["type"], f["name"]))
                lines.append("            try p.writeFieldEnd()")
                lines.append("        }")
        lines.append("        try p.writeFieldStop()")
        lines.append("        try p.writeStructEnd()")
        lines.append("    }")
        lines.append("}")
        if s.get("isException"):
            msg = next((f for f in fields if f["wire_name"] == "msg"), None)
            lines.append("")
            lines.append(f"extension {name}: Error, CustomStringConvertible {{")
            if msg:
                lines.append(f"    public var description: String {{ \"{name}: \\({msg['name']})\" }}")
            else:
                lines.append(f"    public var description: String {{ \"{name}\" }}")
            lines.append("}")
        return "\n".join(lines)

    def gen_union(self, s):
        name = s["name"]
        fields = self.fields_of(name, s["fields"])
        lines = [f"public enum {name}: ThriftStruct {{"]
        for f in fields:
            lines.append(f"    case {f['name']}({f['swift']})")
        lines.append("")
        lines.append("    public init(from p: ThriftProtocol) throws {")
        lines.append(f"        var value: {name}?")
        lines.append("        try p.readStructBegin()")
        lines.append("        while let (fieldType, fieldId) = try p.readFieldBegin() {")
        lines.append("            switch (fieldId, fieldType) {")
        for f in fields:
            lines.append(f"            case ({f['id']}, {WIRE[f['type']['typeId']]}): "
                         f"value = .{f['name']}({self.read_expr(f['type'])})")
        lines.append("            default: try p.skip(fieldType)")
        lines.append("            }")
        lines.append("            try p.readFieldEnd()")
        lines.append("        }")
        lines.append("        try p.readStructEnd()")
        lines.append(f"        guard let value else {{ throw ThriftDecodingError.emptyUnion(\"{name}\") }}")
        lines.append("        self = value")
        lines.append("    }")
        lines.append("")
        lines.append("    public func write(to p: ThriftProtocol) throws {")
        lines.append(f"        try p.writeStructBegin(\"{name}\")")
        lines.append("        switch self {")
        for f in fields:
            wire = WIRE[f["type"]["typeId"]]
            lines.append(f"        case .{f['name']}(let value):")
            lines.append(f"            try p.writeFieldBegin(\"{f['wire_name']}\", {wire}, {f['id']})")
            lines.append("            " + self.write_stmt(f["type"], "value"))
            lines.append("            try p.writeFieldEnd()")
        lines.append("        }")
        lines.append("        try p.writeFieldStop()")
        lines.append("        try p.writeStructEnd()")
        lines.append("    }")
        lines.append("}")
        return "\n".join(lines)

    def gen_enum(self, e):
        lines = [f"public enum {e['name']}: Int32, ThriftEnum {{"]
        for m in e["members"]:
            lines.append(f"    case {enum_case(m['name'])} = {m['value']}")
        lines.append("")
        lines.append("    /// The member's name as the IDL spells it.")
        lines.append("    public var thriftName: String {")
        lines.append("        switch self {")
        for m in e["members"]:
            lines.append(f"        case .{enum_case(m['name'])}: \"{m['name']}\"")
        lines.append("        }")
        lines.append("    }")
        lines.append("}")
        return "\n".join(lines)

    def types_file(self):
        out = [HEADER, "// The model of idl/storm.thrift.", ""]
        for e in self.model["enums"]:
            out.append(self.gen_enum(e))
            out.append("")
        for s in self.model["structs"]:
            out.append(self.gen_union(s) if s.get("isUnion") else self.gen_struct(s))
            out.append("")
        return "\n".join(out)

    # ----- services -----

    def method_parts(self, fn):
        args = self.fields_of(fn["name"], fn["arguments"])
        for a in args:
            a["required"] = False
        ret = None
        if fn["returnTypeId"] != "void":
            rt = fn.get("returnType") or {"typeId": fn["returnTypeId"]}
            ret = self.resolve(rt, "return", fn["name"])
        excs = self.fields_of(fn["name"], fn["exceptions"])
        for x in excs:
            x["required"] = False
        return args, ret, excs

    def zero_value(self, t):
        tid = t["typeId"]
        return {"bool": "false", "byte": "0", "i8": "0", "i16": "0", "i32": "0", "i64": "0", "double": "0",
                "string": '""', "binary": "[]", "list": "[]", "set": "[]", "map": "[:]"}.get(tid)

    def service_file(self, svc):
        sname = svc["name"]
        out = [HEADER, f"// The {sname} service of idl/storm.thrift: argument and result structs, the handler a",
               "// server implements, the dispatcher that drives it, and a client.", ""]
        fns = svc["functions"]
        for fn in fns:
            args, ret, excs = self.method_parts(fn)
            out.append(self.gen_struct({"name": f"{sname}_{fn['name']}_args",
                                        "fields": [dict(a_raw, required="optional") for a_raw in fn["arguments"]]},
                                       owner=fn["name"]))
            result_fields = []
            if ret is not None:
                result_fields.append({"key": 0, "name": "success", "required": "optional",
                                      "typeId": "i32" if ret["typeId"] == "enum" else ret["typeId"],
                                      "type": {"typeId": "i32"} if ret["typeId"] == "enum" else ret})
            result_fields += [dict(x, required="optional") for x in fn["exceptions"]]
            out.append(self.gen_struct({"name": f"{sname}_{fn['name']}_result", "fields": result_fields}))
            out.append("")

        # handler protocol
        out.append(f"/// What a {sname} server implements: each method is called once per request, as a task of its own")
        out.append("/// (the server's one bridge from its threads to async code). Every method has a default that answers a")
        out.append("/// Thrift application error naming the method as unsupported, so a server implements what it serves.")
        out.append(f"public protocol {sname}Handler: Sendable {{")
        sigs = {}
        for fn in fns:
            args, ret, excs = self.method_parts(fn)
            params = ", ".join(f"{a['name']}: {a['swift']}" for a in args)
            rs = f" -> {self.swift_type(ret)}" if ret is not None else ""
            sig = f"func {fn['name']}({params}) async throws{rs}"
            sigs[fn["name"]] = sig
            out.append(f"    {sig}")
        out.append("}")
        out.append("")
        out.append(f"extension {sname}Handler {{")
        for fn in fns:
            out.append(f"    public {sigs[fn['name']]} {{")
            out.append(f"        throw ThriftApplicationException.unsupported(\"{fn['name']}\")")
            out.append("    }")
        out.append("}")
        out.append("")

        # dispatcher
        out.append(f"/// Decodes one call's arguments and returns the call, which runs it on a {sname}Handler and encodes the")
        out.append("/// reply. Decoding happens on the caller's thread; only the decoded arguments go into the call.")
        out.append(f"public enum {sname}Dispatcher {{")
        out.append(f"    public static let methodNames: Set<String> = [" +
                   ", ".join(f'"{fn["name"]}"' for fn in fns) + "]")
        out.append("")
        out.append(f"    /// Reads the arguments of `method` from `input` and returns the call to run, or nil when the method is unknown.")
        out.append(f"    public static func dispatch(_ method: String, input p: ThriftProtocol, "
                   f"handler: some {sname}Handler) throws -> ThriftCall? {{")
        out.append("        switch method {")
        for fn in fns:
            args, ret, excs = self.method_parts(fn)
            out.append(f"        case \"{fn['name']}\":")
            if args:
                out.append(f"            let args = try {sname}_{fn['name']}_args(from: p)")
            else:
                out.append(f"            _ = try {sname}_{fn['name']}_args(from: p)")
            call_args = []
            for a in args:
                z = self.zero_value(a["type"])
                if z is None:
                    out.append(f"            guard let {a['name']} = args.{a['name']} else {{ "
                               f"throw ThriftDecodingError.missingField(\"{fn['name']}\", \"{a['wire_name']}\") }}")
                    call_args.append(f"{a['name']}: {a['name']}")
                else:
                    call_args.append(f"{a['name']}: args.{a['name']} ?? {z}")
            out.append("            return {")
            mutable = "var" if (ret is not None or excs) else "let"
            out.append(f"                {mutable} result = {sname}_{fn['name']}_result()")
            call = f"handler.{fn['name']}(" + ", ".join(call_args) + ")"
            out.append("                do {")
            if ret is not None:
                out.append(f"                    result.success = try await {call}" +
                           (".rawValue" if ret["typeId"] == "enum" else ""))
            else:
                out.append(f"                    try await {call}")
            for x in excs:
                out.append(f"                }} catch let error as {x['swift']} {{")
                out.append(f"                    result.{x['name']} = error")
            out.append("                }")
            out.append("                return .result(result)")
            out.append("            }")
        out.append("        default:")
        out.append("            return nil")
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")

        # client
        out.append(f"extension {sname}Client {{")
        for fn in fns:
            args, ret, excs = self.method_parts(fn)
            params = ", ".join(f"{a['name']}: {a['swift']}" for a in args)
            rs = f" -> {self.swift_type(ret)}" if ret is not None else ""
            out.append(f"    public func {fn['name']}({params}) throws{rs} {{")
            ctor = ", ".join(f"{a['name']}: {a['name']}" for a in args)
            binding = "let result =" if (ret is not None or excs) else "_ ="
            out.append(f"        {binding} try call(\"{fn['name']}\", {sname}_{fn['name']}_args({ctor}), "
                       f"as: {sname}_{fn['name']}_result.self)")
            for x in excs:
                out.append(f"        if let error = result.{x['name']} {{ throw error }}")
            if ret is not None:
                if ret["typeId"] == "enum":
                    out.append(f"        guard let raw = result.success, let value = {ret['class']}(rawValue: raw)"
                               f" else {{ throw ThriftApplicationException.missingResult(\"{fn['name']}\") }}")
                    out.append("        return value")
                else:
                    out.append(f"        guard let value = result.success else {{ "
                               f"throw ThriftApplicationException.missingResult(\"{fn['name']}\") }}")
                    out.append("        return value")
            out.append("    }")
            out.append("")
        out.append("}")
        return "\n".join(out)


    # ----- samples for the round-trip tests -----

    def sample(self, t, depth=0):
        tid = t["typeId"]
        simple = {"bool": "true", "byte": "-7", "i8": "-7", "i16": "-16", "i32": "-32", "i64": "-6_400_000_000",
                  "double": "1.5", "string": '"s\\u{e9}"', "binary": "[0, 1, 255]"}
        if tid in simple:
            return simple[tid]
        if tid == "enum":
            return f".{enum_case(self.enums[t['class']]['members'][-1]['name'])}"
        if tid in ("struct", "exception"):
            return self.struct_sample(self.structs[t["class"]], depth + 1)
        if tid == "union":
            return self.union_samples(self.structs[t["class"]], depth + 1)[-1]
        if tid == "list":
            e = self.sample(self.elem(t), depth)
            return f"[{e}, {e}]"
        if tid == "set":
            return f"[{self.sample(self.elem(t), depth)}]"
        if tid == "map":
            return f"[{self.sample(self.key(t), depth)}: {self.sample(self.value(t), depth)}]"
        raise ValueError(tid)

    def struct_sample(self, s, depth=0, owner=None):
        fields = self.fields_of(owner or s["name"], s["fields"])
        args = ", ".join(f"{f['name']}: {self.sample(f['type'], depth)}" for f in fields)
        return f"{s['name']}({args})"

    def union_samples(self, s, depth=0):
        fields = self.fields_of(s["name"], s["fields"])
        return [f"{s['name']}.{f['name']}({self.sample(f['type'], depth)})" for f in fields]

    def samples_file(self):
        out = [HEADER, "import StormThrift", "",
               "/// A fully populated value of every struct and exception, and every case of every union.",
               "enum Samples {", "    static let all: [any ThriftStruct] = ["]
        for s in self.model["structs"]:
            if s.get("isUnion"):
                for u in self.union_samples(s):
                    out.append(f"        {u},")
            else:
                out.append(f"        {self.struct_sample(s)},")
        for svc in self.model["services"]:
            for fn in svc["functions"]:
                out.append(f"        {svc['name']}_{fn['name']}_args("
                           + ", ".join(f"{a['name']}: {self.sample(a['type'])}"
                                       for a in self.fields_of(fn['name'], fn['arguments'])) + "),")
        out.append("    ]")
        out.append("}")
        return "\n".join(out)


HEADER = "// Generated by scripts/generate-thrift.sh from idl/storm.thrift. Do not edit.\n"


def main():
    idl, model_path, outdir = sys.argv[1:4]
    with open(idl) as f:
        text = f.read()
    with open(model_path) as f:
        model = json.load(f)
    g = Generator(text, model)
    with open(f"{outdir}/StormTypes.swift", "w") as f:
        f.write(g.types_file() + "\n")
    if len(sys.argv) > 4:
        with open(f"{sys.argv[4]}/Samples.swift", "w") as f:
            f.write(g.samples_file() + "\n")
    for svc in model["services"]:
        with open(f"{outdir}/{svc['name']}Service.swift", "w") as f:
            f.write(g.service_file(svc) + "\n")


if __name__ == "__main__":
    main()
