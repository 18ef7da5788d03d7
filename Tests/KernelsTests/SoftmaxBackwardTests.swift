import Foundation
import Testing
@testable import Kernels

@Suite struct SoftmaxBackwardTests {
    @Test func gradientMatchesFiniteDifferencesWithStride() {
        var rng = SplitMix64(seed: 141)
        let rows = 4, length = 9, stride = 12
        let x = rng.floats(rows * stride, scale: 3)
        let dout = rng.floats(rows * stride)
        var y = [Float](repeating: 0, count: rows * stride)
        Softmax.forward(out: &y, inp: x, rows: rows, length: length, stride: stride)
        var dx = [Float](repeating: 0, count: rows * stride)
        Softmax.backward(dinp: &dx, dout: dout, out: y, rows: rows, length: length, stride: stride)
        let indices = (0..<(rows * stride)).filter { $0 % stride < length }
        expectGradient(dx, at: x, indices: indices, "dx") { xd in
            var loss = 0.0
            for n in 0..<rows {
                let row = xd[(n * stride)..<(n * stride + length)]
                let m = row.max() ?? 0
                let sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                for (j, v) in row.enumerated() { loss += Double(dout[n * stride + j]) * Foundation.exp(v - m) / sum }
            }
            return loss
        }
        for n in 0..<rows { for j in length..<stride { #expect(dx[n * stride + j] == 0, "padding untouched") } }
    }
}
