/// Where a Flux file's classpath resources come from: Flux's `--resource` file, its `--filter` file then, and
/// includes with `resource: true`. Storm reads them from the topology jar's classpath; here, from the topology
/// archive's entries.
public protocol FluxResources {
    /// The text of the resource `name` (Java's resource name: a leading `/` is the archive's root, and so is
    /// no slash, as nothing lives in Flux's own package folder), and how messages name it.
    func read(_ name: String) throws(FluxTopology.Failure) -> (text: String, source: String)
}
