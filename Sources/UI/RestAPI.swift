import DaemonHTTP
import Foundation
import Hummingbird
import Logging
import StormCore
import StormThrift

/// Storm's REST API under `/api/v1`, answered from the leader nimbus' Thrift API. Every answer is JSON; every
/// failure is a JSON error with a fitting status (400 for bad input, 404 for an unknown id, 503 when no nimbus
/// answers), and none of them stops the daemon.
struct RestAPI: Sendable {
    let nimbus: LeaderNimbus
    let cluster: ClusterJSON
    let actionsEnabled: Bool
    let cache: AnswerCache
    let logger: Logger

    private var topology: TopologyJSON { TopologyJSON(cluster: cluster, actionsEnabled: actionsEnabled) }

    func register(on router: Router<DaemonRequestContext>) {
        let api = router.group("api/v1")
        api.get("cluster/configuration") { request, _ in
            await respond(request) {
                try JSON.decode(try await nimbus.call { try $0.getNimbusConf() })
            }
        }
        api.get("cluster/summary") { request, _ in
            await respond(request) { cluster.clusterSummary(try await nimbus.call { try $0.getClusterInfo() }) }
        }
        api.get("nimbus/summary") { request, _ in
            await respond(request) { cluster.nimbusSummary(try await nimbus.call { try $0.getClusterInfo() }) }
        }
        api.get("supervisor/summary") { request, _ in
            await respond(request) {
                cluster.supervisorSummary(try await nimbus.call { try $0.getClusterInfo() }.supervisors)
            }
        }
        api.get("supervisor") { request, _ in
            await respond(request) {
                let id = request.uri.queryParameters.get("id") ?? ""
                let host = request.uri.queryParameters.get("host") ?? ""
                guard !id.isEmpty || !host.isEmpty else {
                    throw APIError.badRequest("give a supervisor id (?id=) or a host (?host=)")
                }
                let sys = try Self.sys(request)
                return cluster.supervisorPage(
                    try await nimbus.call { try $0.getSupervisorPageInfo(id: id, host: host, isIncludeSys: sys) })
            }
        }
        api.get("topology/summary") { request, _ in
            await respond(request) {
                cluster.topologySummary(try await nimbus.call { try $0.getClusterInfo() }.topologies)
            }
        }
        api.get("owner-resources") { request, _ in
            await respond(request) {
                cluster.ownerResources(try await nimbus.call { try $0.getOwnerResourceSummaries(owner: "") })
            }
        }
        api.get("owner-resources/:owner") { request, context in
            await respond(request) {
                let owner = try Self.path(context, "owner")
                return cluster.ownerResources(
                    try await nimbus.call { try $0.getOwnerResourceSummaries(owner: owner) })
            }
        }
        api.get("history/summary") { request, _ in
            await respond(request) { cluster.history(try await nimbus.call { try $0.getTopologyHistory(user: "") }) }
        }
        api.get("topology-workers/:id") { request, context in
            await respond(request) {
                let id = try Self.path(context, "id")
                return topology.workers(try await nimbus.call { try $0.getTopologyInfo(id: id) })
            }
        }
        api.get("topology/:id") { request, context in
            await respond(request) {
                let id = try Self.path(context, "id")
                let (window, sys) = (try Self.window(request), try Self.sys(request))
                let page = try await nimbus.call {
                    try $0.getTopologyPageInfo(id: id, window: window, isIncludeSys: sys)
                }
                return topology.topologyPage(page, window: window, now: Self.now())
            }
        }
        api.get("topology/:id/metrics") { request, context in
            await respond(request) {
                let id = try Self.path(context, "id")
                let metrics = TopologyMetrics(window: try Self.window(request), includeSys: try Self.sys(request))
                return metrics.json(try await nimbus.call { try $0.getTopologyInfo(id: id) })
            }
        }
        api.get("topology/:id/visualization") { request, context in
            await respond(request) {
                let id = try Self.path(context, "id")
                let (window, sys) = (try Self.window(request), try Self.sys(request))
                let (page, graph) = try await nimbus.call { client in
                    (
                        try client.getTopologyPageInfo(id: id, window: window, isIncludeSys: sys),
                        sys ? try client.getTopology(id: id) : try client.getUserTopology(id: id)
                    )
                }
                return topology.visualization(page, topology: graph, includeSys: sys)
            }
        }
        api.get("topology/:id/component/:component") { request, context in
            await respond(request) {
                let id = try Self.path(context, "id")
                let component = try Self.path(context, "component")
                let (window, sys) = (try Self.window(request), try Self.sys(request))
                let page = try await nimbus.call {
                    try $0.getComponentPageInfo(
                        topologyId: id, componentId: component, window: window, isIncludeSys: sys)
                }
                return topology.componentPage(page, window: window, now: Self.now())
            }
        }
        TopologyActions(api: self).register(on: api)
        TopologyLogLevels(api: self).register(on: api)
        api.get("**") { request, _ in
            await respond(request) { throw APIError.notFound("no such endpoint: \(request.uri.path)") }
        }
    }

    /// Runs `body` and answers its JSON, or the error it threw. A GET's answer comes from the cache while it is
    /// fresh; any other method empties the cache once it has run. A `callback` parameter wraps the JSON in a call
    /// (JSONP), as Storm's UI does.
    func respond(_ request: Request, _ body: @escaping @Sendable () async throws -> ConfigValue) async -> Response {
        let logger = logger
        let compute: @Sendable () async -> AnswerCache.Answer = {
            let apiError: APIError
            do {
                return AnswerCache.Answer(status: .ok, text: try JSON.encode(try await body()))
            } catch {
                apiError = APIError(error)
            }
            if apiError.status == .internalServerError {
                logger.error("\(request.method) \(request.uri.path) failed: \(apiError.message)")
            }
            return AnswerCache.Answer(
                status: apiError.status,
                text: (try? JSON.encode(apiError.json)) ?? #"{"error":"500 Internal Server Error"}"#)
        }
        let answer: AnswerCache.Answer
        if request.method == .get {
            // Answers differ by user (what nimbus lets each see, a topology's secrets for its owner alone).
            answer = await cache.answer(for: (HTTPUser.current ?? "") + " " + request.uri.description, compute: compute)
        } else {
            answer = await compute()
            await cache.removeAll()
        }
        var text = answer.text
        var contentType = "application/json;charset=utf-8"
        // JSONP would let any web page read a logged-in user's answers (a script tag carries the browser's login).
        if HTTPUser.current == nil, let callback = request.uri.queryParameters.get("callback"),
            Self.isIdentifier(callback)
        {
            text = "\(callback)(\(text));"
            contentType = "application/javascript;charset=utf-8"
        }
        return Response(
            status: answer.status, headers: [.contentType: contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: parameters

    static func path(_ context: DaemonRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), let value = raw.removingPercentEncoding, !value.isEmpty else {
            throw APIError.badRequest("the \(name) in the path is empty or badly encoded")
        }
        return value
    }

    /// `window`: one of the windows Storm keeps; ":all-time" when absent, as Storm's API defaults.
    static func window(_ request: Request) throws -> String {
        guard let window = request.uri.queryParameters.get("window"), !window.isEmpty else { return Formatting.allTime }
        guard Formatting.windows.contains(window) else {
            throw APIError.badRequest(
                "unknown window '\(window)': use one of \(Formatting.windows.joined(separator: ", "))")
        }
        return window
    }

    /// `sys`: 1/true shows system components and streams; 0/false (the default) hides them.
    static func sys(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("sys")?.lowercased() {
        case nil, "", "0", "false": return false
        case "1", "true": return true
        case let other?: throw APIError.badRequest("sys must be 1 or 0, not '\(other)'")
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    private static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
    }
}
