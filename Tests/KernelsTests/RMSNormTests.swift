import Foundation
import Testing
@testable import Kernels

@Suite struct RMSNormTests {
    @Test(arguments: [(1, 1), (3, 7), (5, 576)])
    func matchesFp64Reference(_ rows: Int, _ channels: Int) {
        var rng = SplitMix64(seed: 11)
        let x = rng.floats(rows * channels, scale: 3)
        let w = rng.floats(channels, scale: 2)
        let eps: Float = 1e-5
        var out = [Float](repeating: 0, count: rows * channels)
        var rstd = [Float](repeating: 0, count: rows)
        RMSNorm.forward(out: &out, rstd: &rstd, inp: x, weight: w, rows: rows, channels: channels, eps: eps)
        var expected = [Double](repeating: 0, count: rows * channels)
        var expectedRstd = [Double](repeating: 0, count: rows)
        for n in 0..<rows {
            var ss = 0.0
            for c in 0..<channels { ss += Double(x[n * channels + c]) * Double(x[n * channels + c]) }
            let r = 1 / (ss / Double(channels) + Double(eps)).squareRoot()
            expectedRstd[n] = r
            for c in 0..<channels { expected[n * channels + c] = Double(x[n * channels + c]) * r * Double(w[c]) }
        }
        expectClose(out, expected, atol: 1e-5, rtol: 1e-5, "out")
        expectClose(rstd, expectedRstd, atol: 1e-6, rtol: 1e-5, "rstd")
    }

    @Test func worksInPlace() {
        var rng = SplitMix64(seed: 12)
        let x = rng.floats(2 * 8)
        let w = rng.floats(8)
        var separate = [Float](repeating: 0, count: 16)
        var rstd = [Float](repeating: 0, count: 2)
        RMSNorm.forward(out: &separate, rstd: &rstd, inp: x, weight: w, rows: 2, channels: 8, eps: 1e-6)
        let buffer = FloatBuffer(x)
        RMSNorm.forward(out: buffer.pointer, rstd: &rstd, inp: buffer.pointer, weight: w, rows: 2, channels: 8, eps: 1e-6)
        #expect(buffer.array == separate)
    }
}
