import Foundation
import Testing
import TestSupport
@testable import Quantization

private let casesURL = TestPaths.reference.appendingPathComponent("nf4/nf4_cases.safetensors")

/// Bit patterns, so that -0/+0 and every ulp count.
private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

@Suite struct NF4Tests {
    @Test func tablesMatchBitsandbytes() throws {
        #expect(NF4.codes.count == 16 && NF4.codes[7] == 0 && NF4.codes[0] == -1 && NF4.codes[15] == 1)
        let readme: [Float] = [-0.84809637, -0.61063290, -0.45999527, -0.33967942, -0.23460740, -0.13791174,
                               -0.045525018, 0.039790150, 0.12025525, 0.20352125, 0.29201376, 0.38931254,
                               0.50166345, 0.64278692, 0.86147845]
        #expect(NF4.midpoints == readme)
        #expect(DynamicQuantMap.signed.count == 256)
        #expect(zip(DynamicQuantMap.signed, DynamicQuantMap.signed.dropFirst()).allSatisfy { $0 < $1 })
        // A value exactly on a midpoint takes the lower index; just above takes the upper.
        #expect(NF4.index(ofScaled: NF4.midpoints[7]) == 7)
        #expect(NF4.index(ofScaled: NF4.midpoints[7].nextUp) == 8)
        #expect(NF4.index(ofScaled: -1) == 0 && NF4.index(ofScaled: 1) == 15 && NF4.index(ofScaled: 0) == 7)
    }

    @Test func tablesMatchReferenceFile() throws {
        let file = try SafetensorsTestReader(url: casesURL)
        #expect(bits(try file.floats("quant_map")) == bits(NF4.codes))
        #expect(bits(try file.floats("W.nf4dq.nested_quant_map")) == bits(DynamicQuantMap.signed))
    }

    @Test(arguments: ["W", "E", "R", "L"])
    func byteExactAgainstBitsandbytes(name: String) throws {
        let file = try SafetensorsTestReader(url: casesURL)
        let input = try file.entry("\(name).input")
        let weights = try file.floats("\(name).input")

        // Plain NF4: packed bytes, absmax, dequantized values.
        let plain = try NF4Tensor(quantizing: weights, shape: input.shape, doubleQuantization: false)
        #expect(plain.packed == (try file.bytes("\(name).nf4.packed")))
        guard case .plain(let absmax) = plain.scales else { Issue.record("expected plain scales"); return }
        #expect(bits(absmax) == bits(try file.floats("\(name).nf4.absmax")))
        #expect(bits(plain.dequantized()) == bits(try file.floats("\(name).nf4.dequant")))
        let codes = try file.bytes("\(name).codes")
        let packed = plain.packed
        let unpacked: [UInt8] = (0..<codes.count).map { (e: Int) -> UInt8 in
            let byte: UInt8 = packed[e / 2]
            return e % 2 == 0 ? byte >> 4 : byte & 15
        }
        #expect(unpacked == codes)

        // Double quantization: same codes, 8-bit absmax, nested absmax, offset, dequantized values.
        let dq = try NF4Tensor(quantizing: weights, shape: input.shape, doubleQuantization: true)
        #expect(dq.packed == (try file.bytes("\(name).nf4dq.packed")))
        guard case .doubleQuantized(let stats) = dq.scales else { Issue.record("expected double quant"); return }
        #expect(bits([stats.offset]) == bits(try file.floats("\(name).nf4dq.offset")))
        #expect(stats.quantized == (try file.bytes("\(name).nf4dq.absmax_q")))
        #expect(bits(stats.nestedAbsmax) == bits(try file.floats("\(name).nf4dq.nested_absmax")))
        #expect(bits(stats.dequantized()) == bits(try file.floats("\(name).nf4dq.absmax_dequant")))
        #expect(bits(dq.dequantized()) == bits(try file.floats("\(name).nf4dq.dequant")))
    }

    @Test func rmseMatchesReferenceMeta() throws {
        let file = try SafetensorsTestReader(url: casesURL)
        let w = try file.floats("W.input")
        let expected: [Bool: Double] = [false: 0.09162286831222427, true: 0.09165651867238243]
        for (doubleQuant, target) in expected {
            let y = try NF4Tensor(quantizing: w, shape: [96, 320], doubleQuantization: doubleQuant).dequantized()
            #expect(abs(rmse(w, y) - target) < 1e-12, "double quant \(doubleQuant)")
        }
    }

    @Test func rmseOnGaussianWeightsIsNearBitsandbytesFigure() throws {
        // bnb's 4096x4096 randn figure is 0.091988 (plain) / 0.092013 (double quant). We cannot
        // reproduce torch's randn stream, so check a 512x512 Gaussian lands within sampling noise.
        var rng = SplitMix64(seed: 2024)
        var w = [Float](repeating: 0, count: 512 * 512)
        for i in w.indices { w[i] = rng.normal() }
        let plain = rmse(w, try NF4Tensor(quantizing: w, shape: [512, 512], doubleQuantization: false).dequantized())
        let dq = rmse(w, try NF4Tensor(quantizing: w, shape: [512, 512], doubleQuantization: true).dequantized())
        #expect(abs(plain - 0.091988) < 0.0015)
        #expect(abs(dq - 0.092013) < 0.0015)
        #expect(dq >= plain * 0.999)
    }

    @Test func offsetNeedsTorchSumOrderForCaseL() throws {
        // README: for case L a float64 mean rounded to float32 is a different float than torch's.
        let absmax = try SafetensorsTestReader(url: casesURL).floats("L.nf4.absmax")
        let torchMean = absmax.withUnsafeBufferPointer { TorchCPUSum.mean($0) }
        let float64Mean = Float(absmax.reduce(0.0) { $0 + Double($1) } / Double(absmax.count))
        #expect(torchMean == 1.137256145477295)
        #expect(torchMean != float64Mean)
    }

    @Test func rowRangesMatchTheFullDequantization() throws {
        var rng = SplitMix64(seed: 5)
        // 41 columns: blocks straddle rows and rows start on odd elements.
        for (shape, doubleQuant) in [([37, 41], false), ([37, 41], true), ([12, 128], true)] {
            var w = [Float](repeating: 0, count: shape[0] * shape[1])
            for i in w.indices { w[i] = rng.normal() }
            let t = try NF4Tensor(quantizing: w, shape: shape, doubleQuantization: doubleQuant)
            let full = t.dequantized()
            let bounds: [(Int, Int)] = [(0, 1), (3, 4), (5, 11), (9, shape[0]), (0, shape[0])]
            for range in bounds.map({ $0.0..<$0.1 }) {
                var part = [Float](repeating: .nan, count: range.count * shape[1])
                try part.withUnsafeMutableBufferPointer { try t.dequantize(rows: range, into: $0) }
                let slice = Array(full[(range.lowerBound * shape[1])..<(range.upperBound * shape[1])])
                #expect(bits(part) == bits(slice), "\(shape) rows \(range)")
            }
        }
    }

    @Test func bitsPerParameter() throws {
        let w = [Float](repeating: 0.5, count: 256 * 64 * 4)
        let plain = try NF4Tensor(quantizing: w, shape: [64, 1024], doubleQuantization: false)
        let dq = try NF4Tensor(quantizing: w, shape: [64, 1024], doubleQuantization: true)
        #expect(plain.bitsPerParameter == 4.5)
        #expect(abs(dq.bitsPerParameter - 4.127) < 0.001)
    }

    @Test func rejectsBadInput() throws {
        #expect(throws: QuantizationError.invalidShape([0, 4])) {
            try NF4Tensor(quantizing: [], shape: [0, 4], doubleQuantization: false)
        }
        #expect(throws: QuantizationError.fieldSizeMismatch(field: "weights", expected: 8, actual: 3)) {
            try NF4Tensor(quantizing: [1, 2, 3], shape: [2, 4], doubleQuantization: false)
        }
        #expect(throws: QuantizationError.nonFiniteInput(index: 1, value: .infinity)) {
            try NF4Tensor(quantizing: [1, .infinity], shape: [2], doubleQuantization: true)
        }
        #expect(throws: QuantizationError.fieldSizeMismatch(field: "absmax", expected: 2, actual: 1)) {
            try NF4Tensor(shape: [2, 64], packed: [UInt8](repeating: 0x77, count: 64), scales: .plain([1]))
        }
        let t = try NF4Tensor(quantizing: [Float](repeating: 1, count: 128), shape: [2, 64], doubleQuantization: false)
        var out = [Float](repeating: 0, count: 64)
        #expect(throws: QuantizationError.invalidRowRange(lower: 1, upper: 3, rows: 2)) {
            try out.withUnsafeMutableBufferPointer { try t.dequantize(rows: 1..<3, into: $0) }
        }
        #expect(throws: QuantizationError.destinationTooSmall(needed: 128, available: 64)) {
            try out.withUnsafeMutableBufferPointer { try t.dequantize(into: $0) }
        }
    }

    @Test func torchSumMatchesExactSumOnSmallIntegers() {
        // Integer-valued inputs sum exactly in any order, so any length exercises the control flow.
        for n in [0, 1, 5, 7, 8, 9, 31, 64, 100, 513, 4096 + 3, 70_001] {
            let x: [Float] = (0..<n).map { (i: Int) -> Float in Float(i % 7) }
            let expected = Float((0..<n).reduce(0) { (s: Int, i: Int) -> Int in s + i % 7 })
            #expect(x.withUnsafeBufferPointer { TorchCPUSum.sum($0) } == expected, "n = \(n)")
        }
    }
}

private func rmse(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in a.indices {
        let d = Double(a[i]) - Double(b[i])
        s += d * d
    }
    return (s / Double(a.count)).squareRoot()
}
