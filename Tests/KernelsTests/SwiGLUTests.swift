import Foundation
import Testing
@testable import Kernels

@Suite struct SwiGLUTests {
    @Test func matchesFp64Reference() {
        var rng = SplitMix64(seed: 21)
        let count = 3 * 37
        let gate = rng.floats(count, scale: 8)
        let up = rng.floats(count, scale: 2)
        var out = [Float](repeating: 0, count: count)
        SwiGLU.forward(out: &out, gate: gate, up: up, count: count)
        let expected = (0..<count).map { i -> Double in
            let g = Double(gate[i])
            return g / (1 + Foundation.exp(-g)) * Double(up[i])
        }
        expectClose(out, expected, atol: 1e-6, rtol: 1e-5, "swiglu")
    }
}
