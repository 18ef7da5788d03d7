// Head and cross-entropy over a vocabulary split across the tensor-parallel group
// (docs/architecture.md §4.4), chunk by chunk so neither the [N, V] nor the [N, V_local] logits
// ever exist:
//   logits_local [K, VL] = xn[chunk] · E_localᵀ
//   m      = allReduceMax(rowmax(logits_local))                        [K]
//   (s, z) = allReduceSum(Σ_local exp(logits − m), target logit or 0)   [2, K] in one buffer
//   loss   = log s + m − z
//   dlogits_local = lossScale · (exp(logits − m) / s − onehot_local)
//   dxn[chunk] = dlogits_local · E_local, and once for all chunks allReduceSum(dxn) [N, C].
// For a group of one this is `CrossEntropy.chunkedForwardBackward` (same fp64 sums; the
// exp-sum passes through a Float for the reduction).
// Legend: N = tokens, K = chunk rows, VL = V_local, v0 = first vocabulary row held, C = hidden.

import Foundation
import Kernels
import ProcessGroups

extension Llama {
    /// Loss of every counted target of `workspace.targets` over `workspace.finalNormed`; with
    /// `backward`, also writes `workspace.dNormed` (`[N, C]`, overwritten, complete on every rank)
    /// for `d(Σ losses · lossScale)`.
    /// - Returns: the sum of the counted losses (fp64) and how many were counted.
    func vocabParallelLoss(_ ctx: PassContext, lossScale: Float, backward: Bool) throws -> (lossSum: Double, counted: Int) {
        let ws = ctx.workspace, n = ctx.tokens, c = config.hiddenSize, group = ctx.group
        let v0 = ctx.shard.vocabRows.lowerBound, vl = ctx.shard.vocabRows.count
        let chunkRows = ws.sizes.logitRows
        let targets = UnsafePointer(ws.targets)
        let logits = ws.logits.pointer
        let rowMax = ws.lossStats.pointer                   // [K]
        let sums = ws.lossStats.pointer + chunkRows          // [2, count]: Σ exp(logit − m), then target logits
        try TensorParallelMapping.copyToRegion.forward(ws.finalNormed.pointer, rows: n, columns: c, group: group)
        if backward { ws.dNormed.pointer.update(repeating: 0, count: n * c) }
        var total = 0.0
        var counted = 0
        var start = 0
        while start < n {
            let count = min(chunkRows, n - start)
            let z = sums + count  // target logits right after the sums: one fused allReduce
            defer { start += count }
            // Targets are identical on every rank, so every rank skips the same chunks.
            guard CrossEntropy.countedRows(targets: targets + start, rows: count) > 0 else { continue }
            // logits [K, VL] = xn [K, C] · E_localᵀ [C, VL]
            try weights.output.linearForward(out: logits, inp: ws.finalNormed.pointer + start * c, tokens: count,
                                             scratch: ws.weightScratch.pointer)
            for r in 0..<count {
                let row = logits + r * vl
                rowMax[r] = VectorMath.max(row, count: vl)
            }
            try group.allReduceMax(rowMax, count: count)
            for r in 0..<count {
                let row = logits + r * vl, m = rowMax[r]
                let local = targets[start + r] - v0
                z[r] = local >= 0 && local < vl ? row[local] : 0
                // fp64 sum (V can be 10⁵ terms); with the backward, exp(logit − m) stays in place
                // for the gradient (one exp per logit).
                sums[r] = Float(VectorMath.expSum(row, count: vl, shift: m, storingInto: backward ? row : nil))
            }
            try group.allReduceSum(sums, count: 2 * count)
            for r in 0..<count where targets[start + r] != CrossEntropy.ignoreIndex {
                let loss = Foundation.log(Double(sums[r])) + Double(rowMax[r]) - Double(z[r])
                total += loss
                counted += 1
            }
            guard backward else { continue }
            // loss = log s + m − z  ⇒  dlogits = lossScale · (exp(logit − m) / s − onehot), in place
            for r in 0..<count {
                let row = logits + r * vl
                let target = targets[start + r]
                if target == CrossEntropy.ignoreIndex { row.update(repeating: 0, count: vl); continue }
                let norm = Float(1 / Double(sums[r])) * lossScale
                VectorMath.scale(row, count: vl, by: norm)
                let local = target - v0
                if local >= 0 && local < vl { row[local] -= lossScale }
            }
            // logits = xn · E_localᵀ  ⇒  dxn [K, C] = dlogits [K, VL] · E_local [VL, C] (partial)
            try weights.output.linearBackwardInput(dinp: ws.dNormed.pointer + start * c, dout: logits, tokens: count,
                                                   scratch: ws.weightScratch.pointer)
        }
        // The head is column-parallel over the vocabulary: its input gradient leaves the region.
        if backward { try TensorParallelMapping.copyToRegion.backward(ws.dNormed.pointer, rows: n, columns: c, group: group) }
        return (total, counted)
    }
}
