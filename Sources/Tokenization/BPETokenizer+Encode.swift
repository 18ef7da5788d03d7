// Encoding: special tokens → pre-tokenizer words → byte tokens → merges, lowest rank first.
// SentencePiece: special tokens → `▁`-escaped stretches → character pieces (or byte pieces) → merges.

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
        if let sentencePiece {
            encodeSentencePiece(bytes, start, end, sentencePiece, &output)
            return
        }
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

    /// SentencePiece BPE on one stretch of text between special tokens: spaces become `▁`, a `▁`
    /// goes in front as `options.spacePrefix` says, each character starts as its own piece (or as
    /// `<0xNN>` byte pieces, or one unknown token for a run the vocabulary cannot spell), then
    /// pieces merge. The stretch is one word, so it is not cached.
    private func encodeSentencePiece(
        _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
        _ options: SentencePieceOptions, _ output: inout [Int]
    ) {
        let startsWithSpace = bytes[start] == 0x20
            || (end - start >= 3 && bytes[start] == 0xE2 && bytes[start + 1] == 0x96 && bytes[start + 2] == 0x81)
        let prefix: Bool
        switch options.spacePrefix {
        case .always: prefix = true
        case .metaspaceAlways: prefix = !startsWithSpace
        case .metaspaceFirst: prefix = !startsWithSpace && start == 0
        case .never: prefix = false
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(end - start + 1)
        var previousWasUnknown = false
        func append(_ scalar: UInt32) {
            if let id = scalarIDs[scalar] {
                symbols.append(id)
                previousWasUnknown = false
                return
            }
            var utf8: [UInt8] = []
            if let value = Unicode.Scalar(scalar) { utf8.append(contentsOf: String(value).utf8) }
            for byte in utf8 {
                if let id = byteTokenIDs[Int(byte)] {
                    symbols.append(id)
                    previousWasUnknown = false
                } else if let unknown = unknownTokenID {
                    // Consecutive unknown characters become one unknown token (fuse_unk).
                    if !previousWasUnknown { symbols.append(Int32(unknown)) }
                    previousWasUnknown = true
                }
            }
        }
        let space: UInt32 = 0x2581
        if prefix { append(space) }
        var index = start
        while index < end {
            let lead = bytes[index]
            if lead < 0x80 {
                append(lead == 0x20 ? space : UInt32(lead))
                index += 1
                continue
            }
            let (value, length) = utf8Scalar(bytes, at: index, end: end)
            append(value)
            index += length
        }
        merge(&symbols)
        for id in symbols { output.append(Int(id)) }
    }

    /// The token of one byte, the unknown token when the vocabulary cannot spell it, or nil (drop it).
    @inline(__always)
    private func byteToken(_ byte: UInt8) -> Int32? {
        if let id = byteTokenIDs[Int(byte)] { return id }
        return unknownTokenID.map { Int32($0) }
    }

    /// Applies merges in rank order: each round merges the leftmost occurrence of the pair with the
    /// lowest rank (SentencePiece score ranks may be shared by several pairs). Short words take a
    /// linear scan per round, which beats a heap; long ones (SentencePiece stretches) a heap.
    @inline(__always)
    private func merge(_ symbols: inout [Int32]) {
        if symbols.count > 48 {
            mergeWithHeap(&symbols)
            return
        }
        while symbols.count > 1 {
            var bestRank = UInt64.max
            var best = UInt64.max
            var bestIndex = 0
            for index in 0..<(symbols.count - 1) {
                if let value = merges[Self.pairKey(symbols[index], symbols[index + 1])], value >> 32 < bestRank {
                    bestRank = value >> 32
                    best = value
                    bestIndex = index
                }
            }
            guard bestRank != UInt64.max else { return }
            symbols[bestIndex] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: bestIndex + 1)
        }
    }

    /// The same merge order as `merge`, in O(n log n): candidate pairs wait in a min-heap keyed by
    /// (rank, position of the left symbol); an entry whose symbols changed since is skipped.
    private func mergeWithHeap(_ symbols: inout [Int32]) {
        let count = symbols.count
        var ids = symbols
        var next = [Int](0..<count).map { $0 + 1 }
        next[count - 1] = -1
        var previous = [Int](0..<count).map { $0 - 1 }
        var heap = MergeHeap()
        func push(_ left: Int) {
            let right = next[left]
            guard left >= 0, right >= 0, let value = merges[Self.pairKey(ids[left], ids[right])] else { return }
            heap.push(MergeHeap.Entry(
                key: (value >> 32) << 32 | UInt64(left), left: ids[left], right: ids[right],
                merged: Int32(truncatingIfNeeded: value & 0xFFFF_FFFF)))
        }
        for index in 0..<(count - 1) { push(index) }
        while let entry = heap.pop() {
            let left = Int(entry.key & 0xFFFF_FFFF)
            let right = next[left]
            // Stale: the left symbol was merged into its neighbour, or either side changed.
            guard ids[left] == entry.left, right >= 0, ids[right] == entry.right else { continue }
            ids[left] = entry.merged
            ids[right] = -1
            next[left] = next[right]
            if next[left] >= 0 { previous[next[left]] = left }
            if previous[left] >= 0 { push(previous[left]) }
            push(left)
        }
        symbols.removeAll(keepingCapacity: true)
        var index = 0
        while index >= 0 {
            symbols.append(ids[index])
            index = next[index]
        }
    }
}

/// A binary min-heap of merge candidates for `mergeWithHeap`.
struct MergeHeap {
    struct Entry {
        /// rank << 32 | position of the left symbol.
        var key: UInt64
        var left: Int32
        var right: Int32
        var merged: Int32
    }

    private var entries: [Entry] = []

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].key < entries[parent].key else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count && entries[left].key < entries[smallest].key { smallest = left }
                if right < entries.count && entries[right].key < entries[smallest].key { smallest = right }
                guard smallest != parent else { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
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
