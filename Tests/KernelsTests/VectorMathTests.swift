import Foundation
import Testing
@testable import Kernels

@Suite struct VectorMathTests {
    /// Inputs over the whole finite range of exp plus the edges.
    private func inputs() -> [Float] {
        var rng = SplitMix64(seed: 7)
        var xs = rng.floats(4099, scale: 90)  // an odd count exercises the masked tail
        xs += [0, -0.0, 1, -1, 88.7, 88.72, -87.3, -87.34, -100, 100, .infinity, -.infinity, .nan, 1e-30, -1e-30]
        return xs
    }

    @Test func expIsWithinOneUlpOfTheExactValue() {
        for x in inputs() {
            let y = VectorMath.exp(x)
            let exact = Foundation.exp(Double(x))
            if x.isNaN { #expect(y.isNaN); continue }
            if exact > Double(Float.greatestFiniteMagnitude) { #expect(y == .infinity, "exp(\(x))"); continue }
            if exact < Double(Float.leastNormalMagnitude) { #expect(y == 0, "exp(\(x)) below FLT_MIN gives 0"); continue }
            let ulps = abs(Double(y) - exact) / Double(Float(exact).ulp)
            #expect(ulps <= 1, "exp(\(x)) = \(y), exact \(exact): \(ulps) ulp")
        }
    }

    @Test func vectorPathMatchesTheScalarExpBitForBit() {
        let xs = inputs()
        var out = [Float](repeating: 0, count: xs.count)
        let sum = VectorMath.expSum(xs, count: xs.count, shift: 0.5, storingInto: &out)
        var expected = 0.0
        for (i, x) in xs.enumerated() {
            let e = VectorMath.exp(x - 0.5)
            #expect(out[i].bitPattern == e.bitPattern || (out[i].isNaN && e.isNaN), "element \(i): \(x)")
            expected += Double(e)
        }
        #expect(sum.isNaN && expected.isNaN)  // the NaN input poisons both sums
        let finite = xs.filter { $0.isFinite && $0 < 80 }
        let finiteSum = VectorMath.expSum(finite, count: finite.count, shift: 0)
        let finiteExpected = finite.reduce(0.0) { $0 + Double(VectorMath.exp($1)) }
        #expect(abs(finiteSum - finiteExpected) <= 1e-12 * finiteExpected)
    }

    @Test func maxAndScaleCoverTheTail() {
        for count in [0, 1, 15, 16, 17, 33] {
            var rng = SplitMix64(seed: UInt64(count))
            var xs = rng.floats(count, scale: 5)
            #expect(VectorMath.max(xs, count: count) == (xs.max() ?? -.infinity))
            let before = xs
            VectorMath.scale(&xs, count: count, by: 3)
            #expect(xs == before.map { $0 * 3 })
        }
    }
}
