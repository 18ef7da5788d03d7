// Token embedding lookup. The table is a frozen matrix in any storage format, so rows come
// from a caller-supplied row reader (dequantize one row into the output).
// Legend: N = tokens, C = channels (hidden size), V = vocabulary rows held here (`vocabLocal`,
// the rows `vocabStart ..< vocabStart + vocabLocal` of the full table; all of it on one rank).
// No backward: the table is frozen in LoRA training (docs/architecture.md §4.2) and the ids have no
// gradient, so the gradient that reaches the embedding output is simply dropped.

/// Embedding lookup, forward only (the table is frozen; see the file header).
public enum Embedding {
    /// `out[n, :] = table[ids[n] - vocabStart, :]` when the id is held here, zeros otherwise
    /// (vocab-parallel: an allReduce over the ranks then completes every row).
    ///
    /// - Parameters:
    ///   - out: `[N, C]`, written.
    ///   - ids: `[N]`, token ids of the full vocabulary.
    ///   - readRow: writes local row `r` (`0..<vocabLocal`) into the given `[C]` destination.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,   // [N, C]
        ids: UnsafePointer<Int>,            // [N]
        tokens: Int, channels: Int,
        vocabStart: Int = 0, vocabLocal: Int,
        readRow: (_ row: Int, _ destination: UnsafeMutablePointer<Float>) throws -> Void
    ) rethrows {
        try StepProfile.measure(.elementwise) {
            for n in 0..<tokens {
                let local = ids[n] - vocabStart
                let y = out + n * channels
                if local >= 0 && local < vocabLocal {
                    try readRow(local, y)
                } else {
                    y.update(repeating: 0, count: channels)
                }
            }
        }
    }
}
