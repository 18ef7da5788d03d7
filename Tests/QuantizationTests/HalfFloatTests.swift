import Testing
@testable import Quantization

@Suite struct HalfFloatTests {
    @Test func knownValues() {
        #expect(HalfFloat.toFloat(0x3C00) == 1)
        #expect(HalfFloat.toFloat(0xC000) == -2)
        #expect(HalfFloat.toFloat(0x7BFF) == 65504)
        #expect(HalfFloat.toFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(HalfFloat.toFloat(0x03FF) == Float(1023) * Float(sign: .plus, exponent: -24, significand: 1))
        #expect(HalfFloat.toFloat(0x7C00) == .infinity)
        #expect(HalfFloat.toFloat(0xFC00) == -.infinity)
        #expect(HalfFloat.toFloat(0x7E00).isNaN)
        #expect(HalfFloat.toFloat(0x8000).bitPattern == (-0.0 as Float).bitPattern)
    }

    @Test func everyHalfRoundTrips() {
        for bits in 0...UInt16.max {
            let f = HalfFloat.toFloat(bits)
            if f.isNaN {
                #expect(HalfFloat.toFloat(HalfFloat.fromFloat(f)).isNaN)
            } else {
                #expect(HalfFloat.fromFloat(f) == bits, "half \(bits)")
            }
        }
    }

    @Test func roundsToNearestEven() {
        let ulp1: Float = 1.0 / 1024  // half ulp at 1.0
        #expect(HalfFloat.fromFloat(1 + ulp1 / 2) == 0x3C00)  // tie -> even (down)
        #expect(HalfFloat.fromFloat(1 + 3 * ulp1 / 2) == 0x3C02)  // tie -> even (up)
        #expect(HalfFloat.fromFloat((1 + ulp1 / 2).nextUp) == 0x3C01)
        let tiny = Float(sign: .plus, exponent: -25, significand: 1)  // half of the smallest subnormal
        #expect(HalfFloat.fromFloat(tiny) == 0x0000)
        #expect(HalfFloat.fromFloat(3 * tiny) == 0x0002)
        #expect(HalfFloat.fromFloat(tiny.nextUp) == 0x0001)
        #expect(HalfFloat.fromFloat(-3 * tiny) == 0x8002)
        #expect(HalfFloat.fromFloat(65519) == 0x7BFF)
        #expect(HalfFloat.fromFloat(65520) == 0x7C00)
        #expect(HalfFloat.fromFloat(-1e9) == 0xFC00)
        #expect(HalfFloat.fromFloat(Float.infinity) == 0x7C00)
        #expect(HalfFloat.toFloat(HalfFloat.fromFloat(.nan)).isNaN)
        // Largest subnormal + half an ulp rounds up to the smallest normal.
        #expect(HalfFloat.fromFloat(Float(2047) * tiny) == 0x0400)
    }

    #if !(os(macOS) && arch(x86_64))
    @Test func matchesSwiftFloat16OnRandomFloats() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<200_000 {
            // Random bit patterns concentrated on the half range (exponents 100...150).
            let exponent = UInt32.random(in: 100...150, using: &rng)
            let bits = (UInt32.random(in: 0...1, using: &rng) << 31) | (exponent << 23)
                | UInt32.random(in: 0..<(1 << 23), using: &rng)
            let f = Float(bitPattern: bits)
            #expect(HalfFloat.fromFloat(f) == Float16(f).bitPattern, "float bits \(bits)")
        }
    }
    #endif

    @Test func bfloat16() {
        #expect(BFloat16.fromFloat(1) == 0x3F80)
        #expect(BFloat16.toFloat(0x3F80) == 1)
        #expect(BFloat16.toFloat(0xC040) == -3)
        // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties to even (down); 1 + 3*2^-8 rounds up.
        #expect(BFloat16.fromFloat(1 + 1.0 / 256) == 0x3F80)
        #expect(BFloat16.fromFloat(1 + 3.0 / 256) == 0x3F82)
        #expect(BFloat16.fromFloat((1 + 1.0 / 256).nextUp) == 0x3F81)
        #expect(BFloat16.toFloat(BFloat16.fromFloat(.nan)).isNaN)
        #expect(BFloat16.fromFloat(.infinity) == 0x7F80)
        #expect(BFloat16.fromFloat(Float.greatestFiniteMagnitude) == 0x7F80)
        for bits in stride(from: 0, through: 0xFFFF, by: 7) where !BFloat16.toFloat(UInt16(bits)).isNaN {
            #expect(BFloat16.fromFloat(BFloat16.toFloat(UInt16(bits))) == UInt16(bits))
        }
    }
}
