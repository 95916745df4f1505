import Foundation
import StormCore
import StormThrift
import Testing

@testable import Nimbus

@Suite struct NimbusSecurityTests {
    /// On a nimbus that does not authenticate, a principal the client's conf claims is dropped (a supervisor that
    /// runs workers as their owner would otherwise run them as anyone), and links are not authenticated.
    @Test func aClaimedPrincipalIsDroppedOnAClusterThatDoesNotAuthenticate() async throws {
        let f = try await NimbusFixture()
        try await f.submit(
            "claims", conf: #"{"topology.submitter.principal": "alice", "topology.submitter.user": "alice"}"#)
        let id = try #require(try await f.state.stormId(named: "claims"))
        let conf = try await f.nimbus.storedTopology(id: id).conf
        #expect(conf[ConfigKey.topologySubmitterPrincipal] == nil)
        #expect(conf[WorkerLinkAuthentication.payloadKey] == nil)
        #expect(throws: UnixUser.Failure.self) { try UnixUser.owner(ofTopologyConf: conf, id: id) }
    }

    /// With links authenticated, each topology gets a secret of its own, whatever its conf brought.
    @Test func eachTopologyGetsItsOwnLinkSecret() async throws {
        let f = try await NimbusFixture([WorkerLinkAuthentication.key: true])
        try await f.submit("one", conf: #"{"storm.zookeeper.topology.auth.payload": "chosen-by-the-client"}"#)
        try await f.submit("two")
        var secrets: [String] = []
        for name in ["one", "two"] {
            let id = try #require(try await f.state.stormId(named: name))
            let conf = try await f.nimbus.storedTopology(id: id).conf
            secrets.append(try #require(conf[WorkerLinkAuthentication.payloadKey]?.stringValue))
            #expect(conf[WorkerLinkAuthentication.key] == true)
            // What anyone but the owner reads of it.
            let shown = try await f.client { try $0.getTopologyConf(id: id) }
            #expect(shown.contains(#""storm.zookeeper.topology.auth.payload":"*****""#))
        }
        #expect(
            secrets[0] != "chosen-by-the-client" && secrets[0] != secrets[1]
                && secrets.allSatisfy { $0.split(separator: ":").map(\.count) == [16, 64] })
    }

    @Test func workersRunOnlyAsAnAuthenticatedOwnerWithAnAccountHere() throws {
        func failure(_ conf: [String: ConfigValue]) -> String {
            do {
                _ = try UnixUser.owner(ofTopologyConf: conf, id: "t-1-1")
                return "no failure"
            } catch {
                return error.description
            }
        }
        #expect(failure(["topology.submitter.user": "nobody"]).contains("was not submitted by an authenticated user"))
        #expect(
            failure(["topology.submitter.principal": "ghost", "topology.submitter.user": "no-such-user-here"])
                == "cannot run the workers of t-1-1 as its owner 'no-such-user-here': no such user on this host")
        #expect(
            failure(["topology.submitter.principal": "root", "topology.submitter.user": "root"])
                == "will not run the workers of t-1-1 as root, its owner 'root'")
        let nobody = try UnixUser.owner(
            ofTopologyConf: ["topology.submitter.principal": "nobody", "topology.submitter.user": "nobody"], id: "t-1-1"
        )
        #expect(nobody.name == "nobody" && nobody.uid != 0)
    }
}
