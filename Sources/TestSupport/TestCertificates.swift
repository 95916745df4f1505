import Foundation

/// Certificates for TLS tests, made once per test process by the openssl command: a CA; a server certificate for
/// 127.0.0.1 and localhost ("server"); client certificates signed by the CA ("alice", "bob"); a rogue CA and a
/// certificate it signed ("mallory"). Each certificate is in `NAME.crt`, its key in `NAME.key`, both in `NAME.pem`,
/// and as PKCS#12 in `NAME.p12` with the password `NAME-pw`.
public enum TestCertificates {
    public static let folder: String = {
        let path = NSTemporaryDirectory() + "test-certificates-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        make(in: path)
        return path
    }()

    /// The path of a file made (`ca.crt`, `alice.pem`, `server.p12`, ...).
    public static func path(_ name: String) -> String { "\(folder)/\(name)" }

    private static func openssl(_ arguments: [String], in folder: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
    }

    private static func make(in folder: String) {
        for ca in ["ca", "rogue"] {
            openssl(
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(ca) CA", "-keyout",
                    "\(ca).key", "-out", "\(ca).crt",
                ], in: folder)
        }
        for (name, ca, subject, san) in [
            ("server", "ca", "/CN=server", "IP:127.0.0.1,DNS:localhost"), ("alice", "ca", "/O=storm/CN=alice", nil),
            ("bob", "ca", "/O=storm/CN=bob", nil), ("mallory", "rogue", "/O=storm/CN=mallory", nil),
        ] {
            var arguments = [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject, "-CA", "\(ca).crt",
                "-CAkey", "\(ca).key", "-keyout", "\(name).key", "-out", "\(name).crt",
            ]
            if let san { arguments += ["-addext", "subjectAltName=\(san)"] }
            openssl(arguments, in: folder)
            let pem = (try? String(contentsOfFile: "\(folder)/\(name).crt", encoding: .utf8)) ?? ""
            let key = (try? String(contentsOfFile: "\(folder)/\(name).key", encoding: .utf8)) ?? ""
            try? (pem + key).write(toFile: "\(folder)/\(name).pem", atomically: true, encoding: .utf8)
            openssl(
                [
                    "pkcs12", "-export", "-in", "\(name).crt", "-inkey", "\(name).key", "-out", "\(name).p12",
                    "-passout", "pass:\(name)-pw",
                ], in: folder)
        }
    }
}
