// Decoding: token ids → the raw bytes each token spells → UTF-8 text.

extension BPETokenizer {
    /// Decodes token ids into text. Special tokens decode to their own text; byte sequences that
    /// are not valid UTF-8 (a sequence cut inside a character) decode with U+FFFD replacements.
    ///
    /// - Parameter skipSpecialTokens: leave out control tokens (`<|im_end|>`, `<|endoftext|>`)
    ///   and the unknown token, as Hugging Face's `decode(skip_special_tokens=True)` does.
    /// - Throws: `TokenizationError.unknownTokenID` for an id outside the vocabulary.
    ///
    /// SentencePiece tokenizers decode as Hugging Face's `Replace("▁", "")`, `ByteFallback`,
    /// `Fuse`, `Strip` decoders do: `▁` reads as a space, each run of `<0xNN>` byte pieces is
    /// decoded as UTF-8 together, and a run that is not valid UTF-8 becomes one U+FFFD per byte;
    /// one leading space is removed when `stripsLeadingSpace`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
        if let sentencePiece { return try decodeSentencePiece(ids, skipSpecialTokens, sentencePiece) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard tokenBytes.indices.contains(id) else {
                throw TokenizationError.unknownTokenID(id, vocabularySize: tokenBytes.count)
            }
            if skipSpecialTokens && isControl[id] { continue }
            bytes.append(contentsOf: tokenBytes[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func decodeSentencePiece(_ ids: [Int], _ skipSpecialTokens: Bool, _ options: SentencePieceOptions) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var run: [UInt8] = []
        func flush() {
            guard !run.isEmpty else { return }
            if String(validating: run, as: UTF8.self) != nil {
                bytes.append(contentsOf: run)
            } else {
                for _ in run { bytes.append(contentsOf: [0xEF, 0xBF, 0xBD]) }
            }
            run.removeAll(keepingCapacity: true)
        }
        for id in ids {
            guard tokenBytes.indices.contains(id) else {
                throw TokenizationError.unknownTokenID(id, vocabularySize: tokenBytes.count)
            }
            if skipSpecialTokens && isControl[id] { continue }
            if isBytePiece[id] {
                run.append(contentsOf: tokenBytes[id])
            } else {
                flush()
                bytes.append(contentsOf: tokenBytes[id])
            }
        }
        flush()
        // One byte, not one Character: a space followed by a combining mark is one Character.
        if options.stripsLeadingSpace && bytes.first == 0x20 { return String(decoding: bytes.dropFirst(), as: UTF8.self) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes one token stands for, or nil outside the vocabulary.
    public func bytes(for id: Int) -> [UInt8]? {
        tokenBytes.indices.contains(id) ? tokenBytes[id] : nil
    }
}
