import Foundation
import Testing
@testable import Kernels

@Suite struct RMSNormBackwardTests {
    /// fp64 RMSNorm: `x · (mean(x²) + eps)^(-1/2) · w` per row.
    private func reference(_ x: [Double], _ w: [Double], rows: Int, channels: Int, eps: Double) -> [Double] {
        var y = [Double](repeating: 0, count: rows * channels)
        for n in 0..<rows {
            var ss = 0.0
            for c in 0..<channels { ss += x[n * channels + c] * x[n * channels + c] }
            let r = 1 / (ss / Double(channels) + eps).squareRoot()
            for c in 0..<channels { y[n * channels + c] = x[n * channels + c] * r * w[c] }
        }
        return y
    }

    @Test(arguments: [(1, 2), (3, 7), (4, 64)])
    func gradientsMatchFiniteDifferences(_ rows: Int, _ channels: Int) {
        var rng = SplitMix64(seed: 111)
        let x = rng.floats(rows * channels, scale: 2)
        let w = rng.floats(channels, scale: 2)
        let dout = rng.floats(rows * channels)
        let eps: Float = 1e-5
        var out = [Float](repeating: 0, count: rows * channels)
        var rstd = [Float](repeating: 0, count: rows)
        RMSNorm.forward(out: &out, rstd: &rstd, inp: x, weight: w, rows: rows, channels: channels, eps: eps)
        var dx = [Float](repeating: .nan, count: rows * channels)
        let dwStart = rng.floats(channels)
        var dw = dwStart
        RMSNorm.backward(dinp: &dx, dweight: &dw, dout: dout, inp: x, weight: w, rstd: rstd,
                         rows: rows, channels: channels)
        let wd = w.map(Double.init), xd = x.map(Double.init)
        expectGradient(dx, at: x, "dx N=\(rows) C=\(channels)") {
            dot(dout, reference($0, wd, rows: rows, channels: channels, eps: Double(eps)))
        }
        // dweight accumulates: subtract what was there.
        let added = zip(dw, dwStart).map { $0 - $1 }
        expectGradient(added, at: w, "dweight N=\(rows) C=\(channels)") {
            dot(dout, reference(xd, $0, rows: rows, channels: channels, eps: Double(eps)))
        }
    }

    @Test func withoutWeightGradientAndInPlace() {
        var rng = SplitMix64(seed: 112)
        let rows = 3, channels = 9
        let x = rng.floats(rows * channels)
        let w = rng.floats(channels)
        let dout = rng.floats(rows * channels)
        var out = [Float](repeating: 0, count: rows * channels)
        var rstd = [Float](repeating: 0, count: rows)
        RMSNorm.forward(out: &out, rstd: &rstd, inp: x, weight: w, rows: rows, channels: channels, eps: 1e-6)
        var separate = [Float](repeating: 0, count: rows * channels)
        var dw = [Float](repeating: 0, count: channels)
        RMSNorm.backward(dinp: &separate, dweight: &dw, dout: dout, inp: x, weight: w, rstd: rstd,
                         rows: rows, channels: channels)
        let buffer = FloatBuffer(dout)
        RMSNorm.backward(dinp: buffer.pointer, dweight: nil, dout: buffer.pointer, inp: x, weight: w, rstd: rstd,
                         rows: rows, channels: channels)
        #expect(buffer.array == separate)
    }
}
