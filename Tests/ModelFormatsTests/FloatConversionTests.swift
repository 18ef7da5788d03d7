import Testing
@testable import ModelFormats

@Suite struct FloatConversionTests {
    @Test func everyHalfRoundTripsThroughFloat() {
        for bits in 0...UInt16.max {
            let value = FloatConversion.halfToFloat(bits)
            if value.isNaN {
                #expect(FloatConversion.halfToFloat(FloatConversion.floatToHalf(value)).isNaN)
            } else if FloatConversion.floatToHalf(value) != bits {
                Issue.record("half 0x\(String(bits, radix: 16)) → \(value) → 0x\(String(FloatConversion.floatToHalf(value), radix: 16))")
            }
        }
    }

    @Test func halfRoundsToNearestEven() {
        #expect(FloatConversion.floatToHalf(1 + 0x1p-11) == 0x3C00)  // tie → even (down)
        #expect(FloatConversion.floatToHalf(1 + 3 * 0x1p-11) == 0x3C02)  // tie → even (up)
        #expect(FloatConversion.floatToHalf(1 + 0x1p-11 + 0x1p-20) == 0x3C01)
        #expect(FloatConversion.floatToHalf(65520) == 0x7C00)  // rounds up to infinity
        #expect(FloatConversion.floatToHalf(65519) == 0x7BFF)
        #expect(FloatConversion.floatToHalf(0x1p-25) == 0)  // tie with zero → even
        #expect(FloatConversion.floatToHalf(0x1.8p-25) == 1)
        #expect(FloatConversion.floatToHalf(-0.0) == 0x8000)
        #expect(FloatConversion.floatToHalf(.infinity) == 0x7C00)
        #expect(FloatConversion.halfToFloat(0x0001) == 0x1p-24)
    }

    @Test func bfloat16RoundsToNearestEven() {
        #expect(FloatConversion.floatToBFloat16(1) == 0x3F80)
        #expect(FloatConversion.floatToBFloat16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie → even
        #expect(FloatConversion.floatToBFloat16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(FloatConversion.floatToBFloat16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(FloatConversion.bfloat16ToFloat(0xC040) == -3)
        #expect(FloatConversion.bfloat16ToFloat(FloatConversion.floatToBFloat16(.nan)).isNaN)
        #expect(FloatConversion.floatToBFloat16(.greatestFiniteMagnitude) == 0x7F80)
    }
}
