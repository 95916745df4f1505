/// The C allocator's settings a worker process starts with. A word count allocates each tuple's values on one
/// executor's thread and frees them on another's; glibc's per-thread cache of freed blocks, raised from 7 to 128
/// per size, keeps those blocks off the arena's lock (docs/performance.md). Every block a thread caches stays
/// in its RSS, so the cap is also the most the caches grow to: at 1,000, a worker's RSS crept up for an hour as
/// its threads filled them, for no speed measured over 128. glibc reads its tunables only at a process' start,
/// hence an environment variable.
public enum WorkerMallocTuning {
    public static let tunable = "glibc.malloc.tcache_count"
    public static let value = 128

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
