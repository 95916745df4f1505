import Foundation
import Testing

@testable import StormCore

@Suite struct SecurityConfigTests {
    static let digest = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin"

    /// Storm's own documented form, with both comment styles and a quoted value holding a quote.
    @Test func aJaasFileInStormsFormIsRead() throws {
        let jaas = try JaasConfiguration(
            parsing: """
                // users of the cluster
                StormServer {
                    org.apache.zookeeper.server.auth.DigestLoginModule required
                    user_super="adminsecret"
                    user_bob="bob \\"the\\" secret";   /* a quote inside */
                };
                StormClient {
                    org.apache.zookeeper.server.auth.DigestLoginModule required
                    username="bob"
                    password="bobsecret";
                };
                """)
        #expect(jaas.options(of: "StormServer") == ["user_super": "adminsecret", "user_bob": #"bob "the" secret"#])
        #expect(jaas.options(of: "StormClient") == ["username": "bob", "password": "bobsecret"])
        #expect(jaas.sections["StormServer"]?.first?.flag == "required")
        #expect(jaas.options(of: "Client") == nil)
    }

    @Test func aBrokenJaasFileSaysWhereAndWhat() {
        let cases: [(String, String)] = [
            ("StormServer {\n  M required\n  user_a=\"x\"\n};", "line 4: entry 'M' does not end with ';'"),
            ("StormServer {\n  M required user_a=\"x\";\n", "line 3: section 'StormServer' is not closed with '};'"),
            (
                "StormServer {\n  M mandatory user_a=\"x\";\n};",
                "line 2: control flag 'mandatory' is not one of required, requisite, sufficient, optional"
            ),
            ("StormServer {\n  M required user_a=\"x;\n};", "line 2: quoted value is not closed"),
            ("A { M required; };\nA { M required; };", "line 2: section 'A' appears twice"),
            ("A { M required k=\"1\" k=\"2\"; };", "line 1: option 'k' appears twice in entry 'M'"),
            ("/* open\n\nA { };", "line 1: comment '/*' is not closed"),
            ("A { M required; }", "line 1: expected ';' after the '}' of section 'A'"),
        ]
        for (text, expected) in cases {
            #expect(throws: JaasConfiguration.ParseError.self) { try JaasConfiguration(parsing: text) }
            do {
                _ = try JaasConfiguration(parsing: text)
            } catch {
                #expect(error.description == expected)
            }
        }
    }

    private func jaasFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jaas-\(UUID().uuidString).conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func serversKnowTheirUsersAndClientsTheirLogin() throws {
        let path = try jaasFile(
            """
            StormServer { M required user_alice="a-pw" user_bob="b-pw"; };
            StormClient { M required username="alice" password="a-pw"; };
            """)
        let conf = StormConfig([
            "storm.thrift.transport": .string(Self.digest), "java.security.auth.login.config": .string(path),
        ])
        #expect(try ThriftSecurity.serverAuthentication(conf, .nimbus)?.users == ["alice": "a-pw", "bob": "b-pw"])
        #expect(try ThriftSecurity.clientCredentials(conf, .drpc) == .init(user: "alice", password: "a-pw"))
        // A port's own key overrides storm.thrift.transport, as in Storm.
        var simpleDRPC = conf.values
        simpleDRPC["drpc.thrift.transport"] = "org.apache.storm.security.auth.SimpleTransportPlugin"
        #expect(try ThriftSecurity.clientCredentials(StormConfig(simpleDRPC), .drpc) == nil)
        #expect(try ThriftSecurity.serverAuthentication(.defaults, .nimbus) == nil)
    }

    @Test func aDigestTransportWithoutUsableCredentialsIsOneLine() throws {
        let base: [String: ConfigValue] = ["storm.thrift.transport": .string(Self.digest)]
        func failure(_ extra: [String: ConfigValue], client: Bool = false) -> String {
            let conf = StormConfig(base.merging(extra) { $1 })
            do {
                if client {
                    _ = try ThriftSecurity.clientCredentials(conf, .nimbus)
                } else {
                    _ = try ThriftSecurity.serverAuthentication(conf, .nimbus)
                }
                return "no error"
            } catch {
                return error.description
            }
        }
        #expect(failure([:]).hasPrefix("config key 'java.security.auth.login.config' is not set"))
        #expect(
            failure(["java.security.auth.login.config": "/nonexistent/jaas.conf"]).contains(
                "'/nonexistent/jaas.conf' cannot be read"))
        let noServer = try jaasFile("StormClient { M required username=\"a\"; };")
        #expect(
            failure(["java.security.auth.login.config": .string(noServer)]).hasSuffix(
                "'\(noServer)' has no section StormServer"))
        #expect(
            failure(["java.security.auth.login.config": .string(noServer)], client: true).hasSuffix(
                "section StormClient needs username=\"...\" and password=\"...\""))
        let noUsers = try jaasFile("StormServer { M required debug=\"true\"; };")
        #expect(
            failure(["java.security.auth.login.config": .string(noUsers)]).hasSuffix(
                "section StormServer names no users (options user_NAME=\"password\")"))
        let broken = try jaasFile("StormServer {\n M required user_a=\"x\"\n};")
        #expect(
            failure(["java.security.auth.login.config": .string(broken)])
                == "config key 'java.security.auth.login.config' '\(broken)' line 3: entry 'M' does not end with ';'")
    }

    @Test func securityADaemonCannotGiveIsRefusedNotIgnored() throws {
        #expect(
            try SecuritySettings.openClusterWarning(.defaults)?.hasPrefix("this cluster accepts any client") == true)
        let kerberos = StormConfig([
            "nimbus.thrift.transport": "org.apache.storm.security.auth.kerberos.KerberosSaslTransportPlugin"
        ])
        #expect(throws: ConfigError.self) { try SecuritySettings.openClusterWarning(kerberos) }
        let otherAuthorizer = StormConfig([
            "nimbus.authorizer": "org.apache.storm.security.auth.authorizer.DenyAuthorizer",
            "storm.thrift.transport": .string(Self.digest),
        ])
        #expect(throws: ConfigError.self) { try SecuritySettings.openClusterWarning(otherAuthorizer) }
        do {
            _ = try SecuritySettings.openClusterWarning(
                StormConfig(["nimbus.authorizer": .string(SimpleACLAuthorizer.className)]))
            Issue.record("an authorizer without authentication was accepted")
        } catch {
            #expect(error.description.hasPrefix("config key 'nimbus.authorizer' needs authenticated clients"))
        }
        let path = try jaasFile("StormServer { M required user_a=\"x\"; };")
        var secured: [String: ConfigValue] = [
            "storm.thrift.transport": .string(Self.digest), "java.security.auth.login.config": .string(path),
        ]
        #expect(
            try SecuritySettings.openClusterWarning(StormConfig(secured))?.contains("nimbus.authorizer is not set")
                == true)
        secured["nimbus.authorizer"] = .string(SimpleACLAuthorizer.className)
        #expect(try SecuritySettings.openClusterWarning(StormConfig(secured)) == nil)
        // DRPC: authenticated callers without drpc.authorizer may call and serve anything, and it says so.
        #expect(
            try SecuritySettings.openClusterWarning(StormConfig(secured), for: .drpc)?.contains(
                "drpc.authorizer is not set") == true)
        secured["drpc.authorizer"] = "org.apache.storm.security.auth.authorizer.DRPCSimpleACLAuthorizer"
        #expect(try SecuritySettings.openClusterWarning(StormConfig(secured), for: .drpc) == nil)
        secured["storm.thrift.transport"] = nil
        #expect(throws: ConfigError.self) { try SecuritySettings.openClusterWarning(StormConfig(secured), for: .drpc) }
    }

    /// SimpleACLAuthorizer's order: admins, then supervisors (their operations only), then users, then the
    /// topology's users and read-only users.
    @Test func theAuthorizerDecidesAsStormsSimpleACLAuthorizer() throws {
        let authorizer = try SimpleACLAuthorizer(
            conf: StormConfig([
                "nimbus.admins": ["admin"], "nimbus.supervisor.users": ["sup"],
                "nimbus.users": ["alice", "bob", "carol"],
                "nimbus.admins.groups": ["wheel"],
            ]),
            groupsOf: { $0 == "gina" ? ["wheel"] : ($0 == "dave" ? ["ops"] : []) })
        let topology: [String: ConfigValue] = [
            "topology.users": ["alice"], "topology.readonly.users": ["carol"], "topology.groups": ["ops"],
        ]
        func permits(_ who: String, _ operation: String) -> Bool {
            authorizer.permits(principal: who, operation: operation, topologyConf: topology)
        }
        #expect(permits("admin", "killTopology") && permits("admin@EXAMPLE.COM", "fileDownload"))
        #expect(permits("gina", "killTopology"))
        #expect(permits("sup", "fileDownload") && !permits("sup", "getClusterInfo") && !permits("sup", "killTopology"))
        #expect(permits("alice", "killTopology") && permits("alice/host@REALM", "rebalance"))
        #expect(
            !permits("bob", "killTopology") && !permits("bob", "getTopologyConf") && permits("bob", "submitTopology"))
        #expect(permits("carol", "getTopologyConf") && !permits("carol", "killTopology"))
        #expect(permits("dave", "killTopology") && !permits("dave", "getClusterInfo"))
        #expect(!permits("alice", "fileDownload"))
        #expect(!permits("mallory", "getClusterInfo"))
        let open = try SimpleACLAuthorizer(conf: .defaults, groupsOf: { _ in [] })
        #expect(open.permits(principal: "anyone", operation: "getClusterInfo", topologyConf: nil))
        #expect(!open.permits(principal: "anyone", operation: "killTopology", topologyConf: topology))
        #expect(SimpleACLAuthorizer.localUser("alice/host.example.com@EXAMPLE.COM") == "alice")
        #expect(UnixGroups.groups(of: "root").contains("root"))
        #expect(UnixGroups.groups(of: "no-such-user-here").isEmpty)
        #expect(throws: ConfigError.self) { try SimpleACLAuthorizer(conf: StormConfig(["nimbus.admins": 3])) }
    }

    /// Storm's ImpersonationAuthorizer: an entry by principal or local user, its hosts (names resolve) and the
    /// groups of the users it may act for; `*` allows any; no entry, nobody.
    @Test func impersonationFollowsTheACL() throws {
        let acl = try ImpersonationACL(
            conf: StormConfig([
                "nimbus.impersonation.acl": [
                    "ui": ["hosts": ["ui-host.example"], "groups": ["staff"]],
                    "proxy": ["hosts": ["*"], "groups": ["*"]],
                ]
            ]),
            groupsOf: { $0 == "alice" ? ["staff"] : [] },
            addressesOf: { $0 == "ui-host.example" ? ["10.0.0.5"] : [] })
        #expect(acl.permits("ui", actingFor: "alice", from: "10.0.0.5"))
        #expect(acl.permits("ui/ui-host.example@REALM", actingFor: "alice@REALM", from: "::ffff:10.0.0.5"))
        #expect(!acl.permits("ui", actingFor: "bob", from: "10.0.0.5"), "bob is in no allowed group")
        #expect(!acl.permits("ui", actingFor: "alice", from: "10.0.0.6"), "not from an allowed host")
        #expect(acl.permits("proxy", actingFor: "bob", from: "192.0.2.1"))
        #expect(!acl.permits("alice", actingFor: "bob", from: "10.0.0.5"), "no entry: acts for nobody")
        #expect(!(try ImpersonationACL(conf: .defaults)).permits("ui", actingFor: "alice", from: "127.0.0.1"))
        #expect(ImpersonationACL.addresses(of: "127.0.0.1") == ["127.0.0.1"])
        for bad: ConfigValue in [["ui": "everyone"], "ui", ["ui": ["hosts": 3]]] {
            #expect(throws: ConfigError.self) {
                try ImpersonationACL(conf: StormConfig(["nimbus.impersonation.acl": bad]))
            }
        }
    }

    /// Worker links' and run-as-owner settings: a value of the wrong kind is one line, as is links turned on
    /// with no secret to prove.
    @Test func linkAndRunAsOwnerSettingsAreCheckedInOneLine() throws {
        #expect(try !WorkerLinkAuthentication.enabled(.defaults))
        #expect(try WorkerLinkAuthentication.enabled(StormConfig(["storm.messaging.netty.authentication": true])))
        #expect(
            throws: ConfigError.wrongType("storm.messaging.netty.authentication", expected: "true or false", got: "yes")
        ) {
            try WorkerLinkAuthentication.enabled(StormConfig(["storm.messaging.netty.authentication": "yes"]))
        }
        #expect(try WorkerLinkAuthentication.secret(.defaults) == nil)
        do {
            _ = try WorkerLinkAuthentication.secret(StormConfig(["storm.messaging.netty.authentication": true]))
            Issue.record("links on with no secret were accepted")
        } catch {
            #expect(error.description.hasPrefix("config key 'storm.zookeeper.topology.auth.payload' is not set"))
        }
        let secret = WorkerLinkAuthentication.newSecret()
        let parts = secret.split(separator: ":")
        #expect(parts.map(\.count) == [16, 64] && parts.joined().allSatisfy(\.isHexDigit))
        #expect(secret != WorkerLinkAuthentication.newSecret())
        #expect(try !UnixUser.runsWorkersAsOwner(.defaults))
        #expect(try UnixUser.runsWorkersAsOwner(StormConfig(["supervisor.run.worker.as.user": true])))
        #expect(throws: ConfigError.wrongType("supervisor.run.worker.as.user", expected: "true or false", got: 1)) {
            try UnixUser.runsWorkersAsOwner(StormConfig(["supervisor.run.worker.as.user": 1]))
        }
    }
}
