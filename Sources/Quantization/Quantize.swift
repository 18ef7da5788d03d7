// Float -> GGML blocks for Q8_0, Q4_0, Q4_1 (here), Q5_0 (Quantize+Q5_0.swift) and Q4_K, Q6_K
// (Quantize+KQuants.swift), following ggml's reference quantizers (`quantize_row_*_ref` in
// ggml-quants.c) so that the bytes match llama.cpp's `quantize` tool without an importance matrix.

/// Quantization of `Float` data into GGML block formats.
public enum Quantize {
    /// The types `run` supports.
    public static let supportedTypes: Set<GGMLType> = [.q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K]

    /// Quantizes `source` (a whole number of blocks) into `destination`, which must hold
    /// `type.byteCount(elements: source.count)` bytes.
    /// - Throws: `QuantizationError.unsupportedType`, `.notBlockAligned`, `.destinationTooSmall`
    ///   or `.nonFiniteInput` (ggml's arithmetic is undefined for NaN/inf).
    public static func run(_ type: GGMLType, source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableRawBufferPointer) throws {
        guard supportedTypes.contains(type) else {
            throw QuantizationError.unsupportedType(type, operation: "quantize")
        }
        guard let bytes = type.byteCount(elements: source.count) else {
            throw QuantizationError.notBlockAligned(type, firstElement: 0, count: source.count)
        }
        guard destination.count >= bytes else {
            throw QuantizationError.destinationTooSmall(needed: bytes, available: destination.count)
        }
        if let bad = source.firstIndex(where: { !$0.isFinite }) {
            throw QuantizationError.nonFiniteInput(index: bad, value: source[bad])
        }
        guard let x = source.baseAddress, let out = destination.baseAddress else { return }
        let blocks = source.count / type.blockElements
        switch type {
        case .q4_K:
            KQuantScratch.with { s in for b in 0..<blocks { q4_K(x + 256 * b, out + 144 * b, s) } }
        case .q6_K:
            KQuantScratch.with { s in for b in 0..<blocks { q6_K(x + 256 * b, out + 210 * b, s) } }
        default:
            for b in 0..<blocks {
                let block = x + 32 * b
                switch type {
                case .q8_0: q8_0(block, out + 34 * b)
                case .q4_0: q4_0(block, out + 18 * b)
                case .q5_0: q5_0(block, out + 22 * b)
                default: q4_1(block, out + 20 * b)
                }
            }
        }
    }

    /// Convenience: quantizes an array into a new byte array.
    public static func run(_ type: GGMLType, _ values: [Float]) throws -> [UInt8] {
        let size = type.byteCount(elements: values.count) ?? 0
        var bytes = [UInt8](repeating: 0, count: size)
        try values.withUnsafeBufferPointer { src in
            try bytes.withUnsafeMutableBytes { try run(type, source: src, into: $0) }
        }
        return bytes
    }

    /// `roundf` (half away from zero) into an integer range; the clamp only matters where ggml's
    /// own arithmetic would overflow (e.g. subnormal block scales whose inverse is infinite).
    @inline(__always)
    static func roundClamped(_ v: Float, _ lo: Float, _ hi: Float) -> Int32 {
        guard !v.isNaN else { return 0 }
        return Int32(Swift.min(Swift.max(v.rounded(.toNearestOrAwayFromZero), lo), hi))
    }

    @inline(__always)
    static func storeHalf(_ value: Float, _ out: UnsafeMutableRawPointer, _ offset: Int) {
        out.storeBytes(of: HalfFloat.fromFloat(value), toByteOffset: offset, as: UInt16.self)
    }

    /// Q8_0: d = absmax / 127, q = roundf(x / d).
    static func q8_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        for j in 0..<32 {
            let q = Int8(roundClamped(x[j] * id, -128, 127))
            out.storeBytes(of: q, toByteOffset: 2 + j, as: Int8.self)
        }
    }

    /// Q4_0: d = (the signed value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)).
    static func q4_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0, maxValue: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            maxValue = x[j]
        }
        let d = maxValue / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        for j in 0..<16 {
            let lo = truncatedNibble(x[j] * id + 8.5)
            let hi = truncatedNibble(x[16 + j] * id + 8.5)
            out.storeBytes(of: lo | (hi << 4), toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    /// Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)).
    static func q4_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            lo = Swift.min(lo, x[j])
            hi = Swift.max(hi, x[j])
        }
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, out, 0)
        storeHalf(lo, out, 2)
        for j in 0..<16 {
            let a = truncatedNibble((x[j] - lo) * id + 0.5)
            let b = truncatedNibble((x[16 + j] - lo) * id + 0.5)
            out.storeBytes(of: a | (b << 4), toByteOffset: 4 + j, as: UInt8.self)
        }
    }

    /// ggml's `MIN(15, (int8_t)v)` for v >= 0, made total for out-of-range v.
    @inline(__always)
    static func truncatedNibble(_ v: Float) -> UInt8 { truncatedLevel(v, 15) }

    /// ggml's `MIN(top, (int8_t)v)` for v >= 0, made total for out-of-range v.
    @inline(__always)
    static func truncatedLevel(_ v: Float, _ top: Float) -> UInt8 {
        guard v.isFinite, v > 0 else { return 0 }
        return UInt8(Swift.min(v.rounded(.towardZero), top))
    }
}
