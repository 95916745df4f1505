import Hummingbird
import NIOCore
import StormMetrics

extension Router {
    /// `GET /metrics`: what `render` gives, in Prometheus' text format. Every daemon with an HTTP port serves one;
    /// nimbus and supervisors, which have none, serve it on a port of their own (`MetricsEndpoint`).
    public func addMetricsRoute(_ render: @escaping @Sendable () async -> String) {
        get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: PrometheusText.contentType],
                body: .init(byteBuffer: ByteBuffer(string: await render())))
        }
    }
}
