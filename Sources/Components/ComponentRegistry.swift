import Groupings
import Locking
import StormThrift
import Tuples

/// Components any client can name through `JavaObject.full_class_name`: the built-in ones (with Storm's class
/// names where Storm has them) and those a program registers before it starts its daemons.
public final class ComponentRegistry: Sendable {
    public enum Kind: String, Sendable { case spout, bolt }

    public struct Entry: Sendable {
        public let className: String
        public let kind: Kind
        /// Makes a component from the constructor arguments a topology gives (JavaObject.args_list).
        public let make: @Sendable ([JavaObjectArg]) throws -> any Component
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    private let entries = Locked<[String: Entry]>([:])
    private let groupings = Locked<[String: @Sendable ([JavaObjectArg]) throws -> any CustomStreamGrouping]>([:])

    /// How shell components are made: registered by the multilang module, so the runtime needs no knowledge of it.
    private let shellFactory = Locked<(@Sendable (ShellComponentSpec) throws -> any Component)?>(nil)

    public init() {}

    /// Every built-in component; `register` adds a program's own.
    public static let shared: ComponentRegistry = {
        let registry = ComponentRegistry()
        BuiltInComponents.register(in: registry)
        TestingComponents.register(in: registry)
        return registry
    }()

    public func register(
        _ className: String, kind: Kind, make: @escaping @Sendable ([JavaObjectArg]) throws -> any Component
    ) {
        entries.withLock { $0[className] = Entry(className: className, kind: kind, make: make) }
    }

    public func entry(_ className: String) -> Entry? { entries.withLock { $0[className] } }

    /// Sets how shell components (multilang child processes) are made.
    public func registerShellComponents(_ make: @escaping @Sendable (ShellComponentSpec) throws -> any Component) {
        shellFactory.withLock { $0 = make }
    }

    /// A new shell spout or bolt for `spec`; an error when this program was built without multilang.
    public func makeShellComponent(_ spec: ShellComponentSpec) throws -> any Component {
        guard let make = shellFactory.withLock({ $0 }) else {
            throw Failure(
                description: "shell component '\(spec.componentId)' cannot run: this program has no multilang support")
        }
        return try make(spec)
    }

    /// Registers a custom stream grouping a topology can name (`custom_object`), as Storm's
    /// CustomStreamGrouping classes.
    public func registerGrouping(
        _ className: String, make: @escaping @Sendable ([JavaObjectArg]) throws -> any CustomStreamGrouping
    ) {
        groupings.withLock { $0[className] = make }
    }

    /// A new instance of the custom grouping `object` names (one per emitting task).
    public func makeGrouping(_ object: JavaObject) throws -> any CustomStreamGrouping {
        guard let make = groupings.withLock({ $0[object.fullClassName] }) else {
            throw Failure(description: "no custom grouping class \(object.fullClassName)")
        }
        return try make(object.argsList)
    }

    /// Checks that a subscription's custom grouping is one this cluster has.
    public func checkGrouping(_ object: JavaObject, subscriber: String, source: String) throws(Failure) {
        guard groupings.withLock({ $0[object.fullClassName] }) != nil else {
            let known = groupings.withLock { $0.keys.sorted() }
            throw Failure(
                description:
                    "bolt '\(subscriber)' groups '\(source)' with custom grouping \(object.fullClassName), which this cluster does not have (registered: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            )
        }
    }

    public var classNames: [String] { entries.withLock { $0.keys.sorted() } }

    /// Checks that `object` names a registered component of `kind`; the error says which classes exist.
    public func check(_ object: JavaObject, as kind: Kind, component: String) throws(Failure) {
        guard let entry = entry(object.fullClassName) else {
            throw Failure(
                description:
                    "component '\(component)' names class \(object.fullClassName), which this cluster does not have (it runs Swift components; built in: \(classNames.joined(separator: ", ")))"
            )
        }
        guard entry.kind == kind else {
            throw Failure(
                description:
                    "component '\(component)' is a \(kind.rawValue) but \(object.fullClassName) is a \(entry.kind.rawValue)"
            )
        }
        // Arguments are checked where they are read, when the component is made: make one now, so a bad
        // argument is refused at submit rather than by every worker that tries to start.
        do {
            _ = try entry.make(object.argsList)
        } catch {
            throw Failure(
                description:
                    "component '\(component)' (\(object.fullClassName)) cannot be made from its arguments: \(error)")
        }
    }

    /// The streams a registered component declares, for building topologies that name it.
    public func declaredStreams(_ className: String, args: [JavaObjectArg] = []) throws -> [String: StreamInfo] {
        guard let entry = entry(className) else { throw Failure(description: "no component class \(className)") }
        var declarer = OutputDeclarer()
        try entry.make(args).declareOutputFields(&declarer)
        return declarer.streams
    }
}
