// Cross-entropy of next-token logits against target ids, computed chunk by chunk so the
// [N, V] logits never exist at once (DESIGN §3.4): the caller produces the logits of `chunk`
// rows into one reusable scratch, this op reduces them to per-row losses.
// Legend: N = rows (tokens), V = vocabulary size, K = rows per chunk.

import Foundation

/// Token-level cross-entropy with an ignore index, forward (backward lands next to it).
public enum CrossEntropy {
    /// Targets equal to this value are not counted (PyTorch / HF convention).
    public static let ignoreIndex = -100

    /// Per-row loss `loss[n] = logsumexp(logits[n, :]) - logits[n, target[n]]`; rows whose
    /// target is `ignoreIndex` get 0.
    ///
    /// - Parameters:
    ///   - losses: `[N]`, written.
    ///   - logits: `[N, V]`.
    ///   - targets: `[N]`, each in `0..<V` or `ignoreIndex`.
    /// - Returns: the sum of the counted losses (fp64) and how many rows were counted.
    @inlinable @discardableResult
    public static func forward(
        losses: UnsafeMutablePointer<Float>,    // [N]
        logits: UnsafePointer<Float>,           // [N, V]
        targets: UnsafePointer<Int>,            // [N]
        rows: Int, vocab: Int
    ) -> (sum: Double, count: Int) {
        precondition(rows >= 0 && vocab > 0, "CrossEntropy: bad shape")
        var total = 0.0
        var counted = 0
        for n in 0..<rows {
            let target = targets[n]
            if target == ignoreIndex { losses[n] = 0; continue }
            precondition(target >= 0 && target < vocab, "CrossEntropy: target \(target) outside 0..<\(vocab)")
            let row = logits + n * vocab
            var maxValue = -Float.infinity
            for v in 0..<vocab where row[v] > maxValue { maxValue = row[v] }
            // Sum in fp64: V can be 10⁵ terms.
            var sum = 0.0
            for v in 0..<vocab { sum += Double(Foundation.exp(row[v] - maxValue)) }
            let loss = Foundation.log(sum) + Double(maxValue) - Double(row[target])
            losses[n] = Float(loss)
            total += loss
            counted += 1
        }
        return (total, counted)
    }

    /// Runs `forward` over `N` rows in chunks of `chunkRows`: `computeLogits(start, count, out)`
    /// must write the logits of rows `start..<start+count` into `out` (`[count, V]`). Chunks whose
    /// targets are all ignored are skipped without computing their logits.
    ///
    /// - Parameters:
    ///   - losses: `[N]`, written.
    ///   - targets: `[N]`.
    ///   - logitsScratch: `[chunkRows, V]`, reused for every chunk.
    /// - Returns: the sum of the counted losses (fp64) and how many rows were counted; the mean
    ///   loss is `sum / count`.
    @inlinable
    public static func chunkedForward(
        losses: UnsafeMutablePointer<Float>,        // [N]
        targets: UnsafePointer<Int>,                // [N]
        rows: Int, vocab: Int, chunkRows: Int,
        logitsScratch: UnsafeMutablePointer<Float>, // [K, V]
        computeLogits: (_ start: Int, _ count: Int, _ out: UnsafeMutablePointer<Float>) throws -> Void
    ) rethrows -> (sum: Double, count: Int) {
        precondition(chunkRows > 0, "CrossEntropy: chunkRows must be positive")
        var total = 0.0
        var counted = 0
        var start = 0
        while start < rows {
            let count = min(chunkRows, rows - start)
            var anyCounted = false
            for n in start..<(start + count) where targets[n] != ignoreIndex { anyCounted = true; break }
            if anyCounted {
                try computeLogits(start, count, logitsScratch)
                let part = forward(losses: losses + start, logits: logitsScratch, targets: targets + start,
                                   rows: count, vocab: vocab)
                total += part.sum
                counted += part.count
            } else {
                (losses + start).update(repeating: 0, count: count)
            }
            start += count
        }
        return (total, counted)
    }
}
