/// The C allocator's settings a worker process starts with. A word count allocates each tuple's values on one
/// executor's thread and frees them on another's; with glibc's per-thread cache of freed blocks raised from 7
/// to 1,000 per size, the 1/1/1 word count ran 13% to 18% faster in six alternating runs of each
/// (docs/performance.md). glibc reads its tunables only at a process' start, hence an environment variable.
public enum WorkerMallocTuning {
    public static let tunable = "glibc.malloc.tcache_count"
    public static let value = 1000

    /// `environment` with the tunable added to `GLIBC_TUNABLES`, unless it sets that tunable already (the
    /// operator's choice stands).
    public static func environment(_ environment: [String: String]) -> [String: String] {
        var out = environment
        let current = environment["GLIBC_TUNABLES"] ?? ""
        guard !current.split(separator: ":").contains(where: { $0.hasPrefix(tunable + "=") }) else { return out }
        out["GLIBC_TUNABLES"] = (current.isEmpty ? "" : current + ":") + "\(tunable)=\(value)"
        return out
    }
}
