// Quantizers against the reference set in Tests/Fixtures/reference/quant (scripts/reference/
// make_quant_reference.py): Q8_0 and Q5_0 bytes equal gguf.quants' (0.19.0, bit-exact with
// ggml's reference quantizers) and Q4_K / Q6_K bytes equal llama.cpp's own
// quantize_row_q4_K_ref / q6_K_ref (gguf has no K-quant quantizer), block by block; every
// dequantizer a quantized export needs (Q8_0, Q5_0, Q4_K, Q6_K) equals gguf's on the same bytes;
// the K-quant round trip stays within error bounds.

import Foundation
import Testing
import TestSupport
@testable import Quantization

private func quantReference(_ name: String) throws -> [String: Any] {
    let url = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/quant/\(name)")
    return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
}

private func floatRows(_ value: Any?) throws -> [[Float]] {
    try #require(value as? [[Double]]).map { $0.map(Float.init) }
}

private func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
        index = next
    }
    return out
}

/// Float32 little-endian hex rows (exact, and a quarter of the size of decimal JSON).
private func f32Rows(_ value: Any?) throws -> [[Float]] {
    try #require(value as? [String]).map { hex in
        let bytes = hexBytes(hex)
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }
}

@Suite struct QuantizeReferenceTests {
    @Test(arguments: [("q4_K", GGMLType.q4_K), ("q6_K", GGMLType.q6_K)])
    func kQuantBytesMatchLlamaCppBlockByBlock(key: String, type: GGMLType) throws {
        let reference = try quantReference("kquants.json")
        let inputs = try f32Rows(reference["inputs_f32le"])
        let bytes = try #require(reference[key] as? [String]).map(hexBytes)
        #expect(inputs.count == bytes.count && inputs.count >= 20)
        for (b, x) in inputs.enumerated() {
            #expect(try Quantize.run(type, x) == bytes[b], "\(type) super-block \(b)")
        }
        // All super-blocks in one call: the scratch carries nothing from one block to the next.
        #expect(try Quantize.run(type, inputs.flatMap { $0 }) == bytes.flatMap { $0 })
    }

    @Test(arguments: [("q8_0.json", GGMLType.q8_0), ("q5_0.json", GGMLType.q5_0)])
    func legacyBlocksMatchGGUFBlockByBlock(file: String, type: GGMLType) throws {
        let reference = try quantReference(file)
        let inputs = try floatRows(reference["inputs"])
        let bytes = try #require(reference["bytes"] as? [String]).map(hexBytes)
        let dequantized = try floatRows(reference["dequantized"])
        #expect(inputs.count == bytes.count && inputs.count >= 10)
        for (b, x) in inputs.enumerated() {
            let ours = try Quantize.run(type, x)
            #expect(ours == bytes[b], "\(type) block \(b)")
            #expect(try fastDequantize(type, bytes[b], count: 32) == dequantized[b], "\(type) block \(b) dequantized")
        }
    }

    @Test func dequantizersMatchGGUFOnRandomBlocks() throws {
        let reference = try quantReference("kquants.json")
        let sets = try #require(reference["random_blocks"] as? [[String: Any]])
        #expect(sets.count == 3)
        for set in sets {
            let name = try #require(set["type"] as? String)
            let type = try #require(GGMLType.allCases.first { $0.description == name })
            let bytes = try #require(set["bytes"] as? [String]).map(hexBytes)
            let expected = try floatRows(set["dequantized"])
            for (b, block) in bytes.enumerated() {
                let ours = try fastDequantize(type, block, count: type.blockElements)
                // gguf multiplies in a different order for some formats: allow float rounding.
                let worst = zip(ours, expected[b]).map { abs($0 - $1) / max(1e-6, abs($1)) }.max() ?? 0
                #expect(worst <= 1e-6, "\(type) block \(b): relative difference \(worst)")
            }
        }
    }

    /// Round-trip error per 256-block as a fraction of the block's RMS, with llama.cpp-like
    /// quality: 4.5 bits (Q4_K) around 8 %, 6.5 bits (Q6_K) around 2 % on normal data.
    @Test(arguments: [(GGMLType.q4_K, Float(0.12)), (GGMLType.q6_K, Float(0.035))])
    func kQuantRoundTripIsClose(type: GGMLType, bound: Float) throws {
        let inputs = try f32Rows(try quantReference("kquants.json")["inputs_f32le"])
        var rng = SplitMix64(seed: 7)
        let random = (0..<16).map { _ in (0..<256).map { _ in rng.normal() * 0.02 } }
        for (b, x) in (inputs + random).enumerated() {
            let bytes = try Quantize.run(type, x)
            #expect(bytes.count == type.blockBytes)
            let y = try fastDequantize(type, bytes, count: 256)
            let rms = (x.map { $0 * $0 }.reduce(0, +) / 256).squareRoot()
            let rmse = (zip(x, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 256).squareRoot()
            if rms == 0 {
                #expect(y.allSatisfy { $0 == 0 }, "\(type) block \(b): zeros must stay zeros")
            } else {
                #expect(rmse <= bound * rms, "\(type) block \(b): rmse \(rmse) vs rms \(rms)")
            }
            #expect(y.allSatisfy { $0.isFinite })
        }
    }

    @Test func kQuantEdgeCases() throws {
        // Constant rows: Q4_K's min absorbs a positive constant... up to one level of 63.
        let constant = [Float](repeating: 0.75, count: 256)
        let q4 = try fastDequantize(.q4_K, Quantize.run(.q4_K, constant), count: 256)
        #expect(q4.allSatisfy { abs($0 - 0.75) <= 0.75 / 15 }, "\(q4.prefix(4))")
        let q6 = try fastDequantize(.q6_K, Quantize.run(.q6_K, [Float](repeating: -2.5, count: 256)), count: 256)
        #expect(q6.allSatisfy { abs($0 + 2.5) <= 2.5 / 31 }, "\(q6.prefix(4))")
        // One large outlier is kept to within its sub-block's step.
        var outlier = [Float](repeating: 0.01, count: 256)
        outlier[77] = 1000
        for type in [GGMLType.q4_K, .q6_K] {
            let y = try fastDequantize(type, Quantize.run(type, outlier), count: 256)
            #expect(abs(y[77] - 1000) <= 1000 / 15, "\(type) outlier \(y[77])")
        }
        // Deterministic: the same input gives the same bytes.
        #expect(try Quantize.run(.q4_K, outlier) == Quantize.run(.q4_K, outlier))
        #expect(throws: QuantizationError.notBlockAligned(.q4_K, firstElement: 0, count: 576)) {
            try Quantize.run(.q4_K, [Float](repeating: 0, count: 576))
        }
    }

    @Test func nearestIntIsGGMLsMagicNumberRounding() {
        #expect(Quantize.nearestInt(2.5) == 2 && Quantize.nearestInt(3.5) == 4 && Quantize.nearestInt(-2.5) == -2)
        #expect(Quantize.nearestInt(-0.49) == 0 && Quantize.nearestInt(14.51) == 15)
    }
}
