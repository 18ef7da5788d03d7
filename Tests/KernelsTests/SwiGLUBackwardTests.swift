import Foundation
import Testing
@testable import Kernels

@Suite struct SwiGLUBackwardTests {
    private func reference(gate: [Double], up: [Double]) -> [Double] {
        zip(gate, up).map { g, u in g / (1 + Foundation.exp(-g)) * u }
    }

    @Test func gradientsMatchFiniteDifferences() {
        var rng = SplitMix64(seed: 131)
        let count = 3 * 11
        var gate = rng.floats(count, scale: 4)
        gate[0] = 12; gate[1] = -12; gate[2] = 0  // saturated and centred sigmoid
        let up = rng.floats(count, scale: 2)
        let dout = rng.floats(count)
        var dgate = [Float](repeating: .nan, count: count)
        var dup = [Float](repeating: .nan, count: count)
        SwiGLU.backward(dgate: &dgate, dup: &dup, dout: dout, gate: gate, up: up, count: count)
        let gd = gate.map(Double.init), ud = up.map(Double.init)
        expectGradient(dgate, at: gate, "dgate") { dot(dout, reference(gate: $0, up: ud)) }
        expectGradient(dup, at: up, "dup") { dot(dout, reference(gate: gd, up: $0)) }
    }

    @Test func inPlaceOverGateAndUp() {
        var rng = SplitMix64(seed: 132)
        let gate = rng.floats(17, scale: 3), up = rng.floats(17), dout = rng.floats(17)
        var dgate = [Float](repeating: 0, count: 17), dup = [Float](repeating: 0, count: 17)
        SwiGLU.backward(dgate: &dgate, dup: &dup, dout: dout, gate: gate, up: up, count: 17)
        let g = FloatBuffer(gate), u = FloatBuffer(up)
        SwiGLU.backward(dgate: g.pointer, dup: u.pointer, dout: dout, gate: g.pointer, up: u.pointer, count: 17)
        #expect(g.array == dgate)
        #expect(u.array == dup)
    }
}
