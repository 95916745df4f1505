import DaemonHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MetricsHTTP
import NIOCore
import StormCore
import StormMetrics

/// Storm's log viewer routes: worker logs under `<storm.log.dir>/workers-artifacts` (`file=topology/port/name`),
/// daemon logs directly in `storm.log.dir` (`file=name`).
enum LogViewerHTTP {
    static func register(
        on router: Router<DaemonRequestContext>, workers: LogDirectory, daemons: LogDirectory, access: LogAccess,
        hostname: String, scheme: String = "http"
    ) {
        let process = ProcessMetrics(labels: [Label("daemon", "logviewer"), Label("host", hostname)])
        router.addMetricsRoute { PrometheusText.render(process.families()) }
        let api = router.group("api/v1")
        api.get("listLogs") { request, _ in
            let query = FormQuery(request.uri.query)
            let user = HTTPUser.current
            return json(
                .list(
                    workers.workerFiles(
                        topologyId: query["topoId"].flatMap { $0.isEmpty ? nil : $0 },
                        port: query["port"].flatMap { $0.isEmpty ? nil : $0 }
                    ).filter { access.mayReadWorkerLog($0, as: user) }.map { .string($0) }))
        }
        // Storm's answer to a user who may not read a log.
        @Sendable func refused(_ request: Request, daemon: Bool) -> Response? {
            let name = FormQuery(request.uri.query)["file"] ?? ""
            let user = HTTPUser.current
            let allowed = daemon ? access.mayReadDaemonLog(as: user) : access.mayReadWorkerLog(name, as: user)
            return allowed ? nil : text(.forbidden, "User '\(user ?? "")' is not authorized.", type: "text/html")
        }
        api.get("log") { request, _ in
            refused(request, daemon: false) ?? page(request, workers, nil, "/api/v1/log")
        }
        api.get("daemonlog") { request, _ in
            refused(request, daemon: true) ?? page(request, daemons, 1, "/api/v1/daemonlog")
        }
        api.get("download") { request, context in
            if let refusal = refused(request, daemon: false) { return refusal }
            return await download(request, workers, nil, context)
        }
        api.get("daemondownload") { request, context in
            if let refusal = refused(request, daemon: true) { return refusal }
            return await download(request, daemons, 1, context)
        }
        api.get("search") { request, _ in
            let query = FormQuery(request.uri.query)
            let daemon = query["is-daemon"] == "yes"
            if let refusal = refused(request, daemon: daemon) { return refusal }
            let name = query["file"] ?? ""
            guard let path = (daemon ? daemons : workers).file(name, components: daemon ? 1 : nil) else {
                return jsonError(.notFound, "The file was not found on this node.")
            }
            let numMatches: Int
            let start: Int
            do throws(NotAnInteger) {
                numMatches = try int(query, "num-matches") ?? 10
                start = try int(query, "start-byte-offset") ?? 0
            } catch {
                return jsonError(.badRequest, "Could not parse \(error.name) to an integer")
            }
            guard numMatches > 0 else { return jsonError(.badRequest, "num-matches must be positive") }
            let needle = query["search-string"] ?? ""
            do throws(LogRequestError) {
                let search = try LogSearch.run(path, needle: needle, numMatches: min(numMatches, 1000), from: start)
                let host = request.head.authority ?? "localhost"
                let viewer = daemon ? "/api/v1/daemonlog" : "/api/v1/log"
                var body: [String: ConfigValue] = [
                    "isDaemon": .string(daemon ? "yes" : "no"), "searchString": .string(needle),
                    "startByteOffset": .int(Int64(start)),
                    "matches": .list(
                        search.matches.map { match in
                            let pageStart = max(0, match.byteOffset - LogPage.defaultLength / 2 + needle.utf8.count / 2)
                            return .map([
                                "byteOffset": .int(Int64(match.byteOffset)), "beforeString": .string(match.before),
                                "matchString": .string(match.match), "afterString": .string(match.after),
                                "logviewerURL": .string(
                                    "\(scheme)://\(host)\(viewer)?file=\(escaped(name))&start=\(pageStart)&length=\(LogPage.defaultLength)"
                                ),
                            ])
                        }),
                ]
                if let next = search.nextByteOffset { body["nextByteOffset"] = .int(Int64(next)) }
                return json(.map(body))
            } catch {
                return jsonError(error.kind == .notFound ? .notFound : .badRequest, error.description)
            }
        }
    }

    /// A page of a log as HTML, with links to the pages around it.
    private static func page(
        _ request: Request, _ directory: LogDirectory, _ components: Int?, _ route: String
    ) -> Response {
        let query = FormQuery(request.uri.query)
        let name = query["file"] ?? ""
        guard let path = directory.file(name, components: components) else {
            return text(.notFound, "Page not found", type: "text/html")
        }
        let logPage: LogPage
        do {
            logPage = try LogPage.read(path, start: try int(query, "start"), length: try int(query, "length"))
        } catch let error as NotAnInteger {
            return text(.badRequest, "Could not make an integer out of the query parameter '\(error.name)'")
        } catch let error as LogRequestError {
            return text(error.kind == .notFound ? .notFound : .badRequest, error.description)
        } catch {
            return text(.internalServerError, "\(error)")
        }
        let link = { (start: Int, label: String) in
            "<a href=\"\(route)?file=\(escaped(name))&start=\(start)&length=\(logPage.length)\">\(label)</a>"
        }
        let last = max(0, logPage.fileLength - logPage.length)
        var links: [String] = []
        if logPage.start > 0 {
            links += [link(0, "First"), link(max(0, logPage.start - logPage.length), "Prev")]
        }
        if logPage.start + logPage.length < logPage.fileLength {
            links += [link(min(last, logPage.start + logPage.length), "Next"), link(last, "Last")]
        }
        links.append(
            "<a href=\"\(route.replacingOccurrences(of: "log", with: "download"))?file=\(escaped(name))\">Download</a>")
        let body = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>\(html(name))</title></head><body>
            <h3>\(html(name))</h3><p id="range">bytes \(logPage.start) to \(logPage.start + logPage.text.utf8.count) of \
            \(logPage.fileLength)</p><p>\(links.joined(separator: " | "))</p><pre id="log">\(html(logPage.text))</pre>
            </body></html>
            """
        return text(.ok, body, type: "text/html;charset=utf-8")
    }

    /// The whole file, streamed in chunks as it is sent (a log may be far bigger than what a download should hold).
    private static func download(
        _ request: Request, _ directory: LogDirectory, _ components: Int?, _ context: DaemonRequestContext
    ) async -> Response {
        let name = FormQuery(request.uri.query)["file"] ?? ""
        guard let path = directory.file(name, components: components) else {
            return text(.notFound, "Page not found", type: "text/html")
        }
        let body: ResponseBody
        do {
            body = try await FileIO().loadFile(path: path, context: context)
        } catch {
            return text(.notFound, "Page not found", type: "text/html")
        }
        let host = ProcessInfo.processInfo.hostName
        let filename = "\(host)-\(name.replacingOccurrences(of: "/", with: "-"))"
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/octet-stream",
                .contentDisposition: "attachment; filename=\"\(filename)\"",
            ],
            body: body)
    }

    private struct NotAnInteger: Error {
        let name: String
    }

    /// A query parameter as an integer, nil when absent.
    private static func int(_ query: FormQuery, _ name: String) throws(NotAnInteger) -> Int? {
        guard let value = query[name], !value.isEmpty else { return nil }
        guard let number = Int(value) else { throw NotAnInteger(name: name) }
        return number
    }

    private static func escaped(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? value
    }

    private static func html(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String, type: String = "text/plain") -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func json(_ value: ConfigValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json;charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: (try? JSON.encode(value)) ?? "null")))
    }

    private static func jsonError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(.map(["error": .string(status.reasonPhrase), "errorMessage": .string(message)]), status: status)
    }
}

/// A request's query as a browser's form sends it and Storm's servlets read it: `+` is a space, then
/// percent-decoding; the first of a repeated name counts.
struct FormQuery {
    private var values: [String: String] = [:]

    init(_ raw: String?) {
        for pair in (raw ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            if values[name] == nil { values[name] = parts.count > 1 ? Self.decode(parts[1]) : "" }
        }
    }

    subscript(name: String) -> String? { values[name] }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
