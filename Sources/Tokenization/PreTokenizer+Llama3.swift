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
            if let wordEnd = punctuationEnd(text, position, end, trailingSlash: false) {
                position = wordEnd
                emit(text, first, position, &words)
                continue
            }

            if flags & whitespace != 0 {
                position = whitespaceEnd(text, position, end)
                emit(text, first, position, &words)
                continue
            }
            position += 1
            emit(text, first, position, &words)
        }
    }

    /// The end of ` ?[^\s\p{L}\p{N}]+` and the line breaks after it (and slashes, GPT-4o's
    /// `[\r\n/]*`) from `position`, or nil when no such word starts there.
    @inline(__always)
    static func punctuationEnd(_ text: ScalarText, _ position: Int, _ end: Int, trailingSlash: Bool) -> Int? {
        let classes = ScalarText.letter | ScalarText.number | ScalarText.whitespace
        let body = text.scalars[position] == 0x20 ? position + 1 : position
        guard body < end && text.flags[body] & classes == 0 else { return nil }
        var wordEnd = body + 1
        while wordEnd < end && text.flags[wordEnd] & classes == 0 { wordEnd += 1 }
        while wordEnd < end && (text.flags[wordEnd] & ScalarText.newline != 0 || (trailingSlash && text.scalars[wordEnd] == 0x2F)) {
            wordEnd += 1
        }
        return wordEnd
    }

    /// The end of `\s*[\r\n]+ | \s+(?!\S) | \s+` from the whitespace scalar at `position`: the
    /// run up to its last line break when it has one; else the run, less its last scalar when a
    /// non-space follows and the run is longer than one.
    @inline(__always)
    static func whitespaceEnd(_ text: ScalarText, _ position: Int, _ end: Int) -> Int {
        let whitespace = ScalarText.whitespace, newline = ScalarText.newline
        var runEnd = position + 1
        var lastNewlineEnd: Int? = text.flags[position] & newline != 0 ? position + 1 : nil
        while runEnd < end && text.flags[runEnd] & whitespace != 0 {
            if text.flags[runEnd] & newline != 0 { lastNewlineEnd = runEnd + 1 }
            runEnd += 1
        }
        if let lastNewlineEnd { return lastNewlineEnd }
        return runEnd < end && runEnd - position > 1 ? runEnd - 1 : runEnd
    }
}
