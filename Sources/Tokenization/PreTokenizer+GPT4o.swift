// The GPT-4o (o200k) pattern of Phi-4-mini's tokenizer (llama.cpp's `gpt-4o`), one alternative
// at a time, leftmost first, with the backtracking a regex engine would do:
//   A: [^\r\n\p{L}\p{N}]?[U]*[L]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   B: [^\r\n\p{L}\p{N}]?[U]+[L]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   \p{N}{1,3} |  ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
// with U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and L = [\p{Ll}\p{Lm}\p{Lo}\p{M}] (they share Lm, Lo
// and the marks). Indices are scalar positions in `text`; words are appended as byte ranges.

extension PreTokenizer {
    static func splitGPT4o(_ text: ScalarText, _ start: Int, _ end: Int, into words: inout [(Int, Int)]) {
        let letter = ScalarText.letter, number = ScalarText.number
        let whitespace = ScalarText.whitespace, newline = ScalarText.newline
        var position = start
        while position < end {
            let first = position
            let flags = text.flags[position]
            // The optional leading scalar is tried first, then without it; A before B.
            let prefixed = flags & (newline | letter | number) == 0
            if let wordEnd = (prefixed ? casedWordA(text, position + 1, end) : nil) ?? casedWordA(text, position, end)
                ?? (prefixed ? casedWordB(text, position + 1, end) : nil) ?? casedWordB(text, position, end) {
                position = wordEnd
                emit(text, first, position, &words)
                continue
            }

            // \p{N}{1,3}
            if flags & number != 0 {
                position += 1
                while position - first < 3 && text.flag(position, end) & number != 0 { position += 1 }
                emit(text, first, position, &words)
                continue
            }

            // " ?[^\s\p{L}\p{N}]+[\r\n/]*"
            if let wordEnd = punctuationEnd(text, position, end, trailingSlash: true) {
                position = wordEnd
                emit(text, first, position, &words)
                continue
            }

            // \s*[\r\n]+ | \s+(?!\S) | \s+
            if flags & whitespace != 0 {
                position = whitespaceEnd(text, position, end)
                emit(text, first, position, &words)
                continue
            }
            position += 1
            emit(text, first, position, &words)
        }
    }

    /// End of `[U]*[L]+` (then an optional contraction) from `start`, or nil. `[U]*` takes its
    /// longest run, then gives scalars back until `[L]+` can start: the match ends after the
    /// first L run from the last position (at most the run's end) holding an L scalar.
    @inline(__always)
    static func casedWordA(_ text: ScalarText, _ start: Int, _ end: Int) -> Int? {
        guard start < end else { return nil }
        let upper = ScalarText.casedUpper, lower = ScalarText.casedLower
        var runEnd = start
        while text.flag(runEnd, end) & upper != 0 { runEnd += 1 }
        var j = runEnd
        while j >= start && text.flag(j, end) & lower == 0 { j -= 1 }
        guard j >= start else { return nil }
        var position = j + 1
        while text.flag(position, end) & lower != 0 { position += 1 }
        return withContraction(text, position, end)
    }

    /// End of `[U]+[L]*` (then an optional contraction) from `start`, or nil.
    @inline(__always)
    static func casedWordB(_ text: ScalarText, _ start: Int, _ end: Int) -> Int? {
        let upper = ScalarText.casedUpper, lower = ScalarText.casedLower
        guard text.flag(start, end) & upper != 0 else { return nil }
        var position = start + 1
        while text.flag(position, end) & upper != 0 { position += 1 }
        while text.flag(position, end) & lower != 0 { position += 1 }
        return withContraction(text, position, end)
    }

    /// `position` past `(?i:'s|'t|'re|'ve|'m|'ll|'d)` when one starts there.
    @inline(__always)
    static func withContraction(_ text: ScalarText, _ position: Int, _ end: Int) -> Int {
        guard position < end, text.scalars[position] == 0x27,
              let length = contractionLength(text, position + 1, end, caseInsensitive: true) else { return position }
        return position + length
    }
}
