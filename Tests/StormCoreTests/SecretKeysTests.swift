import Testing

@testable import StormCore

@Suite struct SecretKeysTests {
    @Test func secretsAreMaskedAtAnyDepthAndNothingElse() {
        let conf: [String: ConfigValue] = [
            "db.password": "hunter2", "api.secret": "s3", "aws.credentials.file": "/etc/creds",
            "ui.https.key.password": "k", "storm.zookeeper.topology.auth.payload": "storm:pw",
            "topology.workers": 2, "password.policy.url": "http://x", "unset.password": nil,
            "kafka": ["bootstrap": "k:9092", "sasl.jaas.password": "p", "nested": ["client.secret": "c"]],
            "sinks": [["name": "a", "password": "p1"], "plain"],
        ]
        let masked = SecretKeys.redacted(conf)
        for key in [
            "db.password", "api.secret", "aws.credentials.file", "ui.https.key.password",
            "storm.zookeeper.topology.auth.payload",
        ] {
            #expect(masked[key] == .string(SecretKeys.mask), "\(key)")
        }
        #expect(masked["topology.workers"] == 2 && masked["password.policy.url"] == "http://x")
        #expect(masked["unset.password"] == .null)
        #expect(
            masked["kafka"]
                == ["bootstrap": "k:9092", "sasl.jaas.password": "*****", "nested": ["client.secret": "*****"]])
        #expect(masked["sinks"] == [["name": "a", "password": "*****"], "plain"])
        #expect(SecretKeys.redacted(json: #"{"jdbc.password":"x","n":1}"#).contains(#""jdbc.password":"*****""#))
        #expect(SecretKeys.redacted(json: #"{"n":1}"#) == #"{"n":1}"#)
        #expect(SecretKeys.redacted(json: "not json") == "not json")
    }
}
