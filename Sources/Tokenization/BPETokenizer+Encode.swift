// Encoding: special tokens → pre-tokenizer words → byte tokens → merges, lowest rank first.

extension BPETokenizer {
    /// Encodes `text` into token ids. No BOS is added: the caller adds `bosTokenID` when wanted.
    ///
    /// - Parameter splitSpecialTokens: when true, special and user-defined tokens written in the
    ///   text (`<|im_start|>`) become their own id; when false they are encoded as plain text.
    public func encode(_ text: String, splitSpecialTokens: Bool = true) -> [Int] {
        var bytes = Array(text.utf8)
        var session = EncodingSession()
        var output: [Int] = []
        output.reserveCapacity(bytes.count / 3 + 1)
        bytes.withUnsafeMutableBufferPointer { mutableBuffer in
            let buffer = UnsafeBufferPointer(mutableBuffer)
            let end = buffer.count
            guard splitSpecialTokens && !specialTokens.isEmpty else {
                encodeOrdinary(buffer, 0, end, &session, &output)
                return
            }
            var segmentStart = 0
            var index = 0
            while index < end {
                if let match = specialTokens.match(buffer, at: index, end: end) {
                    encodeOrdinary(buffer, segmentStart, index, &session, &output)
                    output.append(match.id)
                    index += match.length
                    segmentStart = index
                } else {
                    index += 1
                }
            }
            encodeOrdinary(buffer, segmentStart, end, &session, &output)
        }
        return output
    }

    /// Pre-tokenizes and encodes `bytes[start..<end]`, text with no special tokens in it.
    private func encodeOrdinary(
        _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
        _ session: inout EncodingSession, _ output: inout [Int]
    ) {
        guard start < end else { return }
        session.text.load(bytes, start, end)
        session.words.removeAll(keepingCapacity: true)
        preTokenizer.split(session.text, into: &session.words)
        for (wordStart, wordEnd) in session.words {
            encodeWord(bytes, wordStart, wordEnd, &session, &output)
        }
    }

    /// BPE on one word's bytes, through the session's cache.
    private func encodeWord(
        _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
        _ session: inout EncodingSession, _ output: inout [Int]
    ) {
        if end - start == 1 {
            if let id = byteToken(bytes[start]) { output.append(Int(id)) }
            return
        }
        let word = UnsafeBufferPointer(rebasing: bytes[start..<end])
        let key = EncodingSession.hash(word)
        if let ids = session.cachedIDs(key, word) {
            for id in ids { output.append(Int(id)) }
            return
        }

        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        if ignoreMerges, let id = idsByBytes[Array(word)] {
            symbols.append(id)
        } else {
            for byte in word {
                if let id = byteToken(byte) { symbols.append(id) }
            }
            merge(&symbols)
        }
        for id in symbols { output.append(Int(id)) }
        session.store(key, word, symbols)
    }

    /// The token of one byte, the unknown token when the vocabulary cannot spell it, or nil (drop it).
    @inline(__always)
    private func byteToken(_ byte: UInt8) -> Int32? {
        if let id = byteTokenIDs[Int(byte)] { return id }
        return unknownTokenID.map { Int32($0) }
    }

    /// Applies merges in rank order: each round merges the leftmost occurrence of the pair with the
    /// lowest rank. Words are short, so a linear scan per round beats a heap.
    @inline(__always)
    private func merge(_ symbols: inout [Int32]) {
        while symbols.count > 1 {
            var best = UInt64.max
            var bestIndex = 0
            var found = false
            for index in 0..<(symbols.count - 1) {
                if let value = merges[Self.pairKey(symbols[index], symbols[index + 1])], value < best {
                    best = value
                    bestIndex = index
                    found = true
                }
            }
            guard found else { return }
            symbols[bestIndex] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: bestIndex + 1)
        }
    }
}

/// Scratch state of one `encode` call: decoded scalars, word ranges and a bounded word cache.
/// Living per call keeps the tokenizer immutable (and `Sendable`) with no locks.
struct EncodingSession {
    private struct CacheEntry {
        var bytes: [UInt8]
        var ids: [Int32]
    }

    /// Entries kept before the cache is emptied; bounds memory on huge inputs.
    static let cacheLimit = 1 << 16

    var text = ScalarText()
    var words: [(Int, Int)] = []
    private var cache: [UInt64: CacheEntry] = [:]

    /// FNV-1a over the word's bytes: a cheap key; hits are confirmed against the stored bytes.
    @inline(__always)
    static func hash(_ word: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in word { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    @inline(__always)
    func cachedIDs(_ key: UInt64, _ word: UnsafeBufferPointer<UInt8>) -> [Int32]? {
        guard let entry = cache[key], entry.bytes.elementsEqual(word) else { return nil }
        return entry.ids
    }

    mutating func store(_ key: UInt64, _ word: UnsafeBufferPointer<UInt8>, _ ids: [Int32]) {
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        // On a hash collision the older entry stays; the new word is simply not cached.
        if cache[key] == nil { cache[key] = CacheEntry(bytes: Array(word), ids: ids) }
    }
}
