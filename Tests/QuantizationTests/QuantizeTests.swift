import Testing
@testable import Quantization

@Suite struct QuantizeTests {
    @Test func q8_0HandBlock() throws {
        // absmax 12.7 -> d = 0.1; x = k * 0.1 quantizes to k.
        let x: [Float] = (0..<32).map { (j: Int) -> Float in Float(j - 16) * 12.7 / 16 }
        let bytes = try Quantize.run(.q8_0, x)
        #expect(bytes.count == 34)
        #expect(UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == HalfFloat.fromFloat(12.7 / 127))
        let q: [Int8] = bytes[2...].map { Int8(bitPattern: $0) }
        #expect([q[0], q[16], q[31]] == [-127, 0, 119])
    }

    @Test func q4_1HandBlock() throws {
        // min -1, max 6.5 -> d = 0.5; element j sits exactly on level j % 16.
        let x: [Float] = (0..<32).map { (j: Int) -> Float in Float(j % 16) * 0.5 - 1 }
        let bytes = try Quantize.run(.q4_1, x)
        #expect(Array(bytes[0..<4]) == [0x00, 0x38, 0x00, 0xBC])  // 0.5, -1 as halves
        let qs: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8(j) << 4 }
        #expect(Array(bytes[4...]) == qs)
        #expect(try fastDequantize(.q4_1, bytes, count: 32) == x)
    }

    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0])
    func roundTripErrorIsWithinHalfAStep(type: GGMLType) throws {
        var rng = SplitMix64(seed: 42)
        var x = [Float](repeating: 0, count: 32 * 64)
        for i in x.indices { x[i] = rng.normal() }
        let bytes = try Quantize.run(type, x)
        let y = try fastDequantize(type, bytes, count: x.count)
        for b in 0..<64 {
            let block = x[(32 * b)..<(32 * b + 32)]
            let range = (block.max() ?? 0) - (block.min() ?? 0)
            let amax = block.map(abs).max() ?? 0
            // Step size per format, plus slack for the fp16 rounding of d and m.
            let step: Float
            switch type {
            case .q8_0: step = amax / 127
            case .q4_0: step = amax / 8
            case .q5_0: step = amax / 16
            default: step = range / 15
            }
            // Q4_0 has 8 negative but only 7 positive levels (relative to the sign of the
            // extreme value), so values of the opposite sign near absmax clip by up to one step.
            let bound: Float = step * (type == .q4_0 || type == .q5_0 ? 1.01 : 0.51) + amax * 1e-3
            let worst: Float = block.indices.map { (i: Int) -> Float in abs(x[i] - y[i]) }.max() ?? 0
            #expect(worst <= bound, "\(type) block \(b)")
        }
        // Quantizing the dequantized values again reproduces the same bytes for Q8_0.
        if type == .q8_0 { #expect(try Quantize.run(type, y) == bytes) }
    }

    @Test func rejectsBadInput() throws {
        #expect(throws: QuantizationError.unsupportedType(.q5_K, operation: "quantize")) {
            try Quantize.run(.q5_K, [Float](repeating: 0, count: 256))
        }
        #expect(throws: QuantizationError.notBlockAligned(.q8_0, firstElement: 0, count: 31)) {
            try Quantize.run(.q8_0, [Float](repeating: 0, count: 31))
        }
        var x = [Float](repeating: 1, count: 32)
        x[5] = .nan
        #expect(throws: QuantizationError.self) { try Quantize.run(.q4_1, x) }
        // Zero and subnormal blocks quantize without trapping.
        #expect(try Quantize.run(.q8_0, [Float](repeating: 0, count: 32)).allSatisfy { $0 == 0 })
        _ = try Quantize.run(.q8_0, [Float](repeating: Float.leastNormalMagnitude / 64, count: 32))
        _ = try Quantize.run(.q4_0, [Float](repeating: -Float.leastNormalMagnitude / 64, count: 32))
    }
}
