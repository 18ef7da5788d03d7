// The Llama-3 pattern (Qwen2 when maxDigits is 1), one alternative at a time, leftmost first:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
//    ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
// Indices are scalar positions in `text`; words are appended as byte ranges.

extension PreTokenizer {
    static func splitLlama3(
        _ text: ScalarText, _ start: Int, _ end: Int, maxDigits: Int, into words: inout [(Int, Int)]
    ) {
        let letter = ScalarText.letter, number = ScalarText.number
        let whitespace = ScalarText.whitespace, newline = ScalarText.newline
        let classes = letter | number | whitespace
        var position = start
        while position < end {
            let first = position
            let scalar = text.scalars[position]
            let flags = text.flags[position]

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if scalar == 0x27, let length = contractionLength(text, position + 1, end, caseInsensitive: true) {
                position += length
                emit(text, first, position, &words)
                continue
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+ : one leading non-letter, non-number scalar (space,
            // punctuation, tab...) joins the letters after it.
            if flags & letter != 0 || (flags & (newline | number) == 0 && text.flag(position + 1, end) & letter != 0) {
                position += 1
                while text.flag(position, end) & letter != 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            }

            // \p{N}{1,3}
            if flags & number != 0 {
                position += 1
                while position - first < maxDigits && text.flag(position, end) & number != 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            }

            // " ?[^\s\p{L}\p{N}]+[\r\n]*"
            let body = scalar == 0x20 ? position + 1 : position
            if body < end && text.flags[body] & classes == 0 {
                position = body + 1
                while position < end && text.flags[position] & classes == 0 { position += 1 }
                while text.flag(position, end) & newline != 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            }

            if flags & whitespace != 0 {
                var runEnd = position + 1
                var lastNewlineEnd: Int? = flags & newline != 0 ? position + 1 : nil
                while runEnd < end && text.flags[runEnd] & whitespace != 0 {
                    if text.flags[runEnd] & newline != 0 { lastNewlineEnd = runEnd + 1 }
                    runEnd += 1
                }
                if let lastNewlineEnd {
                    // \s*[\r\n]+ : the run up to its last line break.
                    position = lastNewlineEnd
                } else {
                    // \s+(?!\S) then \s+
                    if runEnd < end && runEnd - position > 1 { runEnd -= 1 }
                    position = runEnd
                }
                emit(text, first, position, &words)
                continue
            }
            position += 1
            emit(text, first, position, &words)
        }
    }
}
