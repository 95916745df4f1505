import DaemonHTTP
import Hummingbird

/// The web pages, compiled into the binary so `storm ui` needs no files beside it. Paths are Storm UI's own, so
/// bookmarks to `/topology.html?id=...` keep working.
enum StaticPages {
    private static let pages: [(name: String, type: String, bytes: [UInt8])] = [
        ("index.html", "text/html; charset=utf-8", PackageResources.index_html),
        ("topology.html", "text/html; charset=utf-8", PackageResources.topology_html),
        ("component.html", "text/html; charset=utf-8", PackageResources.component_html),
        ("supervisor.html", "text/html; charset=utf-8", PackageResources.supervisor_html),
        ("storm.css", "text/css; charset=utf-8", PackageResources.storm_css),
        ("storm.js", "text/javascript; charset=utf-8", PackageResources.storm_js),
    ]

    static func register(on router: Router<DaemonRequestContext>) {
        for page in pages {
            let response = Response(
                status: .ok, headers: [.contentType: page.type, .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: page.bytes)))
            router.get(RouterPath(page.name)) { _, _ in response }
            if page.name == "index.html" { router.get("/") { _, _ in response } }
        }
    }
}
