/// The versions this implementation reports.
///
/// Clients parse the Storm version (streamparse reads nimbus' `NimbusSummary.version` with PEP 440 rules, others
/// with semver), so it is exactly the release whose interfaces we implement: a suffix such as `-swift` makes it
/// unparseable by PEP 440 and a pre-release that sorts below that release by semver. Our own identity goes only
/// where nobody parses it (`storm version`'s last line, logs).
public enum StormVersion {
    /// The Apache Storm release whose interfaces we match, in every version field clients see: nimbus' and the
    /// supervisors' summaries, and every topology's `storm_version`.
    public static let storm = "2.8.0"

    /// This implementation's name and version.
    public static let implementation = "storm-swift"
    public static let implementationVersion = "0.1.0"

    /// What `storm version` prints: the lines of Storm's own `storm version` (`VersionInfo`), with Storm's
    /// "Unknown" for the build facts a Swift package does not record, and then a line naming this implementation.
    public static var report: [String] {
        [
            "Storm \(storm)",
            "URL Unknown -r Unknown",
            "Branch Unknown",
            "Compiled by Unknown on Unknown",
            "From source with checksum Unknown",
            "\(implementation) \(implementationVersion) (Apache Storm \(storm) interfaces in Swift)",
        ]
    }
}
