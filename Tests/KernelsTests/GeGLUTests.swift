import Foundation
import Testing
@testable import Kernels

/// GeGLU against PyTorch's tanh GELU written out in Double, and its backward against finite
/// differences of that reference.
@Suite struct GeGLUTests {
    private func reference(gate: [Double], up: [Double]) -> [Double] {
        zip(gate, up).map { g, u in 0.5 * g * (1 + Foundation.tanh(0.7978845608028654 * (g + 0.044715 * g * g * g))) * u }
    }

    @Test func forwardMatchesTanhGELU() {
        var rng = SplitMix64(seed: 141)
        var gate = rng.floats(37, scale: 4)
        gate[0] = 12; gate[1] = -12; gate[2] = 0; gate[3] = 1e-4
        let up = rng.floats(37, scale: 2)
        var out = [Float](repeating: .nan, count: 37)
        GeGLU.forward(out: &out, gate: gate, up: up, count: 37)
        let expected = reference(gate: gate.map(Double.init), up: up.map(Double.init))
        for i in 0..<37 {
            #expect(abs(Double(out[i]) - expected[i]) <= 1e-6 * (1 + abs(expected[i])), "\(gate[i]): \(out[i]) vs \(expected[i])")
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        var rng = SplitMix64(seed: 142)
        let count = 3 * 11
        var gate = rng.floats(count, scale: 4)
        gate[0] = 12; gate[1] = -12; gate[2] = 0
        let up = rng.floats(count, scale: 2)
        let dout = rng.floats(count)
        var dgate = [Float](repeating: .nan, count: count)
        var dup = [Float](repeating: .nan, count: count)
        GeGLU.backward(dgate: &dgate, dup: &dup, dout: dout, gate: gate, up: up, count: count)
        let gd = gate.map(Double.init), ud = up.map(Double.init)
        expectGradient(dgate, at: gate, "dgate") { dot(dout, reference(gate: $0, up: ud)) }
        expectGradient(dup, at: up, "dup") { dot(dout, reference(gate: gd, up: $0)) }
    }

    @Test func inPlaceOverGateAndUp() {
        var rng = SplitMix64(seed: 143)
        let gate = rng.floats(17, scale: 3), up = rng.floats(17), dout = rng.floats(17)
        var dgate = [Float](repeating: 0, count: 17), dup = [Float](repeating: 0, count: 17)
        GeGLU.backward(dgate: &dgate, dup: &dup, dout: dout, gate: gate, up: up, count: 17)
        let g = FloatBuffer(gate), u = FloatBuffer(up)
        GeGLU.backward(dgate: g.pointer, dup: u.pointer, dout: dout, gate: g.pointer, up: u.pointer, count: 17)
        #expect(g.array == dgate)
        #expect(u.array == dup)
    }
}
