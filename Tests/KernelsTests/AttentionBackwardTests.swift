import Foundation
import Testing
@testable import Kernels

@Suite struct AttentionBackwardTests {
    /// fp64 causal GQA attention, tightly packed rows: query t (position past + t) sees keys
    /// 0...past + t; `out [T, H·D]`.
    private func reference(q: [Double], k: [Double], v: [Double], queries: Int, past: Int,
                           heads: Int, kvHeads: Int, d: Int, scale: Double) -> [Double] {
        var out = [Double](repeating: 0, count: queries * heads * d)
        for t in 0..<queries {
            let visible = past + t + 1
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                var scores = [Double](repeating: 0, count: visible)
                for j in 0..<visible {
                    var sum = 0.0
                    for i in 0..<d { sum += q[(t * heads + h) * d + i] * k[(j * kvHeads + g) * d + i] }
                    scores[j] = sum * scale
                }
                let m = scores.max() ?? 0
                let e = scores.map { Foundation.exp($0 - m) }
                let total = e.reduce(0, +)
                for i in 0..<d {
                    var sum = 0.0
                    for j in 0..<visible { sum += e[j] * v[(j * kvHeads + g) * d + i] }
                    out[(t * heads + h) * d + i] = sum / total
                }
            }
        }
        return out
    }

    /// (T, past, H, G, D, checked coordinates per tensor or nil for all)
    @Test(arguments: [(5, 0, 4, 2, 4, nil), (7, 3, 4, 2, 4, nil), (1, 2, 1, 1, 2, nil), (3, 6, 6, 3, 2, nil),
                      (67, 2, 2, 1, 4, 24)] as [(Int, Int, Int, Int, Int, Int?)])
    func gradientsMatchFiniteDifferences(_ queries: Int, _ past: Int, _ heads: Int, _ kvHeads: Int, _ d: Int,
                                         _ sampled: Int?) {
        var rng = SplitMix64(seed: 151)
        let s = past + queries, qw = heads * d, kvw = kvHeads * d
        let scale = 1 / Double(d).squareRoot()
        let q = rng.floats(queries * qw, scale: 2)
        let k = rng.floats(s * kvw, scale: 2)
        let v = rng.floats(s * kvw)
        let dout = rng.floats(queries * qw)
        var dq = [Float](repeating: .nan, count: queries * qw)
        var dk = [Float](repeating: .nan, count: s * kvw)  // overwritten, so NaN must not leak
        var dv = [Float](repeating: .nan, count: s * kvw)
        var scratch = [Float](repeating: .nan, count: Attention.backwardScratchCount(queries: queries, past: past))
        Attention.backward(dq: &dq, dk: &dk, dv: &dv, scratch: &scratch, dout: dout, q: q, k: k, v: v,
                           queries: queries, past: past, heads: heads, kvHeads: kvHeads, headDim: d,
                           qStride: qw, kvStride: kvw, scale: Float(scale))
        let qd = q.map(Double.init), kd = k.map(Double.init), vd = v.map(Double.init)
        func pick(_ count: Int) -> [Int]? {
            sampled.map { n in (0..<n).map { _ in Int(rng.next() % UInt64(count)) } }
        }
        let what = "T=\(queries) past=\(past) H=\(heads) G=\(kvHeads) D=\(d)"
        expectGradient(dq, at: q, indices: pick(q.count), "dq \(what)") {
            dot(dout, reference(q: $0, k: kd, v: vd, queries: queries, past: past, heads: heads, kvHeads: kvHeads,
                                d: d, scale: scale))
        }
        expectGradient(dk, at: k, indices: pick(k.count), "dk \(what)") {
            dot(dout, reference(q: qd, k: $0, v: vd, queries: queries, past: past, heads: heads, kvHeads: kvHeads,
                                d: d, scale: scale))
        }
        expectGradient(dv, at: v, indices: pick(v.count), "dv \(what)") {
            dot(dout, reference(q: qd, k: kd, v: $0, queries: queries, past: past, heads: heads, kvHeads: kvHeads,
                                d: d, scale: scale))
        }
    }

    /// Two packed documents (lengths 3 and 5) in one strided buffer, one call per document with
    /// pointers at its first token; padding columns of the strided rows stay untouched.
    @Test func packedDocumentsWithStrides() {
        var rng = SplitMix64(seed: 152)
        let heads = 4, kvHeads = 2, d = 4, lengths = [3, 5], n = 8
        let qStride = heads * d + 3, kvStride = kvHeads * d + 1
        let scale = 0.4
        let q = rng.floats(n * qStride), k = rng.floats(n * kvStride), v = rng.floats(n * kvStride)
        let dout = rng.floats(n * qStride)
        let dq = FloatBuffer([Float](repeating: 7, count: n * qStride))
        let dk = FloatBuffer([Float](repeating: 7, count: n * kvStride))
        let dv = FloatBuffer([Float](repeating: 7, count: n * kvStride))
        let qb = FloatBuffer(q), kb = FloatBuffer(k), vb = FloatBuffer(v), db = FloatBuffer(dout)
        let scratch = FloatBuffer(count: Attention.backwardScratchCount(queries: 5, past: 0))
        var start = 0
        for length in lengths {
            Attention.backward(dq: dq.pointer + start * qStride, dk: dk.pointer + start * kvStride,
                               dv: dv.pointer + start * kvStride, scratch: scratch.pointer,
                               dout: db.pointer + start * qStride, q: qb.pointer + start * qStride,
                               k: kb.pointer + start * kvStride, v: vb.pointer + start * kvStride,
                               queries: length, past: 0, heads: heads, kvHeads: kvHeads, headDim: d,
                               qStride: qStride, kvStride: kvStride, scale: Float(scale))
            start += length
        }
        /// L = Σ over documents of Σ dout ⊙ attention(document), rows unpacked from the strides.
        func loss(_ qd: [Double], _ kd: [Double], _ vd: [Double]) -> Double {
            var total = 0.0, start = 0
            for length in lengths {
                func rows(_ x: [Double], _ stride: Int, _ width: Int) -> [Double] {
                    (start..<(start + length)).flatMap { x[($0 * stride)..<($0 * stride + width)] }
                }
                let out = reference(q: rows(qd, qStride, heads * d), k: rows(kd, kvStride, kvHeads * d),
                                    v: rows(vd, kvStride, kvHeads * d), queries: length, past: 0,
                                    heads: heads, kvHeads: kvHeads, d: d, scale: scale)
                for t in 0..<length {
                    for i in 0..<(heads * d) { total += Double(dout[(start + t) * qStride + i]) * out[t * heads * d + i] }
                }
                start += length
            }
            return total
        }
        let qd = q.map(Double.init), kd = k.map(Double.init), vd = v.map(Double.init)
        let qIndices = (0..<q.count).filter { $0 % qStride < heads * d }
        let kvIndices = (0..<k.count).filter { $0 % kvStride < kvHeads * d }
        expectGradient(dq.array, at: q, indices: qIndices, "dq packed") { loss($0, kd, vd) }
        expectGradient(dk.array, at: k, indices: kvIndices, "dk packed") { loss(qd, $0, vd) }
        expectGradient(dv.array, at: v, indices: kvIndices, "dv packed") { loss(qd, kd, $0) }
        for r in 0..<n {
            for i in (heads * d)..<qStride { #expect(dq[r * qStride + i] == 7, "dq padding") }
            for i in (kvHeads * d)..<kvStride { #expect(dk[r * kvStride + i] == 7 && dv[r * kvStride + i] == 7) }
        }
    }

    /// One query head per call (as LlamaModel's forward loops) with `accumulateKeyValue` gives the
    /// same gradients as one call over all heads.
    @Test func perHeadCallsAccumulateLikeOneCall() {
        var rng = SplitMix64(seed: 153)
        let t = 9, past = 2, heads = 4, kvHeads = 2, d = 4, s = past + t, qw = heads * d, kvw = kvHeads * d
        let q = rng.floats(t * qw), k = rng.floats(s * kvw), v = rng.floats(s * kvw), dout = rng.floats(t * qw)
        var scratch = [Float](repeating: 0, count: Attention.backwardScratchCount(queries: t, past: past))
        var dq = [Float](repeating: 0, count: t * qw)
        var dk = [Float](repeating: 0, count: s * kvw), dv = dk
        Attention.backward(dq: &dq, dk: &dk, dv: &dv, scratch: &scratch, dout: dout, q: q, k: k, v: v,
                           queries: t, past: past, heads: heads, kvHeads: kvHeads, headDim: d,
                           qStride: qw, kvStride: kvw, scale: 0.5)
        let dq1 = FloatBuffer(count: t * qw), dk1 = FloatBuffer(count: s * kvw), dv1 = FloatBuffer(count: s * kvw)
        let qb = FloatBuffer(q), kb = FloatBuffer(k), vb = FloatBuffer(v), db = FloatBuffer(dout)
        for h in 0..<heads {
            let g = h / (heads / kvHeads)
            Attention.backward(dq: dq1.pointer + h * d, dk: dk1.pointer + g * d, dv: dv1.pointer + g * d,
                               scratch: &scratch, dout: db.pointer + h * d, q: qb.pointer + h * d,
                               k: kb.pointer + g * d, v: vb.pointer + g * d,
                               queries: t, past: past, heads: 1, kvHeads: 1, headDim: d,
                               qStride: qw, kvStride: kvw, scale: 0.5, accumulateKeyValue: true)
        }
        expectClose(dq1.array, dq.map(Double.init), atol: 1e-6, rtol: 1e-6, "dq")
        expectClose(dk1.array, dk.map(Double.init), atol: 1e-6, rtol: 1e-6, "dk")
        expectClose(dv1.array, dv.map(Double.init), atol: 1e-6, rtol: 1e-6, "dv")
    }
}
