// A weight stored as bitsandbytes NF4: packed 4-bit codes over the row-major flattened tensor,
// plus per-64-block scales (fp32, or double-quantized to 8 bits). Dequantization can target a
// row range, so a tensor-parallel shard or a GEMM tile can be expanded on its own.
//
// Legend: rows = shape[0], cols = product of the other dimensions, n = rows * cols,
// blocks = ceil(n / 64).

/// An NF4-quantized tensor, byte-compatible with bitsandbytes' `quantize_4bit(blocksize=64)`.
public struct NF4Tensor: Sendable, Equatable {
    /// How the per-block scales are stored.
    public enum Scales: Sendable, Equatable {
        /// fp32 absmax per 64-block (`compress_statistics=False`).   // [blocks]
        case plain([Float])
        /// 8-bit double-quantized absmax (`compress_statistics=True`).
        case doubleQuantized(DoubleQuantizedAbsmax)
    }

    /// The tensor's shape (row-major).
    public let shape: [Int]
    /// Two codes per byte, the first element in the high nibble.   // [ceil(n / 2)]
    public let packed: [UInt8]
    /// The block scales.
    public let scales: Scales

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Rows (the first dimension).
    public var rows: Int { shape[0] }
    /// Elements per row (product of the remaining dimensions).
    public var columns: Int { shape.dropFirst().reduce(1, *) }
    /// Number of 64-element blocks.
    public var blocks: Int { (count + NF4.blockSize - 1) / NF4.blockSize }

    /// Quantizes `weights` (row-major, `shape`'s element count) exactly as bitsandbytes does.
    /// - Throws: `.invalidShape`, `.fieldSizeMismatch` (wrong element count) or `.nonFiniteInput`.
    public init(quantizing weights: UnsafeBufferPointer<Float>, shape: [Int], doubleQuantization: Bool) throws {
        let n = try Self.elementCount(shape)
        guard weights.count == n else {
            throw QuantizationError.fieldSizeMismatch(field: "weights", expected: n, actual: weights.count)
        }
        var packed = [UInt8](repeating: 0, count: (n + 1) / 2)
        var absmax = [Float](repeating: 0, count: (n + NF4.blockSize - 1) / NF4.blockSize)
        if let x = weights.baseAddress {
            let bad = packed.withUnsafeMutableBufferPointer { p in
                absmax.withUnsafeMutableBufferPointer { a -> Int? in
                    guard let pBase = p.baseAddress, let aBase = a.baseAddress else { return nil }
                    return NF4.quantize(x, count: n, packed: pBase, absmax: aBase)
                }
            }
            if let bad { throw QuantizationError.nonFiniteInput(index: bad, value: weights[bad]) }
        }
        self.shape = shape
        self.packed = packed
        self.scales = doubleQuantization ? .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax)) : .plain(absmax)
    }

    /// Convenience for arrays.
    public init(quantizing weights: [Float], shape: [Int], doubleQuantization: Bool) throws {
        self = try weights.withUnsafeBufferPointer { try NF4Tensor(quantizing: $0, shape: shape, doubleQuantization: doubleQuantization) }
    }

    /// Wraps stored fields (e.g. from a bitsandbytes checkpoint), checking every size against `shape`.
    public init(shape: [Int], packed: [UInt8], scales: Scales) throws {
        let n = try Self.elementCount(shape)
        let blocks = (n + NF4.blockSize - 1) / NF4.blockSize
        guard packed.count == (n + 1) / 2 else {
            throw QuantizationError.fieldSizeMismatch(field: "weight (packed NF4)", expected: (n + 1) / 2, actual: packed.count)
        }
        let stored: Int
        switch scales {
        case .plain(let absmax): stored = absmax.count
        case .doubleQuantized(let dq): stored = dq.quantized.count
        }
        guard stored == blocks else {
            throw QuantizationError.fieldSizeMismatch(field: "absmax", expected: blocks, actual: stored)
        }
        self.shape = shape
        self.packed = packed
        self.scales = scales
    }

    private static func elementCount(_ shape: [Int]) throws -> Int {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { throw QuantizationError.invalidShape(shape) }
        var n = 1
        for d in shape {
            let (product, overflow) = n.multipliedReportingOverflow(by: d)
            // Keep 2n representable so packed/element index arithmetic cannot overflow.
            guard !overflow, product <= Int.max / 2 else { throw QuantizationError.invalidShape(shape) }
            n = product
        }
        return n
    }

    /// Storage bits per parameter: the packed codes plus the stored scales (and, for double
    /// quantization, nested absmax and offset). 4.5 plain and about 4.127 double-quantized for
    /// large tensors; the shared code tables are not counted.
    public var bitsPerParameter: Double {
        var bits = packed.count * 8
        switch scales {
        case .plain(let absmax): bits += absmax.count * 32
        case .doubleQuantized(let dq): bits += dq.quantized.count * 8 + dq.nestedAbsmax.count * 32 + 32
        }
        return Double(bits) / Double(count)
    }

    /// Dequantizes the whole tensor into `destination` (at least `count` floats).
    public func dequantize(into destination: UnsafeMutableBufferPointer<Float>) throws {
        try dequantize(rows: 0..<rows, into: destination)
    }

    /// Dequantizes rows `rows` (all their columns, row-major) into `destination`, which must hold
    /// `rows.count * columns` floats. Bit-identical to the same rows of a full dequantization.
    /// - Throws: `.invalidRowRange` or `.destinationTooSmall`.
    public func dequantize(rows range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard range.lowerBound >= 0, range.upperBound <= rows else {
            throw QuantizationError.invalidRowRange(lower: range.lowerBound, upper: range.upperBound, rows: rows)
        }
        let first = range.lowerBound * columns
        let n = range.count * columns
        guard destination.count >= n else {
            throw QuantizationError.destinationTooSmall(needed: n, available: destination.count)
        }
        guard n > 0, let out = destination.baseAddress else { return }
        packed.withUnsafeBufferPointer { p in
            guard let bytes = p.baseAddress else { return }
            switch scales {
            case .plain(let absmax):
                absmax.withUnsafeBufferPointer { a in
                    NF4.dequantize(packed: bytes, first: first, count: n, into: out) { a[$0] }
                }
            case .doubleQuantized(let dq):
                NF4.dequantize(packed: bytes, first: first, count: n, into: out) { dq.absmax(block: $0) }
            }
        }
    }

    /// Convenience: the whole tensor as a new array (row-major).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { try? dequantize(into: $0) }  // sizes match by construction
        return out
    }
}
