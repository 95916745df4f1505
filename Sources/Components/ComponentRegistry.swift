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

    public init() {}

    /// Every built-in component; `register` adds a program's own.
    public static let shared: ComponentRegistry = {
        let registry = ComponentRegistry()
        BuiltInComponents.register(in: registry)
        return registry
    }()

    public func register(_ className: String, kind: Kind, make: @escaping @Sendable ([JavaObjectArg]) throws -> any Component) {
        entries.withLock { $0[className] = Entry(className: className, kind: kind, make: make) }
    }

    public func entry(_ className: String) -> Entry? { entries.withLock { $0[className] } }

    public var classNames: [String] { entries.withLock { $0.keys.sorted() } }

    /// Checks that `object` names a registered component of `kind`; the error says which classes exist.
    public func check(_ object: JavaObject, as kind: Kind, component: String) throws(Failure) {
        guard let entry = entry(object.fullClassName) else {
            throw Failure(
                description: "component '\(component)' names class \(object.fullClassName), which this cluster does not have (it runs Swift components; built in: \(classNames.joined(separator: ", ")))")
        }
        guard entry.kind == kind else {
            throw Failure(description: "component '\(component)' is a \(kind.rawValue) but \(object.fullClassName) is a \(entry.kind.rawValue)")
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
