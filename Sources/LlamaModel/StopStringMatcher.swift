// Stop strings over streamed text, as mlx-lm and llama.cpp do: generation ends as soon as the
// text contains one, and the text is cut before it. Text arrives a token at a time, so a stop
// string may span tokens; the tail that could still be the start of one is held back until the
// next chunk decides it. Works on UTF-8 bytes: a held-back tail starts with a stop string's first
// byte, which is never a continuation byte, so the released text always ends on a whole scalar.

/// Feeds decoded text, releases what is certain to be output, and says when a stop string matched.
public struct StopStringMatcher: Sendable {
    public let stops: [String]
    private let patterns: [[UInt8]]
    private var pending: [UInt8] = []       // held back: a suffix that is a prefix of some stop string
    public private(set) var isStopped = false

    /// - Throws: `LlamaModelError.invalidInput` for an empty stop string (it would match at once).
    public init(_ stops: [String]) throws {
        if stops.contains(where: \.isEmpty) { throw LlamaModelError.invalidInput("a stop string must not be empty") }
        self.stops = stops
        patterns = stops.map { Array($0.utf8) }
        pending.reserveCapacity(patterns.map(\.count).max() ?? 0)
    }

    /// Adds newly decoded text; returns the text now certain to precede any stop string (possibly
    /// empty). After a match it returns the text up to the stop string and then nothing.
    public mutating func feed<S: StringProtocol>(_ chunk: S) -> String {
        guard !isStopped else { return "" }
        pending.append(contentsOf: chunk.utf8)
        if let cut = firstMatch() {
            isStopped = true
            let released = String(decoding: pending[..<cut], as: UTF8.self)
            pending.removeAll()
            return released
        }
        let keep = heldBackCount()
        let released = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return released
    }

    /// At the end of generation without a match: the held-back text (it is output after all).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return isStopped ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Byte offset in `pending` of the earliest stop string, if one is complete.
    private func firstMatch() -> Int? {
        var best: Int?
        for pattern in patterns where pattern.count <= pending.count {
            var start = 0
            while start + pattern.count <= pending.count, start < (best ?? Int.max) {
                if pending[start] == pattern[0] && pending[start..<(start + pattern.count)].elementsEqual(pattern) {
                    best = start
                    break
                }
                start += 1
            }
        }
        return best
    }

    /// Length of the longest suffix of `pending` that is a proper prefix of a stop string.
    private func heldBackCount() -> Int {
        var longest = 0
        for pattern in patterns {
            var length = min(pattern.count - 1, pending.count)
            while length > longest {
                if pending[(pending.count - length)...].elementsEqual(pattern[..<length]) { longest = length; break }
                length -= 1
            }
        }
        return longest
    }
}
