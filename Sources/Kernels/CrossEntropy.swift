// Cross-entropy of next-token logits against target ids, computed chunk by chunk so the
// [N, V] logits never exist at once (docs/architecture.md §4.4): the caller produces the logits of
// `chunk` rows into one reusable scratch, this op reduces them to per-row losses.
// Legend: N = rows (tokens), V = vocabulary size, K = rows per chunk, C = channels of the
// head's input.
// Backward is fused with the forward (llm.c's fused classifier): each chunk's logits are turned
// into dlogits in place, and a caller-supplied closure takes them through the head
// (dx = dlogits · W), so the [N, V] gradient never exists beyond one chunk either.

import Foundation

/// Token-level cross-entropy with an ignore index, forward and fused forward-backward.
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
            let maxValue = VectorMath.max(row, count: vocab)
            // Sum in fp64: V can be 10⁵ terms.
            let sum = VectorMath.expSum(row, count: vocab, shift: maxValue)
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

    /// `forward` and its gradient with respect to the logits in one pass:
    /// `dlogits[n, :] = lossScale · (softmax(logits[n, :]) - onehot(target[n]))` for counted rows,
    /// zeros for ignored rows.
    ///
    /// - Parameters:
    ///   - dlogits: `[N, V]`, **overwritten** (activation gradient); may alias `logits`.
    ///   - losses: `[N]`, written as by `forward`.
    ///   - logits: `[N, V]`.
    ///   - targets: `[N]`, each in `0..<V` or `ignoreIndex`.
    ///   - lossScale: `∂L/∂losses[n]` for every counted row, e.g. `1 / count` for the mean.
    /// - Returns: the sum of the counted losses (fp64) and how many rows were counted.
    @inlinable @discardableResult
    public static func forwardBackward(
        dlogits: UnsafeMutablePointer<Float>,   // [N, V]
        losses: UnsafeMutablePointer<Float>,    // [N]
        logits: UnsafePointer<Float>,           // [N, V]
        targets: UnsafePointer<Int>,            // [N]
        rows: Int, vocab: Int, lossScale: Float
    ) -> (sum: Double, count: Int) {
        precondition(rows >= 0 && vocab > 0, "CrossEntropy: bad shape")
        var total = 0.0
        var counted = 0
        for n in 0..<rows {
            let target = targets[n]
            let row = logits + n * vocab
            let drow = dlogits + n * vocab
            if target == ignoreIndex {
                losses[n] = 0
                drow.update(repeating: 0, count: vocab)
                continue
            }
            precondition(target >= 0 && target < vocab, "CrossEntropy: target \(target) outside 0..<\(vocab)")
            // Forward, as in `forward` (all reads of the row happen here, before any write).
            let maxValue = VectorMath.max(row, count: vocab)
            let sum = VectorMath.expSum(row, count: vocab, shift: maxValue)
            let loss = Foundation.log(sum) + Double(maxValue) - Double(row[target])
            losses[n] = Float(loss)
            total += loss
            counted += 1
            // loss = logsumexp(row) - row[target]  ⇒  dlogits = lossScale · (softmax(row) - onehot)
            let norm = Float(1 / sum) * lossScale
            _ = VectorMath.expSum(row, count: vocab, shift: maxValue, storingInto: drow)
            VectorMath.scale(drow, count: vocab, by: norm)
            drow[target] -= lossScale
        }
        return (total, counted)
    }

    /// Number of rows whose target is counted (not `ignoreIndex`).
    @inlinable
    public static func countedRows(targets: UnsafePointer<Int>, rows: Int) -> Int {
        var counted = 0
        for n in 0..<rows where targets[n] != ignoreIndex { counted += 1 }
        return counted
    }

    /// Loss and input gradient of a head + cross-entropy, chunk by chunk, mirroring
    /// `chunkedForward`: for each chunk, `computeLogits(start, count, out)` writes the logits of
    /// rows `start..<start+count` into the scratch, `forwardBackward` turns them into dlogits in
    /// place, and `backpropagate(start, count, dlogits, dinp)` must **overwrite** the chunk's rows
    /// of `dinp` (`[count, C]`, e.g. `dinp = dlogits · W` for `logits = x · Wᵀ`) and may
    /// accumulate parameter gradients. Chunks whose targets are all ignored call neither closure;
    /// their `dinp` rows are zeroed here.
    ///
    /// - Parameters:
    ///   - losses: `[N]`, written.
    ///   - dinp: `[N, C]`, **overwritten** (activation gradient of the head's input).
    ///   - targets: `[N]`.
    ///   - logitsScratch: `[chunkRows, V]`, reused for every chunk (logits, then dlogits).
    ///   - lossScale: `∂L/∂losses[n]` for each counted row; `nil` means the mean over the counted
    ///     rows of this call, `1 / countedRows`. Pass it explicitly when the mean runs over more
    ///     rows than this call sees (gradient accumulation, data parallelism).
    /// - Returns: the sum of the counted losses (fp64) and how many rows were counted.
    @inlinable
    public static func chunkedForwardBackward(
        losses: UnsafeMutablePointer<Float>,        // [N]
        dinp: UnsafeMutablePointer<Float>,          // [N, C]
        targets: UnsafePointer<Int>,                // [N]
        rows: Int, vocab: Int, channels: Int, chunkRows: Int,
        logitsScratch: UnsafeMutablePointer<Float>, // [K, V]
        lossScale: Float? = nil,
        computeLogits: (_ start: Int, _ count: Int, _ out: UnsafeMutablePointer<Float>) throws -> Void,
        backpropagate: (_ start: Int, _ count: Int, _ dlogits: UnsafePointer<Float>,
                        _ dinp: UnsafeMutablePointer<Float>) throws -> Void
    ) rethrows -> (sum: Double, count: Int) {
        precondition(chunkRows > 0 && channels >= 0, "CrossEntropy: chunkRows must be positive, channels non-negative")
        let allCounted = countedRows(targets: targets, rows: rows)
        let scale = lossScale ?? (allCounted > 0 ? 1 / Float(allCounted) : 0)
        var total = 0.0
        var counted = 0
        var start = 0
        while start < rows {
            let count = min(chunkRows, rows - start)
            if countedRows(targets: targets + start, rows: count) > 0 {
                try computeLogits(start, count, logitsScratch)
                let part = forwardBackward(dlogits: logitsScratch, losses: losses + start,
                                           logits: logitsScratch, targets: targets + start,
                                           rows: count, vocab: vocab, lossScale: scale)
                total += part.sum
                counted += part.count
                try backpropagate(start, count, logitsScratch, dinp + start * channels)
            } else {
                (losses + start).update(repeating: 0, count: count)
                (dinp + start * channels).update(repeating: 0, count: count * channels)
            }
            start += count
        }
        return (total, counted)
    }
}
