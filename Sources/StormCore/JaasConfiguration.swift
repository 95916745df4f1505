/// A JAAS login configuration file, the form Storm's DIGEST-MD5 transport reads its users and credentials from:
///
///     StormServer {
///         org.apache.zookeeper.server.auth.DigestLoginModule required
///         user_super="adminsecret"
///         user_bob="bobsecret";
///     };
///     StormClient { ... username="bob" password="bobsecret"; };
///
/// Sections hold login module entries (a class, a control flag, `key=value` options, then `;`). Comments are
/// `//` to the end of the line and `/* ... */`. Only the options are used here; the class names are Java's.
public struct JaasConfiguration: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var loginModule: String
        public var flag: String
        public var options: [String: String]
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public var sections: [String: [Entry]]

    /// The options of a section's entries, merged in order (a later entry's option wins); nil without the section.
    public func options(of section: String) -> [String: String]? {
        sections[section].map { entries in entries.reduce(into: [:]) { $0.merge($1.options) { _, new in new } } }
    }

    public init(parsing text: String) throws(ParseError) {
        var tokens = try JaasTokens(text)
        var sections: [String: [Entry]] = [:]
        while let name = tokens.next() {
            guard case .word(let sectionName) = name.token else {
                throw ParseError(line: name.line, reason: "expected a section name, found \(name.token)")
            }
            try tokens.expect(.open, after: "section name '\(sectionName)'")
            guard sections[sectionName] == nil else {
                throw ParseError(line: name.line, reason: "section '\(sectionName)' appears twice")
            }
            var entries: [Entry] = []
            while true {
                guard let first = tokens.next() else {
                    throw ParseError(line: tokens.line, reason: "section '\(sectionName)' is not closed with '};'")
                }
                if first.token == .close { break }
                guard case .word(let module) = first.token, let flagToken = tokens.next(),
                    case .word(let flag) = flagToken.token
                else {
                    throw ParseError(
                        line: first.line,
                        reason: "expected a login module class and a control flag in section '\(sectionName)'")
                }
                let flags = ["required", "requisite", "sufficient", "optional"]
                guard flags.contains(flag.lowercased()) else {
                    throw ParseError(
                        line: flagToken.line,
                        reason: "control flag '\(flag)' is not one of \(flags.joined(separator: ", "))")
                }
                var options: [String: String] = [:]
                while true {
                    guard let next = tokens.next() else {
                        throw ParseError(line: tokens.line, reason: "entry '\(module)' does not end with ';'")
                    }
                    if next.token == .semicolon { break }
                    if next.token == .close {
                        throw ParseError(line: next.line, reason: "entry '\(module)' does not end with ';'")
                    }
                    guard case .word(let key) = next.token else {
                        throw ParseError(line: next.line, reason: "expected an option name in entry '\(module)'")
                    }
                    try tokens.expect(.equals, after: "option '\(key)'")
                    guard let value = tokens.next(), case .word(let text) = value.token else {
                        throw ParseError(line: next.line, reason: "option '\(key)' has no value")
                    }
                    guard options[key] == nil else {
                        throw ParseError(line: next.line, reason: "option '\(key)' appears twice in entry '\(module)'")
                    }
                    options[key] = text
                }
                entries.append(Entry(loginModule: module, flag: flag, options: options))
            }
            try tokens.expect(.semicolon, after: "the '}' of section '\(sectionName)'")
            sections[sectionName] = entries
        }
        self.sections = sections
    }
}

private enum JaasToken: Equatable, CustomStringConvertible {
    case word(String)
    case open, close, semicolon, equals

    var description: String {
        switch self {
        case .word(let text): "'\(text)'"
        case .open: "'{'"
        case .close: "'}'"
        case .semicolon: "';'"
        case .equals: "'='"
        }
    }
}

/// The file's tokens with their line numbers: punctuation, and words (bare or double-quoted with `\` escapes).
private struct JaasTokens {
    private var tokens: [(token: JaasToken, line: Int)] = []
    private var position = 0
    private(set) var line = 1

    init(_ text: String) throws(JaasConfiguration.ParseError) {
        let characters = Array(text)
        var i = 0
        var line = 1
        while i < characters.count {
            let c = characters[i]
            if c == "\n" {
                line += 1
                i += 1
            } else if c.isWhitespace {
                i += 1
            } else if c == "/" && i + 1 < characters.count && characters[i + 1] == "/" {
                while i < characters.count && characters[i] != "\n" { i += 1 }
            } else if c == "/" && i + 1 < characters.count && characters[i + 1] == "*" {
                let start = line
                i += 2
                while i < characters.count
                    && !(characters[i] == "*" && i + 1 < characters.count && characters[i + 1] == "/")
                {
                    if characters[i] == "\n" { line += 1 }
                    i += 1
                }
                guard i < characters.count else {
                    throw .init(line: start, reason: "comment '/*' is not closed")
                }
                i += 2
            } else if let punctuation = [Character("{"): JaasToken.open, "}": .close, ";": .semicolon, "=": .equals][c]
            {
                tokens.append((punctuation, line))
                i += 1
            } else if c == "\"" {
                let start = line
                var word = ""
                i += 1
                while i < characters.count && characters[i] != "\"" {
                    if characters[i] == "\\" && i + 1 < characters.count { i += 1 }
                    if characters[i] == "\n" { line += 1 }
                    word.append(characters[i])
                    i += 1
                }
                guard i < characters.count else { throw .init(line: start, reason: "quoted value is not closed") }
                i += 1
                tokens.append((.word(word), start))
            } else {
                var word = ""
                while i < characters.count, !characters[i].isWhitespace, !"{};=\"".contains(characters[i]) {
                    word.append(characters[i])
                    i += 1
                }
                tokens.append((.word(word), line))
            }
        }
        self.line = line
    }

    mutating func next() -> (token: JaasToken, line: Int)? {
        guard position < tokens.count else { return nil }
        defer { position += 1 }
        return tokens[position]
    }

    mutating func expect(_ token: JaasToken, after what: String) throws(JaasConfiguration.ParseError) {
        guard let next = next() else { throw .init(line: line, reason: "expected \(token) after \(what)") }
        guard next.token == token else {
            throw .init(line: next.line, reason: "expected \(token) after \(what), found \(next.token)")
        }
    }
}
