// Evaluation: mean next-token cross-entropy over a batch of sequences, plus logits at chosen
// rows, or every row's logits streamed chunk by chunk (`eval --logits`). The head runs in chunks of the workspace's `logitRows` rows so [N, V] logits never exist
// at once.
// Legend: N = total tokens of the batch, V = vocab.

import Kernels

/// The result of `Llama.evaluate`.
public struct LlamaEvaluation: Sendable {
    /// Mean cross-entropy over the counted targets (NaN when none was counted).
    public var loss: Double
    /// Sum of the counted per-token losses (fp64), for averaging across batches.
    public var lossSum: Double
    /// Targets that were counted.
    public var countedTargets: Int
    /// Full-vocabulary logits of each requested row, in request order: `[V]` each.
    public var logits: [[Float]]
}

extension Llama {
    /// Runs the model over `sequences` (each its own causal context, positions from 0) and
    /// returns the mean next-token loss.
    ///
    /// - Parameters:
    ///   - sequences: token ids; every id in `0..<V`.
    ///   - labels: HF convention, aligned with the inputs (unshifted): the target at token `i` is
    ///     `labels[i + 1]`; `-100` is not counted. Defaults to the inputs themselves.
    ///   - logitRows: rows of the concatenated token list whose logits to return.
    ///   - workspace: reused when it is large enough (`maxTokens ≥` total tokens).
    public func evaluate(sequences: [[Int]], labels: [[Int]]? = nil, logitRows: [Int] = [],
                         workspace: LlamaWorkspace? = nil) throws -> LlamaEvaluation {
        let (n, ws) = try runBatch(sequences: sequences, labels: labels, logitRows: logitRows, workspace: workspace)
        // Loss head, chunked; requested rows are copied out of the chunk that computes them.
        let v = config.vocabSize
        var captured = [[Float]?](repeating: nil, count: logitRows.count)
        let result = try CrossEntropy.chunkedForward(
            losses: ws.losses.pointer, targets: ws.targets, rows: n, vocab: v, chunkRows: ws.logitRows,
            logitsScratch: ws.logits.pointer
        ) { chunkStart, count, out in
            try headLogits(start: chunkStart, count: count, into: out, workspace: ws)
            for (slot, row) in logitRows.enumerated() where row >= chunkStart && row < chunkStart + count {
                captured[slot] = Array(UnsafeBufferPointer(start: out + (row - chunkStart) * v, count: v))
            }
        }
        // Rows in fully ignored chunks were skipped by the loss: compute them now.
        var logits: [[Float]] = []
        for (slot, row) in logitRows.enumerated() {
            if let values = captured[slot] { logits.append(values); continue }
            try headLogits(start: row, count: 1, into: ws.logits.pointer, workspace: ws)
            logits.append(Array(UnsafeBufferPointer(start: ws.logits.pointer, count: v)))
        }
        let loss = result.count > 0 ? result.sum / Double(result.count) : .nan
        return LlamaEvaluation(loss: loss, lossSum: result.sum, countedTargets: result.count, logits: logits)
    }

    /// Streams the full-vocabulary logits of every token of `sequences` (each its own causal
    /// context, positions from 0) to `body`, in chunks of rows of the concatenated token list:
    /// `body(firstRow, rowCount, logits [rowCount, V])`. The pointer is valid only during the call.
    public func forEachLogitChunk(sequences: [[Int]], workspace: LlamaWorkspace? = nil,
                                  _ body: (Int, Int, UnsafePointer<Float>) throws -> Void) throws {
        let (n, ws) = try runBatch(sequences: sequences, labels: nil, logitRows: [], workspace: workspace)
        var start = 0
        while start < n {
            let count = min(ws.logitRows, n - start)
            try headLogits(start: start, count: count, into: ws.logits.pointer, workspace: ws)
            try body(start, count, ws.logits.pointer)
            start += count
        }
    }

    /// Validates a batch, fills positions and shifted targets, and runs every layer over it.
    /// Returns the token count and the workspace holding the final-normed hidden states.
    private func runBatch(sequences: [[Int]], labels: [[Int]]?, logitRows: [Int],
                          workspace: LlamaWorkspace?) throws -> (Int, LlamaWorkspace) {
        let n = sequences.reduce(0) { $0 + $1.count }
        guard n > 0 else { throw LlamaModelError.invalidInput("evaluate needs at least one token") }
        if let labels {
            guard labels.count == sequences.count, zip(labels, sequences).allSatisfy({ $0.count == $1.count }) else {
                throw LlamaModelError.invalidInput("labels must have the same shape as the sequences")
            }
        }
        for row in logitRows where row < 0 || row >= n {
            throw LlamaModelError.invalidInput("logit row \(row) is outside the \(n) tokens")
        }
        let longest = sequences.map(\.count).max() ?? 0
        guard longest <= maxPositions else {
            throw LlamaModelError.invalidInput("a sequence of \(longest) tokens exceeds the model's \(maxPositions) positions")
        }
        if let window = config.unappliedWindow, longest > window {
            throw LlamaModelError.invalidInput("a sequence of \(longest) tokens exceeds sliding_window \(window), which this family applies only to some layers (not implemented)")
        }
        for s in sequences { try validate(ids: s) }
        let ws: LlamaWorkspace
        if let given = workspace, given.maxTokens >= n, given.maxKeys >= longest { ws = given }
        else { ws = LlamaWorkspace(model: self, maxTokens: n) }

        // Flat ids, positions restarting per sequence, shifted targets.
        let ids = sequences.flatMap { $0 }
        var segments: [Range<Int>] = []
        var start = 0
        for (s, sequence) in sequences.enumerated() {
            let source = labels?[s] ?? sequence
            for i in 0..<sequence.count {
                ws.positions[start + i] = i
                let target = i + 1 < sequence.count ? source[i + 1] : CrossEntropy.ignoreIndex
                guard target == CrossEntropy.ignoreIndex || (0..<config.vocabSize).contains(target) else {
                    throw LlamaModelError.invalidInput("label \(target) in sequence \(s) is outside the vocabulary")
                }
                ws.targets[start + i] = target
            }
            segments.append(start..<(start + sequence.count))
            start += sequence.count
        }
        try ids.withUnsafeBufferPointer { idp in
            try forwardHidden(ids: idp.baseAddress!, tokens: n, segments: segments, cache: nil, workspace: ws)
        }
        return (n, ws)
    }
}
