import Logging
import StormThrift

/// Where shell components run: their working directory (the topology's `resources/`) and the folder their pid
/// files go to (so whoever cleans up after a worker can kill them).
public struct ShellEnvironment: Sendable {
    public let resourcesDirectory: String
    public let pidDirectory: String

    public init(resourcesDirectory: String, pidDirectory: String) {
        self.resourcesDirectory = resourcesDirectory
        self.pidDirectory = pidDirectory
    }
}

/// What a shell spout or bolt is made from: the registry hands it to the factory the multilang module registers.
public struct ShellComponentSpec: Sendable {
    public let componentId: String
    public let kind: ComponentRegistry.Kind
    public let command: [String]
    public let streams: [String: StreamInfo]
    public let environment: ShellEnvironment
    public let logger: Logger

    public init(
        componentId: String, kind: ComponentRegistry.Kind, command: [String], streams: [String: StreamInfo],
        environment: ShellEnvironment, logger: Logger
    ) {
        self.componentId = componentId
        self.kind = kind
        self.command = command
        self.streams = streams
        self.environment = environment
        self.logger = logger
    }
}
