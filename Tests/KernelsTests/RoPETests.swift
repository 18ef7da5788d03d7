import Foundation
import Testing
@testable import Kernels

@Suite struct RoPETests {
    /// fp64 rotate-half reference for one head vector at position `p`.
    private func reference(_ v: [Double], p: Int, invFreq: [Double]) -> [Double] {
        let half = v.count / 2
        var out = v
        for i in 0..<half {
            let a = Double(p) * invFreq[i]
            out[i] = v[i] * Foundation.cos(a) - v[i + half] * Foundation.sin(a)
            out[i + half] = v[i + half] * Foundation.cos(a) + v[i] * Foundation.sin(a)
        }
        return out
    }

    @Test func rotatesHeadsAtExplicitPositionsWithStride() {
        var rng = SplitMix64(seed: 41)
        let d = 8, heads = 3, stride = 3 * 8 + 5, tokens = 4
        let table = RoPETable(headDim: d, positions: 64, theta: 10_000)
        let invFreq = (0..<(d / 2)).map { 1 / Foundation.pow(10_000.0, Double(2 * $0) / Double(d)) }
        let positions = [0, 5, 63, 2]  // packed / out-of-order positions are allowed
        var x = rng.floats(tokens * stride)
        let input = x
        RoPE.forward(x: &x, positions: positions, tokens: tokens, heads: heads, rowStride: stride, table: table)
        for n in 0..<tokens {
            for h in 0..<heads {
                let base = n * stride + h * d
                let v = (0..<d).map { Double(input[base + $0]) }
                expectClose(Array(x[base..<(base + d)]), reference(v, p: positions[n], invFreq: invFreq),
                            atol: 2e-6, rtol: 1e-5, "token \(n) head \(h)")
            }
            // Columns past the heads are untouched.
            #expect(Array(x[(n * stride + heads * d)..<((n + 1) * stride)]) == Array(input[(n * stride + heads * d)..<((n + 1) * stride)]))
        }
    }

    @Test func llama3ScalingMatchesHFFormula() {
        let d = 128
        let s = Llama3RoPEScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192)
        let table = RoPETable(headDim: d, positions: 4, theta: 500_000, scaling: s)
        var sawLow = false, sawHigh = false, sawMedium = false
        for i in 0..<(d / 2) {
            let f = 1 / Foundation.pow(500_000.0, Double(2 * i) / Double(d))
            let wavelen = 2 * Double.pi / f
            let expected: Double
            if wavelen < 8192.0 / 4 { expected = f; sawHigh = true }
            else if wavelen > 8192.0 / 1 { expected = f / 8; sawLow = true }
            else {
                let smooth = (8192 / wavelen - 1) / (4 - 1)
                expected = (1 - smooth) * f / 8 + smooth * f
                sawMedium = true
            }
            #expect(abs(Double(table.invFreq[i]) - expected) <= 1e-6 * expected, "i=\(i)")
        }
        #expect(sawLow && sawHigh && sawMedium)
    }
}
