#!/usr/bin/env python3
"""Checks that idl/storm.thrift is wire-identical to Apache Storm's storm.thrift for everything it declares.

usage: check-idl-compat.py PATH/TO/STORM/storm-client/src/storm.thrift

For every struct, union, exception, enum and service method in our IDL that Storm's also has, compares names,
field ids, types, requiredness and defaults; prints each difference and exits 1 if there is any. Declarations
only we have (extensions) are listed, not failed.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["thrift", "--gen", "json", "-out", out, path], check=True)
        [name] = os.listdir(out)
        with open(os.path.join(out, name)) as f:
            return json.load(f)


def type_sig(t):
    """A type as the wire sees it (enums are i32 on the wire and in the JSON model)."""
    if isinstance(t, str):
        return t
    tid = t["typeId"]
    if tid in ("struct", "union", "exception"):
        return f"{tid}:{t['class']}"
    if tid in ("list", "set"):
        return f"{tid}<{type_sig(t.get('elemType') or t['elemTypeId'])}>"
    if tid == "map":
        return f"map<{type_sig(t.get('keyType') or t['keyTypeId'])},{type_sig(t.get('valueType') or t['valueTypeId'])}>"
    return tid


def field_sig(f):
    t = f.get("type") or f["typeId"]
    return (f["name"], type_sig(t if isinstance(t, dict) and "typeId" in t else f["typeId"]), f["required"],
            json.dumps(f.get("default"), sort_keys=True))


def main():
    ours = load(os.path.join(ROOT, "idl", "storm.thrift"))
    theirs = load(sys.argv[1])
    problems, extensions = [], []

    their_structs = {s["name"]: s for s in theirs["structs"]}
    for s in ours["structs"]:
        other = their_structs.get(s["name"])
        if not other:
            extensions.append(f"struct {s['name']}")
            continue
        if (s["isUnion"], s["isException"]) != (other["isUnion"], other["isException"]):
            problems.append(f"{s['name']}: kind differs")
        mine = {f["key"]: field_sig(f) for f in s["fields"]}
        theirs_f = {f["key"]: field_sig(f) for f in other["fields"]}
        for key in sorted(set(mine) | set(theirs_f)):
            if mine.get(key) != theirs_f.get(key):
                problems.append(f"{s['name']} field {key}: ours {mine.get(key)} vs Storm's {theirs_f.get(key)}")

    their_enums = {e["name"]: e for e in theirs["enums"]}
    for e in ours["enums"]:
        other = their_enums.get(e["name"])
        if not other:
            extensions.append(f"enum {e['name']}")
        elif e["members"] != other["members"]:
            problems.append(f"enum {e['name']}: {e['members']} vs Storm's {other['members']}")

    their_services = {s["name"]: s for s in theirs["services"]}
    for svc in ours["services"]:
        other = their_services.get(svc["name"], {"functions": []})
        their_fns = {f["name"]: f for f in other["functions"]}
        for fn in svc["functions"]:
            o = their_fns.get(fn["name"])
            if not o:
                extensions.append(f"method {svc['name']}.{fn['name']}")
                continue
            if type_sig(fn.get("returnType") or fn["returnTypeId"]) != type_sig(o.get("returnType") or o["returnTypeId"]):
                problems.append(f"{fn['name']}: return type differs")
            for part in ("arguments", "exceptions"):
                a = [(x["key"],) + field_sig(x) for x in fn[part]]
                b = [(x["key"],) + field_sig(x) for x in o[part]]
                if a != b:
                    problems.append(f"{fn['name']} {part}: ours {a} vs Storm's {b}")
        missing = sorted(set(their_fns) - {f["name"] for f in svc["functions"]})
        if missing:
            problems.append(f"service {svc['name']} lacks Storm's methods {missing}")

    for e in extensions:
        print(f"extension (ours only): {e}")
    for p in problems:
        print(f"DIFFERENT: {p}")
    checked = len(ours["structs"]) + len(ours["enums"]) + sum(len(s["functions"]) for s in ours["services"])
    print(f"{checked} declarations checked, {len(problems)} differences, {len(extensions)} extensions")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
