// The GPT-2 pattern, one alternative at a time, leftmost first as the regex engine tries them:
//   's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+
// Indices are scalar positions in `text`; `end` is the end of the piece being cut (a lookahead
// past it sees nothing), words are appended as byte ranges.

extension PreTokenizer {
    static func splitGPT2(_ text: ScalarText, _ start: Int, _ end: Int, into words: inout [(Int, Int)]) {
        let letter = ScalarText.letter, number = ScalarText.number, whitespace = ScalarText.whitespace
        let classes = letter | number | whitespace
        var position = start
        while position < end {
            let first = position
            let scalar = text.scalars[position]
            let flags = text.flags[position]

            // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
            if scalar == 0x27, let length = contractionLength(text, position + 1, end, caseInsensitive: false) {
                position += length
                emit(text, first, position, &words)
                continue
            }

            // An optional single space ' ' joins the word that follows it.
            let body = scalar == 0x20 && position + 1 < end ? position + 1 : position
            let bodyFlags = text.flags[body]
            if body != position && bodyFlags & whitespace != 0 {
                // " " followed by whitespace: handled by the \s rules below.
            } else if bodyFlags & letter != 0 {
                position = body + 1
                while text.flag(position, end) & letter != 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            } else if bodyFlags & number != 0 {
                position = body + 1
                while text.flag(position, end) & number != 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            } else if bodyFlags & classes == 0 {
                position = body + 1
                while position < end && text.flags[position] & classes == 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            }

            // \s+(?!\S) then \s+: a whitespace run gives back its last scalar to the next word
            // unless the run reaches the end of the piece.
            if flags & whitespace != 0 {
                var runEnd = position + 1
                while runEnd < end && text.flags[runEnd] & whitespace != 0 { runEnd += 1 }
                if runEnd < end && runEnd - position > 1 { runEnd -= 1 }
                position = runEnd
                emit(text, first, position, &words)
                continue
            }
            // Unreachable for well-formed class bits; advance one scalar so the loop always ends.
            position += 1
            emit(text, first, position, &words)
        }
    }

    /// Length (including the apostrophe) of `'s|'t|'re|'ve|'m|'ll|'d` whose letters start at `index`.
    @inline(__always)
    static func contractionLength(_ text: ScalarText, _ index: Int, _ end: Int, caseInsensitive: Bool) -> Int? {
        guard index < end else { return nil }
        func lower(_ value: UInt32) -> UInt32 {
            caseInsensitive && value >= 0x41 && value <= 0x5A ? value + 0x20 : value
        }
        let first = lower(text.scalars[index])
        switch first {
        case 0x73, 0x74, 0x6D, 0x64: return 2                              // s t m d
        case 0x72, 0x76, 0x6C:                                            // r v l
            guard index + 1 < end else { return nil }
            let second = lower(text.scalars[index + 1])
            if (first == 0x72 || first == 0x76) && second == 0x65 { return 3 } // re ve
            if first == 0x6C && second == 0x6C { return 3 }                    // ll
            return nil
        default: return nil
        }
    }

    @inline(__always)
    static func emit(_ text: ScalarText, _ start: Int, _ end: Int, _ words: inout [(Int, Int)]) {
        words.append((text.offsets[start], text.offsets[end]))
    }
}
