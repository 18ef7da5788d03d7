import Foundation
import Testing
@testable import Kernels

@Suite struct SoftmaxTests {
    @Test func matchesFp64ReferenceWithStride() {
        var rng = SplitMix64(seed: 31)
        let rows = 4, length = 13, stride = 16
        var x = rng.floats(rows * stride, scale: 20)
        let input = x
        Softmax.forward(out: &x, inp: input, rows: rows, length: length, stride: stride)
        for n in 0..<rows {
            let row = (0..<length).map { Double(input[n * stride + $0]) }
            let m = row.max() ?? 0
            let sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            let expected = row.map { Foundation.exp($0 - m) / sum }
            expectClose(Array(x[(n * stride)..<(n * stride + length)]), expected, atol: 1e-7, rtol: 1e-5, "row \(n)")
            // Padding columns are left alone.
            #expect(Array(x[(n * stride + length)..<((n + 1) * stride)]) == Array(input[(n * stride + length)..<((n + 1) * stride)]))
        }
    }

    @Test func rowReturnsLogSumExp() {
        let x: [Float] = [1000, 1001, 999]
        var out = [Float](repeating: 0, count: 3)
        let lse = Softmax.row(out: &out, inp: x, length: 3)
        let expected = 1001 + Foundation.log(Foundation.exp(-1.0) + 1 + Foundation.exp(-2.0))
        #expect(abs(Double(lse) - expected) < 1e-3)
        #expect(out.allSatisfy { $0.isFinite })
    }
}
