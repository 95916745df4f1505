import Foundation
import Testing

@testable import DaemonHTTP
@testable import StormCore

@Suite struct HTTPDaemonSettingsTests {
    private static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-http-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    private func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = Self.folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// A self-signed certificate and its key, by the openssl command, in PEM and in PKCS#12.
    private func keystores() throws -> (pem: String, p12: String) {
        let pem = Self.folder.appendingPathComponent("server.pem").path
        let p12 = Self.folder.appendingPathComponent("server.p12").path
        if !FileManager.default.fileExists(atPath: p12) {
            try run([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "2",
                "-keyout", pem + ".key", "-out", pem + ".crt",
            ])
            let joined =
                try String(contentsOfFile: pem + ".crt", encoding: .utf8)
                + String(contentsOfFile: pem + ".key", encoding: .utf8)
            try joined.write(toFile: pem, atomically: true, encoding: .utf8)
            try run([
                "pkcs12", "-export", "-in", pem + ".crt", "-inkey", pem + ".key", "-out", p12, "-passout",
                "pass:store-pw",
            ])
        }
        return (pem, p12)
    }

    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " "))")
    }

    private func jaas() throws -> String {
        let path = Self.folder.appendingPathComponent("users.jaas").path
        try "StormServer {\n M required user_alice=\"alice-pw\";\n};\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func settings(_ daemon: HTTPDaemon, _ values: [String: ConfigValue]) throws -> HTTPDaemonSettings {
        try HTTPDaemonSettings(daemon, conf: StormConfig(values), httpPort: 8080)
    }

    private func refusal(_ daemon: HTTPDaemon, _ values: [String: ConfigValue]) -> String {
        do {
            _ = try settings(daemon, values)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func anOpenDaemonServesPlainHTTP() throws {
        let open = try settings(.ui, [:])
        #expect(open.httpPort == 8080)
        #expect(open.https == nil)
        guard case .anyone = open.authentication else { throw Failure("not open to anyone") }
        #expect(try HTTPDaemonSettings(.drpc, conf: StormConfig([:]), httpPort: -1).httpPort == nil)
    }

    /// Both keystore forms open; HTTPS turns plain HTTP off unless `disable.http.binding` is false, as in Storm.
    @Test func httpsReadsPKCS12AndPEMKeystores() throws {
        let (pem, p12) = try keystores()
        let fromP12 = try settings(
            .ui,
            ["ui.https.port": 8443, "ui.https.keystore.path": .string(p12), "ui.https.keystore.password": "store-pw"])
        #expect(fromP12.https?.port == 8443)
        #expect(fromP12.httpPort == nil)
        let both = try settings(
            .logviewer,
            [
                "logviewer.https.port": 8443, "logviewer.https.keystore.path": .string(pem),
                "logviewer.disable.http.binding": false,
            ])
        #expect(both.https?.port == 8443)
        #expect(both.httpPort == 8080)
        #expect(
            refusal(
                .ui,
                ["ui.https.port": 8443, "ui.https.keystore.path": .string(p12), "ui.https.keystore.password": "no"]
            )
            .hasPrefix(
                "config key 'ui.https.keystore.path' '\(p12)' is neither a PKCS#12 keystore this password opens nor PEM"
            ))
    }

    @Test func badTLSSettingsAreOneLine() throws {
        let jks = try file("server.jks", [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2])
        #expect(
            refusal(.drpc, ["drpc.https.port": 3775, "drpc.https.keystore.path": .string(jks)])
                .hasPrefix(
                    "config key 'drpc.https.keystore.path' '\(jks)' is a Java KeyStore (JKS), which this build cannot read: convert it with keytool -importkeystore"
                ))
        #expect(
            refusal(.ui, ["ui.https.port": 8443])
                == "config key 'ui.https.port' is set, but ui.https.keystore.path (the server's certificate and key) is not"
        )
        #expect(
            refusal(.ui, ["ui.https.port": 8443, "ui.https.keystore.path": "/no/such/file"])
                .hasPrefix("config key 'ui.https.keystore.path' '/no/such/file' cannot be read"))
        let (pem, _) = try keystores()
        #expect(
            refusal(
                .ui, ["ui.https.port": 8443, "ui.https.keystore.path": .string(pem), "ui.https.need.client.auth": true]
            )
            .hasPrefix("config key 'ui.https.need.client.auth' is true, but ui.https.truststore.path"))
        #expect(refusal(.ui, ["ui.https.port": "eighty"]).hasPrefix("config key 'ui.https.port' must be a port number"))
        #expect(
            refusal(
                .ui,
                ["ui.https.port": 8443, "ui.https.keystore.path": .string(pem), "ui.https.need.client.auth": "yes"])
                == "config key 'ui.https.need.client.auth' must be true or false, not \"yes\"")
    }

    @Test func authenticationSettingsAreCheckedInOneLine() throws {
        let (pem, _) = try keystores()
        let tls: [String: ConfigValue] = ["ui.https.port": 8443, "ui.https.keystore.path": .string(pem)]
        let basic = try settings(
            .ui,
            tls.merging(["ui.http.authentication": "basic", "java.security.auth.login.config": .string(try jaas())]) {
                $1
            })
        guard case .basic(let users) = basic.authentication else { throw Failure("not basic") }
        #expect(users == ["alice": "alice-pw"])
        #expect(
            refusal(.ui, ["ui.http.authentication": "basic", "java.security.auth.login.config": .string(try jaas())])
                .hasPrefix(
                    "config key 'ui.http.authentication' is basic, which sends passwords as they are: set ui.https.port"
                ))
        #expect(
            refusal(.ui, ["ui.filter": "org.apache.hadoop.security.authentication.server.AuthenticationFilter"])
                .hasPrefix(
                    "config key 'ui.filter' is \"org.apache.hadoop.security.authentication.server.AuthenticationFilter\", a Java servlet filter, which this build cannot run"
                ))
        #expect(refusal(.drpc, ["drpc.http.filter": "x.Filter"]).hasPrefix("config key 'drpc.http.filter' is"))
        // Storm's credentials plugins: its default is what logins here do; any other is a class we cannot run.
        #expect(
            refusal(.ui, ["ui.http.creds.plugin": "com.example.KerberosCreds"])
                .hasPrefix(
                    "config key 'ui.http.creds.plugin' is \"com.example.KerberosCreds\", a Java credentials plugin"))
        #expect(
            refusal(.drpc, ["drpc.http.creds.plugin": "x.Creds"]).hasPrefix("config key 'drpc.http.creds.plugin' is"))
        _ = try settings(
            .ui, ["ui.http.creds.plugin": "org.apache.storm.security.auth.DefaultHttpCredentialsPlugin"])
        #expect(
            refusal(.ui, ["ui.http.authentication": "header"])
                .hasPrefix("config key 'ui.http.trusted.proxies' is empty"))
        #expect(
            refusal(
                .ui,
                [
                    "ui.http.authentication": "header", "ui.http.trusted.proxies": ["10.0.0.1"],
                    "ui.http.user.header": "X User",
                ])
                == "config key 'ui.http.user.header' is 'X User', which is not an HTTP header name")
        #expect(
            refusal(.ui, ["ui.http.authentication": "kerberos"])
                == "config key 'ui.http.authentication' is \"kerberos\": give basic, header or none")
        // The log viewer follows the UI's settings when it has none of its own (Storm's follows ui.filter).
        let header = try settings(
            .logviewer, ["ui.http.authentication": "header", "ui.http.trusted.proxies": ["10.0.0.1"]])
        guard case .trustedHeader(let name, let proxies) = header.authentication else { throw Failure("not header") }
        #expect(name == "X-Forwarded-User" && proxies == ["10.0.0.1"])
        #expect(refusal(.logviewer, ["ui.filter": "x.Filter"]).hasPrefix("config key 'ui.filter' is"))
    }

    @Test func basicCredentialsAreReadAsBrowsersSendThem() {
        let encoded = Data("alice:pw:with:colons".utf8).base64EncodedString()
        #expect(AuthenticatingMiddleware.basicCredentials("Basic \(encoded)")! == ("alice", "pw:with:colons"))
        #expect(AuthenticatingMiddleware.basicCredentials("basic \(encoded)")! == ("alice", "pw:with:colons"))
        #expect(AuthenticatingMiddleware.basicCredentials("Bearer \(encoded)") == nil)
        #expect(AuthenticatingMiddleware.basicCredentials("Basic !!!") == nil)
        #expect(AuthenticatingMiddleware.basicCredentials("Basic \(Data(":pw".utf8).base64EncodedString())") == nil)
        #expect(AuthenticatingMiddleware.same("secret", "secret"))
        #expect(!AuthenticatingMiddleware.same("secret", "secreT"))
        #expect(!AuthenticatingMiddleware.same("secret", "secret2"))
        #expect(AuthenticatingMiddleware.plain("::ffff:10.0.0.1") == "10.0.0.1")
        #expect(AuthenticatingMiddleware.sameSite(origin: "https://ui.example:8443", host: "UI.example:8443"))
        #expect(!AuthenticatingMiddleware.sameSite(origin: "https://evil.example", host: "ui.example:8443"))
        #expect(!AuthenticatingMiddleware.sameSite(origin: "null", host: "ui.example:8443"))
    }
}

private struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
