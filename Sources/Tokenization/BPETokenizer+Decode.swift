// Decoding: token ids → the raw bytes each token spells → UTF-8 text.

extension BPETokenizer {
    /// Decodes token ids into text. Special tokens decode to their own text; byte sequences that
    /// are not valid UTF-8 (a sequence cut inside a character) decode with U+FFFD replacements.
    ///
    /// - Parameter skipSpecialTokens: leave out control tokens (`<|im_end|>`, `<|endoftext|>`)
    ///   and the unknown token, as Hugging Face's `decode(skip_special_tokens=True)` does.
    /// - Throws: `TokenizationError.unknownTokenID` for an id outside the vocabulary.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
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

    /// The raw bytes one token stands for, or nil outside the vocabulary.
    public func bytes(for id: Int) -> [UInt8]? {
        tokenBytes.indices.contains(id) ? tokenBytes[id] : nil
    }
}
