// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "storm-swift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "storm", targets: ["storm"]),
        // For programs that bring their own Swift components: register them, then run the CLI.
        .library(name: "StormCLI", targets: ["StormCLI"]),
        .library(name: "StormComponents", targets: ["Components", "Tuples", "StormMetrics"]),
        // LocalCluster for users' tests: topologies run in the test's process.
        .library(name: "StormLocalCluster", targets: ["LocalCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        // HTTP for `storm ui` (and, later, DRPC's HTTP side and the log viewer). Its default traits pull in
        // swift-configuration and full Foundation, which nothing here uses.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .target(name: "Locking"),
        // The few GNU descriptor calls Swift's Glibc module leaves out: spawning and accepting without leaks.
        .target(name: "CDescriptors"),
        // The C++ side of the Thrift binding: the only code that calls libthrift.
        .target(
            name: "CThriftBridge",
            dependencies: ["CTLS"],
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: [
                .linkedLibrary("thriftnb"), .linkedLibrary("event"), .linkedLibrary("thrift"), .linkedLibrary("m"),
            ]
        ),
        // Debian's OpenSSL: keystores and truststores as Storm names them, and TLS over a blocking socket.
        .target(
            name: "CTLS",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // Swift types of idl/storm.thrift and the protocol, client, server and serialization over the bridge.
        .target(
            name: "StormThrift",
            dependencies: ["CThriftBridge", "Locking", .product(name: "Logging", package: "swift-log")]
        ),
        // Debian's ZooKeeper C client, and an async/await Swift client over it.
        .systemLibrary(name: "CZooKeeper"),
        // Debian's OpenSSL libcrypto: the HMAC that authenticates worker links.
        .systemLibrary(name: "COpenSSL"),
        .target(
            name: "ZooKeeper",
            dependencies: ["CZooKeeper", "COpenSSL", "Locking", .product(name: "Logging", package: "swift-log")]
        ),
        // Debian's ZooKeeper server as a child process: `storm dev-zookeeper` and the tests' own servers.
        .target(name: "DevZooKeeper"),
        // Configuration (Storm's keys, defaults, YAML, precedence) and the topology rules every daemon shares.
        .target(
            name: "StormCore",
            dependencies: ["StormThrift", "Locking", "Yams"]
        ),
        // Values and tuples: the compact wire encoding and the stable hash fields groupings use.
        .target(name: "Tuples"),
        // Storm's groupings: which tasks each tuple goes to.
        .target(name: "Groupings", dependencies: ["Tuples", "StormThrift"]),
        // The Swift component API (spouts, bolts, collectors, context), the built-in components and the
        // registry that maps Storm class names to them, and a TopologyBuilder.
        .target(
            name: "Components",
            dependencies: [
                "Tuples", "Groupings", "StormThrift", "StormCore", "Locking", "StormMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Metrics: a bounded registry behind swift-metrics, the process' own figures, Prometheus' text format.
        .target(name: "StormMetrics", dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")]),
        // `GET /metrics` on a daemon's HTTP server.
        .target(
            name: "MetricsHTTP",
            dependencies: ["StormMetrics", .product(name: "Hummingbird", package: "hummingbird")]),
        // Storm's multilang protocol: shell spouts and bolts as child processes speaking JSON over stdio.
        .target(
            name: "Multilang",
            dependencies: [
                "Components", "Tuples", "StormCore", "StormThrift", "Locking", "CDescriptors", "StormMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Runs a topology's executors as threads: batched queues between them, collectors that route.
        .target(
            name: "Runtime",
            dependencies: [
                "Components", "Groupings", "Tuples", "StormCore", "StormThrift", "Locking", "StormMetrics",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Frames between workers over TCP: a receiving server on the slot port, a sender thread per peer, and every
        // byte layout the wire has (frames, batches of tuples, backpressure statuses).
        .target(
            name: "Transport",
            dependencies: [
                "Runtime", "Tuples", "Locking", "CDescriptors", "COpenSSL", "CTLS",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // A worker process: runs its slot's executors, moves tuples to and from its peers, heartbeats, follows
        // its assignment.
        .target(
            name: "Worker",
            dependencies: [
                "Runtime", "Multilang", "Transport", "ClusterState", "Components", "StormCore", "StormThrift", "Tuples",
                "Locking", "StormMetrics", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Storm's Flux YAML topology files.
        .target(name: "Flux", dependencies: ["Components", "StormCore", "StormThrift", "Yams"]),
        // Storage of the cluster state: the interface, an in-memory store, and the typed records over it.
        .target(
            name: "ClusterState",
            dependencies: [
                "StormThrift", "StormCore", "Locking", "ZooKeeper", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Nimbus",
            dependencies: [
                "StormThrift", "StormCore", "ClusterState", "Locking", "Components", "StormMetrics", "Tuples",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Supervisor",
            dependencies: [
                "StormThrift", "StormCore", "ClusterState", "Locking", "ZIPFoundation", "CDescriptors", "StormMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Storm's LocalCluster: an in-memory nimbus and its topologies running in this process.
        .target(
            name: "LocalCluster",
            dependencies: [
                "Nimbus", "Runtime", "Multilang", "ClusterState", "Components", "StormCore", "StormThrift", "Locking",
                "DRPC", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the HTTP daemons share: their listeners (plain and TLS) and who may use them.
        .target(
            name: "DaemonHTTP",
            dependencies: [
                "StormCore", "Locking", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `storm ui`: Storm's REST API and our web pages, over the leader nimbus' Thrift API.
        .target(
            name: "UI",
            dependencies: [
                "StormThrift", "StormCore", "Locking", "StormMetrics", "MetricsHTTP", "DaemonHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Pages")]
        ),
        // Distributed RPC: the requests a DRPC server holds and its Thrift services (also what local mode runs).
        .target(
            name: "DRPC",
            dependencies: ["StormThrift", "StormCore", "Locking", .product(name: "Logging", package: "swift-log")]
        ),
        // `storm drpc`: the DRPC server as a daemon, with its HTTP side.
        .target(
            name: "DRPCDaemon",
            dependencies: [
                "DRPC", "StormThrift", "StormCore", "StormMetrics", "MetricsHTTP", "DaemonHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `storm logviewer`: a node's logs over HTTP.
        .target(
            name: "LogViewer",
            dependencies: [
                "StormCore", "StormMetrics", "MetricsHTTP", "DaemonHTTP",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "storm", dependencies: ["StormCLI"]),
        // An example of shipping your own components: a `storm` with one more bolt.
        .executableTarget(name: "storm-example-custom", dependencies: ["StormCLI", "Components", "Tuples"]),
        .target(
            name: "StormCLI",
            dependencies: [
                "StormThrift", "StormCore", "ClusterState", "Nimbus", "Supervisor", "Worker", "LocalCluster",
                "DevZooKeeper", "Flux", "Locking", "UI", "DRPC", "DRPCDaemon", "LogViewer", "Components",
                "Runtime", "ZIPFoundation", "StormMetrics", "MetricsHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Benchmarks a nimbus process over TCP (see docs/performance.md).
        .executableTarget(
            name: "nimbus-bench",
            dependencies: [
                "StormThrift", "Locking", "DevZooKeeper",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Measures the tuple path's pieces (see docs/performance.md).
        .executableTarget(
            name: "tuple-bench",
            dependencies: ["Tuples", "Groupings", "StormThrift", "Runtime", "Components", "StormCore"]),
        .testTarget(name: "StormThriftTests", dependencies: ["StormThrift", "Locking", "TestSupport"]),
        // Helpers shared by the test targets.
        .target(name: "TestSupport", path: "Sources/TestSupport"),
        .testTarget(
            name: "ZooKeeperTests", dependencies: ["ZooKeeper", "CZooKeeper", "DevZooKeeper", "Locking", "TestSupport"]),
        .testTarget(name: "TuplesTests", dependencies: ["Tuples"]),
        .testTarget(name: "GroupingsTests", dependencies: ["Groupings", "Tuples", "StormThrift"]),
        .testTarget(
            name: "ComponentsTests",
            dependencies: [
                "Components", "Tuples", "StormThrift", "StormCore", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "RuntimeTests",
            dependencies: [
                "Runtime", "Transport", "Components", "Groupings", "Tuples", "StormCore", "StormThrift", "Locking",
                "TestSupport",
            ]),
        .testTarget(name: "FluxTests", dependencies: ["Flux", "Components", "StormThrift"]),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "ZIPFoundation"]),
        .testTarget(name: "StormCoreTests", dependencies: ["StormCore"]),
        .testTarget(name: "UITests", dependencies: ["UI", "StormThrift", "StormCore"]),
        .testTarget(name: "LogViewerTests", dependencies: ["LogViewer", "StormCore"]),
        .testTarget(name: "DaemonHTTPTests", dependencies: ["DaemonHTTP", "StormCore"]),
        .testTarget(
            name: "StormMetricsTests",
            dependencies: ["StormMetrics", .product(name: "CoreMetrics", package: "swift-metrics")]),
        .testTarget(
            name: "DRPCTests", dependencies: ["DRPC", "DRPCDaemon", "StormThrift", "StormCore", "TestSupport"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Locking", "TestSupport"]),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "Worker", "Runtime", "Transport", "Components", "StormCore", "StormThrift", "Tuples", "Locking",
                "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "MultilangTests",
            dependencies: [
                "Multilang", "Components", "StormCore", "StormThrift", "Tuples", "TestSupport", "StormMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]),
        .testTarget(
            name: "LocalClusterTests",
            dependencies: [
                "LocalCluster", "Components", "Runtime", "StormThrift", "StormCore", "TestSupport", "Tuples", "Locking",
            ]),
        .testTarget(
            name: "ClusterStateTests",
            dependencies: [
                "ClusterState", "StormCore", "StormThrift", "Locking", "ZooKeeper", "DevZooKeeper", "TestSupport",
            ]),
        .testTarget(
            name: "NimbusTests",
            dependencies: ["Nimbus", "ClusterState", "StormCore", "StormThrift", "Locking", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
