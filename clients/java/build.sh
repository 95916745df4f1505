#!/usr/bin/env bash
# Builds the Java client: Java code generated from idl/storm.thrift plus the example program, compiled with javac
# against Debian's libthrift-java. Output: clients/java/build/classes; prints the classpath to run it with.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$here/build"
rm -rf "$build"
mkdir -p "$build/gen" "$build/classes"
thrift --gen java:beans,nocamel,generated_annotations=suppress -out "$build/gen" "$root/idl/storm.thrift"
classpath="/usr/share/java/thrift.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar"
find "$build/gen" "$here/src" -name '*.java' > "$build/sources.txt"
javac -nowarn -encoding UTF-8 -d "$build/classes" -cp "$classpath" @"$build/sources.txt" 2>&1 \
  | { grep -v '^Note: ' || true; }
echo "$build/classes:$classpath"
