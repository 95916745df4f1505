import Components

extension ComponentRegistry {
    /// Lets topologies run shell components from this registry: a worker and local mode call it before they start
    /// one. Calling it again changes nothing.
    public func registerMultilang() {
        registerShellComponents { spec in
            switch spec.kind {
            case .spout:
                ShellSpout(
                    command: spec.command, streams: spec.streams, environment: spec.environment, logger: spec.logger)
            case .bolt:
                ShellBolt(
                    command: spec.command, streams: spec.streams, environment: spec.environment, logger: spec.logger)
            }
        }
    }
}
