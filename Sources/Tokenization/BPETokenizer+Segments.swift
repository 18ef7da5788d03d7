// Encoding a rendered chat whose parts differ in whether they are trained. The text is encoded in
// one pass, so the ids are exactly `encode(text)` (what transformers' `apply_chat_template` gives:
// a SentencePiece tokenizer would add a word-start marker to every separately encoded part), and
// a token is trainable when any of its bytes lies in a trainable part, as transformers'
// `return_assistant_tokens_mask` marks every token a character of the assistant's text maps to.

extension BPETokenizer {
    /// The ids of the joined segments, and for each id whether it covers part of a trainable segment.
    public func encode(_ segments: [ChatSegment]) -> (ids: [Int], trainable: [Bool]) {
        var text = ""
        var trainableBytes: [Range<Int>] = []
        var length = 0
        for segment in segments {
            text += segment.text
            let count = segment.text.utf8.count
            if segment.trainable { trainableBytes.append(length..<length + count) }
            length += count
        }
        let ids = encode(text)
        let ranges = byteRanges(of: ids, in: Array(text.utf8))
        let trainable = ranges.map { range in trainableBytes.contains { $0.overlaps(range) } }
        return (ids, trainable)
    }

    /// The bytes of `text` each token of `ids = encode(text)` spells, found by walking the bytes
    /// each token spells along the text. A space the tokenizer inserted (SentencePiece's word-start
    /// marker before the first word of a stretch) is not in the text and is stepped over; a token
    /// that spells only such a space gets an empty range where it stands.
    func byteRanges(of ids: [Int], in text: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(ids.count)
        var position = 0
        for id in ids {
            let spelled = tokenBytes.indices.contains(id) ? tokenBytes[id] : []
            var start: Int?
            for byte in spelled {
                if position < text.count, text[position] == byte {
                    if start == nil { start = position }
                    position += 1
                } else if byte != 0x20, position < text.count {
                    // A token that does not spell its text (an unknown token): it covers one character.
                    if start == nil { start = position }
                    position += 1
                    while position < text.count, text[position] & 0xC0 == 0x80 { position += 1 }
                    break
                }
            }
            ranges.append((start ?? position)..<position)
        }
        return ranges
    }
}
