import Foundation
import Testing
@testable import Kernels

@Suite struct RoPEBackwardTests {
    /// fp64 rotate-half RoPE with the table's own fp32 cos/sin values.
    private func reference(_ x: [Double], positions: [Int], heads: Int, rowStride: Int, table: RoPETable) -> [Double] {
        let half = table.headDim / 2
        var y = x
        for (n, p) in positions.enumerated() {
            for h in 0..<heads {
                let base = n * rowStride + h * table.headDim
                for i in 0..<half {
                    let c = Double(table.cos[p * half + i]), s = Double(table.sin[p * half + i])
                    let x1 = x[base + i], x2 = x[base + i + half]
                    y[base + i] = x1 * c - x2 * s
                    y[base + i + half] = x2 * c + x1 * s
                }
            }
        }
        return y
    }

    @Test func gradientMatchesFiniteDifferencesWithPackedPositionsAndStride() {
        var rng = SplitMix64(seed: 121)
        let d = 8, heads = 3, rowStride = heads * d + 5  // 5 columns that RoPE must not touch
        let table = RoPETable(headDim: d, positions: 40, theta: 10_000)
        let positions = [0, 1, 2, 0, 1, 37, 3]  // two packed documents, then a cached-offset token
        let tokens = positions.count
        let x = rng.floats(tokens * rowStride)
        let dout = rng.floats(tokens * rowStride)
        var dx = dout
        RoPE.backward(dx: &dx, positions: positions, tokens: tokens, heads: heads, rowStride: rowStride, table: table)
        expectGradient(dx, at: x, "dx") {
            dot(dout, reference($0, positions: positions, heads: heads, rowStride: rowStride, table: table))
        }
        for n in 0..<tokens {
            for i in (heads * d)..<rowStride { #expect(dx[n * rowStride + i] == dout[n * rowStride + i]) }
        }
    }

    /// The backward is the inverse rotation: backward(forward(x)) = x.
    @Test func backwardUndoesForward() {
        var rng = SplitMix64(seed: 122)
        let table = RoPETable(headDim: 16, positions: 100, theta: 500_000,
                              scaling: Llama3RoPEScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4,
                                                         originalMaxPositionEmbeddings: 64))
        let positions = [5, 99, 0, 42]
        let x = rng.floats(positions.count * 2 * 16)
        var y = x
        RoPE.forward(x: &y, positions: positions, tokens: 4, heads: 2, rowStride: 32, table: table)
        RoPE.backward(dx: &y, positions: positions, tokens: 4, heads: 2, rowStride: 32, table: table)
        expectClose(y, x.map(Double.init), atol: 1e-6, rtol: 1e-6, "round trip")
    }
}
