import CKernels
import Testing
@testable import Quantization

/// Little-endian bytes of a half.
private func halfBytes(_ value: Float) -> [UInt8] {
    let bits = HalfFloat.fromFloat(value)
    return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
}

/// Random blocks of `type` whose fp16 scale fields are finite (random bytes elsewhere are valid).
private func randomBlocks(_ type: GGMLType, blocks: Int, rng: inout SplitMix64) -> [UInt8] {
    var bytes = rng.bytes(blocks * type.blockBytes)
    let halfOffsets: [Int]
    switch type {
    case .q8_0, .q4_0, .q5_0: halfOffsets = [0]
    case .q4_1, .q4_K, .q5_K: halfOffsets = [0, 2]
    case .q6_K: halfOffsets = [208]
    default: halfOffsets = []
    }
    for b in 0..<blocks {
        for offset in halfOffsets {
            let at = b * type.blockBytes + offset
            let h = halfBytes(rng.normal() * 0.05)
            bytes[at] = h[0]
            bytes[at + 1] = h[1]
        }
    }
    return bytes
}

@Suite struct DequantizeTests {
    @Test func q4_1HandBlock() throws {
        // d = 0.5, m = -1; low nibble of byte j = j, high nibble = 15 - j.
        let qs: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8(15 - j) << 4 }
        let block: [UInt8] = halfBytes(0.5) + halfBytes(-1) + qs
        let y = try fastDequantize(.q4_1, block, count: 32)
        let low: [Float] = (0..<16).map { (j: Int) -> Float in Float(j) * 0.5 - 1 }
        let high: [Float] = (0..<16).map { (j: Int) -> Float in Float(15 - j) * 0.5 - 1 }
        #expect(y == low + high)
        #expect([y[0], y[15], y[16], y[31]] == [-1, 6.5, 6.5, -1])
    }

    @Test func q8_0AndQ4_0HandBlocks() throws {
        let q8s: [UInt8] = (0..<32).map { (j: Int) -> UInt8 in UInt8(bitPattern: Int8(j - 16)) }
        let q8Expected: [Float] = (0..<32).map { (j: Int) -> Float in Float(j - 16) * 0.25 }
        #expect(try fastDequantize(.q8_0, halfBytes(0.25) + q8s, count: 32) == q8Expected)
        let q4s: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | 0xF0 }
        let y = try fastDequantize(.q4_0, halfBytes(-2) + q4s, count: 32)
        let q4Expected: [Float] = (0..<16).map { (j: Int) -> Float in Float(j - 8) * -2 }
        #expect(Array(y[0..<16]) == q4Expected)
        #expect(Array(y[16...]) == [Float](repeating: -14, count: 16))
    }

    /// Q4_K/Q5_K header: d = 1, dmin = 0.5, sub-block scales 1...7, 40 and mins 0...6, 50.
    /// Sub-block 7's values need the 2 high bits stored in bytes 3 and 7.
    private static let kScales: [UInt8] = [1, 2, 3, 132, 0, 1, 2, 195, 69, 86, 103, 40]
    private static let subScale: [Float] = [1, 2, 3, 4, 5, 6, 7, 40]
    private static let subMin: [Float] = [0, 1, 2, 3, 4, 5, 6, 50]

    @Test func q4_KHandBlock() throws {
        // qs[32c + l] = (l % 16) | (15 - l % 16) << 4 in every 64-element chunk c.
        let qs: [UInt8] = (0..<128).map { (i: Int) -> UInt8 in UInt8(i % 16) | UInt8(15 - i % 16) << 4 }
        let block: [UInt8] = halfBytes(1) + halfBytes(0.5) + Self.kScales + qs
        let y = try fastDequantize(.q4_K, block, count: 256)
        for k in 0..<256 {
            let s = k / 32, l = k % 32
            let q = Float(s % 2 == 0 ? l % 16 : 15 - l % 16)
            #expect(y[k] == Self.subScale[s] * q - 0.5 * Self.subMin[s], "element \(k)")
        }
        #expect([y[0], y[33], y[224], y[255]] == [0, 27.5, 575, -25])
    }

    @Test func q5_KHandBlock() throws {
        var qh = [UInt8](repeating: 0, count: 32)
        qh[0] = 0b0000_0011  // elements 0 and 32 get the fifth bit
        qh[1] = 0b1000_0000  // element 225 (sub-block 7, l = 1) gets it
        let header: [UInt8] = halfBytes(1) + halfBytes(0.5) + Self.kScales
        let block: [UInt8] = header + qh + [UInt8](repeating: 0, count: 128)
        let y = try fastDequantize(.q5_K, block, count: 256)
        #expect([y[0], y[1], y[32], y[225], y[224]] == [16, 0, 31.5, 615, -25])
    }

    @Test func q6_KHandBlock() throws {
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        ql[0] = 0x21
        qh[0] = 0b1110_0100
        let scales: [UInt8] = (1...16).map { (i: Int) -> UInt8 in UInt8(i) }
        let block: [UInt8] = ql + qh + scales + halfBytes(0.25)
        let y = try fastDequantize(.q6_K, block, count: 256)
        // All-zero bits give q = -32, so y = 0.25 * scale * -32 = -8 * scale.
        #expect([y[1], y[16], y[33], y[128], y[255]] == [-8, -16, -24, -72, -128])
        #expect([y[0], y[32], y[64], y[96]] == [-7.75, -12, 2.5, 28])
    }

    @Test func plainTypes() throws {
        let values: [Float] = [1, -2.5, 65504, 0.099975586]
        let f32: [UInt8] = values.flatMap { (v: Float) -> [UInt8] in
            (0..<4).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: v.bitPattern >> (8 * i)) }
        }
        #expect(try fastDequantize(.f32, f32, firstElement: 1, count: 3) == Array(values[1...]))
        let f16 = values.flatMap(halfBytes)
        #expect(try fastDequantize(.f16, f16, count: 4) == values)
        let bf16: [UInt8] = [0x80, 0x3F, 0x40, 0xC0]
        #expect(try fastDequantize(.bf16, bf16, count: 2) == [1, -3])
    }

    @Test(arguments: [GGMLType.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q5_K, .q6_K])
    func fastMatchesReferenceOnRandomBlocks(type: GGMLType) throws {
        var rng = SplitMix64(seed: UInt64(type.rawValue) + 100)
        let blocks = type.blockElements == 1 ? 4096 : 24
        var bytes = randomBlocks(type, blocks: blocks, rng: &rng)
        if type == .f16 {  // every element is a half: keep them finite
            for i in 0..<(bytes.count / 2) {
                let h = halfBytes(rng.normal() * 10)
                bytes[2 * i] = h[0]
                bytes[2 * i + 1] = h[1]
            }
        }
        let n = blocks * type.blockElements
        let fast = try fastDequantize(type, bytes, count: n)
        let reference = try ReferenceDequantize.run(type, bytes: bytes, count: n)
        #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern))
        // A block-aligned sub-range equals the same slice of the whole.
        let first = 3 * type.blockElements, count = 5 * type.blockElements
        let part = try fastDequantize(type, bytes, firstElement: first, count: count)
        #expect(part.map(\.bitPattern) == fast[first..<(first + count)].map(\.bitPattern))
    }

    /// The block formats run in CKernels (ggml_blocks.c) on the scalar, AVX2 or AVX-512 path: each
    /// path this CPU runs must give the reference's bits, with scales from subnormal to 60000.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q5_K, .q6_K])
    func blockFormatsOnEveryKernelPath(type: GGMLType) throws {
        defer { _ = tk_set_kernel_path(-1) }
        let paths = (0..<3).filter { tk_kernel_path_supported(Int32($0)) != 0 }
        #expect(paths.contains(0))
        var rng = SplitMix64(seed: UInt64(type.rawValue) + 300)
        for scale: Float in [6e-6, 0.05, 300, 60000] {
            let blocks = 1 + Int(rng.next() % 9)
            var bytes = randomBlocks(type, blocks: blocks, rng: &rng)
            let halfOffsets = type == .q6_K ? [208] : (type == .q4_1 || type == .q4_K || type == .q5_K ? [0, 2] : [0])
            for b in 0..<blocks {
                for offset in halfOffsets {
                    let h = halfBytes(Float(rng.next() % 2001) / 1000 * scale - scale)
                    bytes[b * type.blockBytes + offset] = h[0]
                    bytes[b * type.blockBytes + offset + 1] = h[1]
                }
            }
            let n = blocks * type.blockElements
            let reference = try ReferenceDequantize.run(type, bytes: bytes, count: n)
            for path in paths {
                #expect(tk_set_kernel_path(Int32(path)) == 1)
                let fast = try fastDequantize(type, bytes, count: n)
                #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern),
                        "\(type) on the \(String(cString: tk_kernel_path_name(Int32(path)))) path, scale \(scale)")
            }
        }
    }

    @Test func supportedTypesListMatchesTheDispatch() throws {
        for type in GGMLType.allCases {
            let accepted = (try? fastDequantize(type, [], count: 0)) != nil
            #expect(accepted == Dequantize.supportedTypes.contains(type), "\(type)")
        }
    }

    @Test func rejectsBadRanges() throws {
        let bytes = [UInt8](repeating: 0, count: 40)
        #expect(throws: QuantizationError.unsupportedType(.q5_1, operation: "dequantize")) {
            try fastDequantize(.q5_1, bytes, count: 32)
        }
        #expect(throws: QuantizationError.notBlockAligned(.q4_1, firstElement: 16, count: 32)) {
            try fastDequantize(.q4_1, bytes, firstElement: 16, count: 32)
        }
        #expect(throws: QuantizationError.notBlockAligned(.q4_1, firstElement: 0, count: 33)) {
            try fastDequantize(.q4_1, bytes, count: 33)
        }
        #expect(throws: QuantizationError.outOfBounds(.q4_1, firstElement: 32, count: 32, bytesNeeded: 40, bytesAvailable: 39)) {
            try fastDequantize(.q4_1, Array(bytes[0..<39]), firstElement: 32, count: 32)
        }
        #expect(throws: QuantizationError.self) {
            try fastDequantize(.q8_0, bytes, firstElement: Int.max - 31, count: 32)
        }
        #expect(try fastDequantize(.q4_1, bytes, count: 64) == [Float](repeating: 0, count: 64))
        #expect(try fastDequantize(.q4_K, [], count: 0) == [])
        let message = QuantizationError.outOfBounds(.q4_1, firstElement: 32, count: 32, bytesNeeded: 40, bytesAvailable: 39).description
        #expect(message.contains("Q4_1") && message.contains("39"))
    }
}
