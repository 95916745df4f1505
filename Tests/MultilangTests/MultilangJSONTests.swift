import Testing
import Tuples

@testable import Multilang

@Suite struct MultilangJSONTests {
    func parse(_ text: String) throws -> Value { try MultilangJSON.parse(Array(text.utf8)) }

    @Test func whatAdaptersSendIsRead() throws {
        let emit = try parse(
            #"{"command": "emit", "anchors": ["12"], "tuple": ["caf\u00e9 \ud83d\ude00", -3, 2.5, true, null, {"k": [1]}], "need_task_ids": false}"#
        )
        #expect(
            emit
                == .map([
                    "command": "emit", "anchors": .list(["12"]),
                    "tuple": .list([
                        .string("café 😀"), .int(-3), .double(2.5), .bool(true), .null, .map(["k": .list([.int(1)])]),
                    ]),
                    "need_task_ids": .bool(false),
                ]))
        #expect(try parse(#"  [1, 2 ,3]  "#) == .list([.int(1), .int(2), .int(3)]))
        #expect(try parse(#""tab\tquote\"slash\\\/""#) == .string("tab\tquote\"slash\\/"))
        #expect(try parse("1e3") == .double(1000))
    }

    @Test func writtenValuesReadBackTheSame() throws {
        let value: Value = .map([
            "s": .string("line\nbreak \"quoted\" \u{1} ünïcode"), "i": .int(Int64.min), "d": .double(-0.125),
            "l": .list([.null, .bool(false)]),
        ])
        var out: [UInt8] = []
        MultilangJSON.write(value, into: &out)
        #expect(try MultilangJSON.parse(out) == value)
    }

    @Test func malformedTextIsRefusedWithWhereAndWhat() {
        for (text, what) in [
            ("{this is not json", "expected a key"), ("[1, 2", "unterminated array"), (#"{"a" 1}"#, "expected ':'"),
            ("tru", "invalid literal"), (#""open"#, "unterminated string"),
            ("[1] 2", "unexpected text after the value"),
            (String(repeating: "[", count: 100), "nested deeper than 64"),
        ] {
            #expect {
                _ = try MultilangJSON.parse(Array(text.utf8))
            } throws: { error in
                "\(error)".contains(what) && "\(error)".contains("at byte")
            }
        }
    }
}
