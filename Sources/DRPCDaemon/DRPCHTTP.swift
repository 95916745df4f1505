import DRPC
import DaemonHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MetricsHTTP
import NIOCore
import StormCore
import StormMetrics
import StormThrift

/// DRPC over HTTP, as Storm's DRPC server answers it: `GET /drpc/FUNC/ARGS`, `GET /drpc/FUNC` (empty args) and
/// `POST /drpc/FUNC` (the body is the args) answer the result as text; a failed request answers Storm's JSON
/// error (`{"error": "SERVER_TIMEOUT", "errorMessage": "Timed Out"}`) with 400 (failed), 503 (shutting down), 504
/// (timed out) or 500; a caller `drpc.authorizer` refuses gets 403.
enum DRPCHTTP {
    static func register(
        on router: Router<DaemonRequestContext>, requests: DRPCRequests, authorizer: DRPCAuthorizer?,
        maxBody: Int = 1_048_576, hostname: String
    ) {
        let process = ProcessMetrics(labels: [Label("daemon", "drpc"), Label("host", hostname)])
        router.addMetricsRoute {
            let pending = MetricFamily(
                name: "storm_drpc_pending_requests", help: "DRPC requests waiting for their topology's answer.",
                kind: .gauge, samples: [.init(labels: process.labels, value: Double(await requests.count))])
            return PrometheusText.render(process.families() + [pending])
        }
        let drpc = router.group("drpc")
        drpc.get(":func/:args") { _, context in
            await answer(requests, authorizer, context.parameters.get("func"), context.parameters.get("args"))
        }
        drpc.get(":func") { _, context in
            await answer(requests, authorizer, context.parameters.get("func"), "")
        }
        drpc.post(":func") { request, context in
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxBody)
            } catch {
                return failure(.contentTooLarge, "Internal Error", "the arguments are over \(maxBody) bytes")
            }
            return await answer(requests, authorizer, context.parameters.get("func"), String(buffer: body))
        }
    }

    private static func answer(
        _ requests: DRPCRequests, _ authorizer: DRPCAuthorizer?, _ function: String?, _ args: String?
    ) async -> Response {
        guard let function = function?.removingPercentEncoding, !function.isEmpty,
            let args = args?.removingPercentEncoding
        else { return failure(.badRequest, "Internal Error", "the function or its arguments are not valid in a URL") }
        do {
            try authorizer?.check(.execute, function: function, principal: HTTPUser.current)
            let result = try await requests.execute(function: function, args: args)
            return Response(
                status: .ok, headers: [.contentType: "text/plain;charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: result)))
        } catch let error as DRPCExecutionException {
            let status: HTTPResponse.Status =
                switch error.type {
                case .failedRequest: .badRequest
                case .serverShutdown: .serviceUnavailable
                case .serverTimeout: .gatewayTimeout
                default: .internalServerError
                }
            return failure(status, error.type?.thriftName ?? "Internal Error", error.msg)
        } catch let error as AuthorizationException {
            return failure(.forbidden, "Not Authorized", error.msg)
        } catch {
            return failure(.internalServerError, "Internal Error", "\(error)")
        }
    }

    private static func failure(_ status: HTTPResponse.Status, _ kind: String, _ message: String) -> Response {
        let json = (try? JSON.encode(.map(["error": .string(kind), "errorMessage": .string(message)]))) ?? "{}"
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
