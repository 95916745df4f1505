import DaemonHTTP
import Hummingbird
import StormCore
import StormThrift

/// The POST actions of Storm's REST API: activate, deactivate, rebalance, kill and debug a topology by id (debug
/// a component too). Refused with 403 when `ui.actions.enabled` is false.
struct TopologyActions {
    let api: RestAPI

    func register(on group: RouterGroup<DaemonRequestContext>) {
        let nimbus = api.nimbus
        group.post("topology/:id/activate") { request, context in
            await act(request, context, "activate") { id in
                let name = try await name(of: id)
                try await nimbus.call { try $0.activate(name: name) }
            }
        }
        group.post("topology/:id/deactivate") { request, context in
            await act(request, context, "deactivate") { id in
                let name = try await name(of: id)
                try await nimbus.call { try $0.deactivate(name: name) }
            }
        }
        group.post("topology/:id/rebalance/:wait") { request, context in
            var request = request
            let body = try? await request.collectBody(upTo: 1 << 20)
            return await act(request, context, "rebalance") { id in
                var options = try Self.rebalanceOptions(body.map { String(buffer: $0) } ?? "")
                options.waitSecs = try Self.waitSecs(context)
                let name = try await name(of: id)
                try await nimbus.call { [options] in try $0.rebalance(name: name, options: options) }
            }
        }
        group.post("topology/:id/debug/:action/:spct") { request, context in
            await act(request, context, "debug") { id in
                try await debug(id: id, component: "", context)
            }
        }
        group.post("topology/:id/component/:component/debug/:action/:spct") { request, context in
            await act(request, context, "debug") { id in
                try await debug(id: id, component: try RestAPI.path(context, "component"), context)
            }
        }
        group.post("topology/:id/kill/:wait") { request, context in
            await act(request, context, "kill") { id in
                let wait = try Self.waitSecs(context)
                let name = try await name(of: id)
                try await nimbus.call { try $0.killTopologyWithOpts(name: name, options: KillOptions(waitSecs: wait)) }
            }
        }
    }

    private func act(
        _ request: Request, _ context: DaemonRequestContext, _ operation: String,
        _ body: @escaping @Sendable (String) async throws -> Void
    ) async -> Response {
        await api.respond(request) {
            guard api.actionsEnabled else {
                throw APIError(
                    status: .forbidden, message: "actions are disabled on this UI (ui.actions.enabled is false)")
            }
            let id = try RestAPI.path(context, "id")
            try await body(id)
            return .map([
                "topologyOperation": .string(operation), "topologyId": .string(id), "status": .string("success"),
            ])
        }
    }

    /// Storm's `debug/:action/:spct`: action `enable` or `disable`, the sampling percentage a number.
    private func debug(id: String, component: String, _ context: DaemonRequestContext) async throws {
        let action = try RestAPI.path(context, "action")
        guard action == "enable" || action == "disable" else {
            throw APIError.badRequest("debug action '\(action)' is not enable or disable")
        }
        let text = try RestAPI.path(context, "spct")
        guard let percentage = Double(text), percentage.isFinite else {
            throw APIError.badRequest("sampling percentage '\(text)' is not a number")
        }
        let name = try await name(of: id)
        do {
            try await api.nimbus.call {
                try $0.debug(
                    name: name, component: component, enable: action == "enable", samplingPercentage: percentage)
            }
        } catch let refusal as ThriftApplicationException {
            throw APIError.badRequest(refusal.message)
        }
    }

    /// Nimbus' actions take a topology's name; the API names it by id.
    private func name(of id: String) async throws -> String {
        try await api.nimbus.call { try $0.getTopologySummary(id: id) }.name
    }

    static func waitSecs(_ context: DaemonRequestContext) throws -> Int32 {
        let text = try RestAPI.path(context, "wait")
        guard let wait = Int32(text), wait >= 0 else {
            throw APIError.badRequest("wait time '\(text)' is not a whole number of seconds")
        }
        return wait
    }

    /// Storm's body: `{"rebalanceOptions": {"numWorkers": 2, "executors": {"spout": 4, "count": "10"}}}`, all optional.
    static func rebalanceOptions(_ body: String) throws -> RebalanceOptions {
        var options = RebalanceOptions()
        guard !body.allSatisfy(\.isWhitespace) else { return options }
        let root: [String: ConfigValue]
        do {
            root = try JSON.decodeObject(body)
        } catch {
            throw APIError.badRequest("the rebalance body is not a JSON object: \(error)")
        }
        guard let requested = root["rebalanceOptions"], !requested.isNull else { return options }
        guard case .map(let fields) = requested else {
            throw APIError.badRequest("rebalanceOptions must be a JSON object")
        }
        if let workers = fields["numWorkers"], !workers.isNull {
            guard let n = workers.intValue, n > 0, let count = Int32(exactly: n) else {
                throw APIError.badRequest("rebalanceOptions.numWorkers must be a positive whole number")
            }
            options.numWorkers = count
        }
        if let executors = fields["executors"], !executors.isNull {
            guard case .map(let byComponent) = executors else {
                throw APIError.badRequest("rebalanceOptions.executors must map component ids to counts")
            }
            var counts: [String: Int32] = [:]
            for (component, value) in byComponent {
                guard let n = value.intValue, n > 0, let count = Int32(exactly: n) else {
                    throw APIError.badRequest(
                        "rebalanceOptions.executors.\(component) must be a positive whole number")
                }
                counts[component] = count
            }
            options.numExecutors = counts
        }
        return options
    }
}
