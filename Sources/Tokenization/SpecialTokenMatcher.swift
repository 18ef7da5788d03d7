/// Finds special and user-defined tokens (`<|im_start|>`, `<|endoftext|>`...) written literally in
/// text, so that they are encoded as their own id instead of being broken up by BPE.
///
/// Matching is leftmost, then longest: candidates are grouped by first byte and tried longest first.
struct SpecialTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        var bytes: [UInt8]
        var id: Int
    }

    /// Candidates by first byte: [256][candidates], longest first.
    private let candidates: [[Candidate]]
    /// True when no token can be matched, to skip the scan entirely.
    let isEmpty: Bool

    /// `tokens` are (text, id) pairs; empty texts are ignored.
    init(_ tokens: [(String, Int)]) {
        var table = [[Candidate]](repeating: [], count: 256)
        for (text, id) in tokens {
            let bytes = Array(text.utf8)
            guard let first = bytes.first else { continue }
            table[Int(first)].append(Candidate(bytes: bytes, id: id))
        }
        for index in table.indices {
            table[index].sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        }
        candidates = table
        isEmpty = table.allSatisfy(\.isEmpty)
    }

    /// The token written at `bytes[index...]` (before `end`), as (id, byte length).
    @inline(__always)
    func match(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, end: Int) -> (id: Int, length: Int)? {
        let group = candidates[Int(bytes[index])]
        if group.isEmpty { return nil }
        for candidate in group where candidate.bytes.count <= end - index {
            var equal = true
            for offset in 1..<candidate.bytes.count where bytes[index + offset] != candidate.bytes[offset] {
                equal = false
                break
            }
            if equal { return (candidate.id, candidate.bytes.count) }
        }
        return nil
    }
}
