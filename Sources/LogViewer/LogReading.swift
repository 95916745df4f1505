import Foundation

/// Why a log request cannot be answered, with Storm's status and message.
public struct LogRequestError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable { case badRequest, notFound }
    public let kind: Kind
    public let description: String
}

/// One page of a log: `length` bytes from `start`, as Storm's log viewer pages (51,200 bytes by default, the last
/// page when no start is given).
public struct LogPage: Sendable, Equatable {
    public static let defaultLength = 51_200
    public static let maxLength = 10 * 1_048_576
    public let start: Int
    public let length: Int
    public let fileLength: Int
    public let text: String

    public static func read(_ path: String, start: Int?, length: Int?) throws(LogRequestError) -> LogPage {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LogRequestError(kind: .notFound, description: "Page not found")
        }
        defer { try? handle.close() }
        let fileLength = Int((try? handle.seekToEnd()) ?? 0)
        let length = min(max(length ?? defaultLength, 0), maxLength)
        let start = start ?? max(0, fileLength - length)
        guard start >= 0 else {
            throw LogRequestError(kind: .badRequest, description: "Cannot start before the beginning of the file")
        }
        guard start < fileLength || (start == 0 && fileLength == 0) else {
            throw LogRequestError(kind: .badRequest, description: "Cannot start past the end of the file")
        }
        try? handle.seek(toOffset: UInt64(start))
        let data = (try? handle.read(upToCount: length)) ?? Data()
        return LogPage(
            start: start, length: length, fileLength: fileLength,
            text: String(decoding: data, as: UTF8.self))
    }
}

/// A search of one log for a string, Storm's `/api/v1/search`: up to `numMatches` matches from a byte offset,
/// each with 128 bytes of context either side, and where to go on from.
public struct LogSearch: Sendable {
    public static let maxNeedleBytes = 1024
    public static let contextBytes = 128

    public struct Match: Sendable, Equatable {
        public let byteOffset: Int
        public let before: String
        public let match: String
        public let after: String
    }

    public let matches: [Match]
    /// Where a further search starts; nil when the file is searched to its end.
    public let nextByteOffset: Int?

    public static func run(
        _ path: String, needle: String, numMatches: Int, from start: Int
    ) throws(LogRequestError) -> LogSearch {
        let pattern = Array(needle.utf8)
        guard (1...maxNeedleBytes).contains(pattern.count) else {
            throw LogRequestError(
                kind: .badRequest,
                description: "Search substring must be between 1 and 1024 UTF-8 bytes in size (inclusive)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LogRequestError(kind: .notFound, description: "The file was not found on this node.")
        }
        defer { try? handle.close() }
        let fileLength = Int((try? handle.seekToEnd()) ?? 0)
        guard start >= 0, start <= fileLength else {
            throw LogRequestError(kind: .badRequest, description: "Cannot search past the end of the file")
        }
        var matches: [Match] = []
        var offset = start
        let chunk = 1_048_576
        // Each chunk overlaps the next by the pattern's length less one, so no match straddles two unseen.
        while offset < fileLength && matches.count < numMatches {
            try? handle.seek(toOffset: UInt64(offset))
            let bytes = (try? handle.read(upToCount: chunk + pattern.count - 1)) ?? Data()
            guard bytes.count >= pattern.count else { break }
            for found in occurrences(of: pattern, in: bytes, limit: numMatches - matches.count) {
                matches.append(context(handle, at: offset + found, length: pattern.count, fileLength: fileLength))
            }
            if matches.count >= numMatches {
                let next = matches.last.map { $0.byteOffset + pattern.count } ?? fileLength
                return LogSearch(matches: matches, nextByteOffset: next < fileLength ? next : nil)
            }
            offset += max(bytes.count - (pattern.count - 1), 1)
        }
        return LogSearch(matches: matches, nextByteOffset: nil)
    }

    /// Where `pattern` starts in `bytes`, at most `limit` times, not overlapping: memchr finds each candidate first
    /// byte and memcmp checks the rest, which a search of a big log needs (a generic collection search read
    /// 5 MiB/s; Swift's Glibc does not export memmem).
    private static func occurrences(of pattern: [UInt8], in bytes: Data, limit: Int) -> [Int] {
        bytes.withUnsafeBytes { haystack -> [Int] in
            pattern.withUnsafeBytes { needle -> [Int] in
                guard let base = haystack.baseAddress, let wanted = needle.baseAddress else { return [] }
                var found: [Int] = []
                var from = 0
                let last = haystack.count - pattern.count
                while found.count < limit, from <= last,
                    let hit = memchr(base + from, Int32(pattern[0]), last - from + 1)
                {
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(hit, wanted, pattern.count) == 0 {
                        found.append(at)
                        from = at + pattern.count
                    } else {
                        from = at + 1
                    }
                }
                return found
            }
        }
    }

    private static func context(_ handle: FileHandle, at offset: Int, length: Int, fileLength: Int) -> Match {
        let from = max(0, offset - contextBytes)
        let to = min(fileLength, offset + length + contextBytes)
        try? handle.seek(toOffset: UInt64(from))
        let bytes = [UInt8]((try? handle.read(upToCount: to - from)) ?? Data())
        func text(_ range: Range<Int>) -> String {
            String(decoding: bytes[max(0, range.lowerBound)..<min(bytes.count, range.upperBound)], as: UTF8.self)
        }
        let at = offset - from
        return Match(
            byteOffset: offset, before: text(0..<at), match: text(at..<(at + length)),
            after: text((at + length)..<bytes.count))
    }
}
