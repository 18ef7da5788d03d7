import Foundation
import Testing
@testable import Kernels

@Suite struct AttentionTests {
    /// Naive fp64 causal GQA attention: query t (position past + t) sees keys 0...past + t.
    private func reference(q: [Float], k: [Float], v: [Float], queries: Int, past: Int,
                           heads: Int, kvHeads: Int, d: Int) -> [Double] {
        let s = past + queries
        var out = [Double](repeating: 0, count: queries * heads * d)
        for t in 0..<queries {
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                let visible = past + t + 1
                var scores = [Double](repeating: 0, count: visible)
                for j in 0..<visible {
                    var dot = 0.0
                    for i in 0..<d { dot += Double(q[(t * heads + h) * d + i]) * Double(k[(j * kvHeads + g) * d + i]) }
                    scores[j] = dot / Double(d).squareRoot()
                }
                let m = scores.max() ?? 0
                let e = scores.map { Foundation.exp($0 - m) }
                let sum = e.reduce(0, +)
                for i in 0..<d {
                    var acc = 0.0
                    for j in 0..<visible { acc += e[j] / sum * Double(v[(j * kvHeads + g) * d + i]) }
                    out[(t * heads + h) * d + i] = acc
                }
            }
            _ = s
        }
        return out
    }

    @Test(arguments: [(1, 0, 1, 1, 4), (5, 0, 4, 2, 8), (70, 0, 9, 3, 16), (3, 67, 6, 3, 8), (130, 5, 2, 1, 4)])
    func matchesFp64Reference(_ queries: Int, _ past: Int, _ heads: Int, _ kvHeads: Int, _ d: Int) {
        var rng = SplitMix64(seed: 51)
        let s = past + queries
        let q = rng.floats(queries * heads * d, scale: 2)
        let k = rng.floats(s * kvHeads * d, scale: 2)
        let v = rng.floats(s * kvHeads * d)
        var out = [Float](repeating: .nan, count: queries * heads * d)
        var probs = [Float](repeating: .nan, count: heads * queries * s)
        Attention.forward(out: &out, probs: &probs, q: q, k: k, v: v, queries: queries, past: past,
                          heads: heads, kvHeads: kvHeads, headDim: d, qStride: heads * d, kvStride: kvHeads * d,
                          scale: 1 / Float(d).squareRoot())
        let expected = reference(q: q, k: k, v: v, queries: queries, past: past, heads: heads, kvHeads: kvHeads, d: d)
        expectClose(out, expected, atol: 2e-5, rtol: 1e-4, "T=\(queries) past=\(past) H=\(heads) G=\(kvHeads) D=\(d)")
        // Probabilities: rows sum to 1, zero above the diagonal.
        for h in 0..<heads {
            for t in 0..<queries {
                let row = probs[((h * queries + t) * s)..<((h * queries + t + 1) * s)]
                let visible = past + t + 1
                #expect(abs(row.prefix(visible).reduce(0, +) - 1) < 1e-4)
                #expect(row.dropFirst(visible).allSatisfy { $0 == 0 })
            }
        }
    }

    /// Attending with a cache (past keys) gives the same rows as one pass over the whole sequence.
    @Test func cachedQueriesEqualFullPass() {
        var rng = SplitMix64(seed: 52)
        let heads = 4, kvHeads = 2, d = 8, total = 12, past = 9, stride = heads * d
        let q = rng.floats(total * stride)
        let k = rng.floats(total * kvHeads * d)
        let v = rng.floats(total * kvHeads * d)
        var full = [Float](repeating: 0, count: total * stride)
        var probs = [Float](repeating: 0, count: heads * total * total)
        Attention.forward(out: &full, probs: &probs, q: q, k: k, v: v, queries: total, past: 0, heads: heads,
                          kvHeads: kvHeads, headDim: d, qStride: stride, kvStride: kvHeads * d, scale: 0.3)
        var tail = [Float](repeating: 0, count: (total - past) * stride)
        Array(q[(past * stride)...]).withUnsafeBufferPointer { qTail in
            Attention.forward(out: &tail, probs: &probs, q: qTail.baseAddress!, k: k, v: v, queries: total - past,
                              past: past, heads: heads, kvHeads: kvHeads, headDim: d, qStride: stride,
                              kvStride: kvHeads * d, scale: 0.3)
        }
        expectClose(tail, Array(full[(past * stride)...]).map(Double.init), atol: 1e-6, rtol: 1e-5, "cache")
    }
}
