import Testing

@testable import StormThrift

@Suite struct SerializationTests {
    /// Serializes through libthrift and back; true when the value survived unchanged.
    private func roundTrips<T: ThriftStruct>(_ value: T) throws -> Bool {
        let bytes = try ThriftSerialization.serialize(value)
        let decoded = try ThriftSerialization.deserialize(T.self, from: bytes)
        return !bytes.isEmpty && decoded == value
    }

    @Test func everyStructRoundTripsThroughLibthrift() throws {
        #expect(Samples.all.count > 150)
        for sample in Samples.all {
            #expect(try roundTrips(sample), "\(type(of: sample)) changed in a round trip")
        }
    }

    @Test func binaryProtocolBytesAreThriftsOwn() throws {
        // struct GlobalStreamId { 1: string componentId; 2: string streamId }: field header (type 11, id 1),
        // length-prefixed string, field header (11, 2), string, stop.
        let bytes = try ThriftSerialization.serialize(GlobalStreamId(componentId: "a", streamId: "bc"))
        #expect(bytes == [11, 0, 1, 0, 0, 0, 1, 97, 11, 0, 2, 0, 0, 0, 2, 98, 99, 0])
    }

    @Test func unsetOptionalFieldsAreNotWritten() throws {
        let bytes = try ThriftSerialization.serialize(KillOptions())
        #expect(bytes == [0])
        let back = try ThriftSerialization.deserialize(KillOptions.self, from: bytes)
        #expect(back.waitSecs == nil)
    }

    @Test func optionalDefaultsApplyWhenAbsent() throws {
        let summary = SupervisorSummary(host: "h", uptimeSecs: 1, numWorkers: 4, numUsedWorkers: 0, supervisorId: "s")
        #expect(summary.version == "VERSION_NOT_PROVIDED")
        var bare = summary
        bare.version = nil
        let back = try ThriftSerialization.deserialize(
            SupervisorSummary.self, from: ThriftSerialization.serialize(bare))
        #expect(back.version == "VERSION_NOT_PROVIDED")
    }

    @Test func missingRequiredFieldIsAnError() throws {
        // A KillOptions holds no field that GlobalStreamId requires.
        let bytes = try ThriftSerialization.serialize(KillOptions(waitSecs: 3))
        #expect(throws: ThriftDecodingError.self) {
            try ThriftSerialization.deserialize(GlobalStreamId.self, from: bytes)
        }
        do {
            _ = try ThriftSerialization.deserialize(StormBase.self, from: [0])
            Issue.record("decoding an empty StormBase succeeded")
        } catch let error as ThriftDecodingError {
            #expect(error == .missingField("StormBase", "name"))
        }
    }

    @Test func unknownFieldsAreSkipped() throws {
        // ErrorInfo (error, error_time_secs, host, port) read as KillOptions: only unknown ids, all skipped.
        let bytes = try ThriftSerialization.serialize(ErrorInfo(error: "boom", errorTimeSecs: 5, host: "h", port: 6700))
        let back = try ThriftSerialization.deserialize(KillOptions.self, from: bytes)
        #expect(back == KillOptions())
    }

    @Test func truncatedAndGarbageBytesFailCleanly() throws {
        let bytes = try ThriftSerialization.serialize(Samples.all.compactMap { $0 as? StormTopology }.first!)
        for cut in [1, bytes.count / 3, bytes.count - 1] {
            #expect(throws: (any Error).self) {
                try ThriftSerialization.deserialize(StormTopology.self, from: Array(bytes.prefix(cut)))
            }
        }
        #expect(throws: (any Error).self) {
            try ThriftSerialization.deserialize(StormTopology.self, from: [13, 0, 1, 11, 12, 0x7f, 0xff, 0xff, 0xff])
        }
        #expect(throws: ThriftDecodingError.trailingBytes("KillOptions")) {
            try ThriftSerialization.deserialize(KillOptions.self, from: [0, 0])
        }
    }

    @Test func unknownEnumValueIsAnError() throws {
        // SubmitOptions { 1: required TopologyInitialStatus initial_status } with the value 9.
        #expect(throws: ThriftDecodingError.unknownEnumValue("TopologyInitialStatus", 9)) {
            try ThriftSerialization.deserialize(SubmitOptions.self, from: [8, 0, 1, 0, 0, 0, 9, 0])
        }
    }
}
