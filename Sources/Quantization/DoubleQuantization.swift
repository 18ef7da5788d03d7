// Double quantization of NF4 block scales ("compress_statistics=True" in bitsandbytes): the
// fp32 absmax of every 64-block is stored as 8 bits. Subtract the mean (offset), then quantize
// with bnb's signed dynamic map in blocks of 256, each with an fp32 nested absmax.
//
// The 8-bit step is libbitsandbytes_cpu's quantize_block, which is not nearest-neighbour: it
// maps v in [-1, 1] to one of 65536 grid points g_u and takes the code for g_u. Matching it is
// what makes the bytes equal bnb's (about 6% of inputs get the neighbouring code).

/// NF4 block scales stored as 8-bit codes (bitsandbytes double quantization).
public struct DoubleQuantizedAbsmax: Sendable, Equatable {
    /// Entries per nested block.
    public static let blockSize = 256

    /// One 8-bit code into `DynamicQuantMap.signed` per NF4 block.   // [blocks]
    public let quantized: [UInt8]
    /// Absmax of `absmax - offset` per 256-block.                      // [ceil(blocks / 256)]
    public let nestedAbsmax: [Float]
    /// The mean of the original absmax values (torch's float32 mean).
    public let offset: Float
    /// For a tensor-parallel slice: where each local block sits in the full tensor, so it reads
    /// its global nested absmax (`nestedAbsmax` then holds only the nested blocks the slice
    /// touches). nil for a whole tensor.
    public let blockMap: NF4BlockSlice?

    /// Wraps stored fields (e.g. from a bitsandbytes checkpoint), checking their sizes agree.
    public init(quantized: [UInt8], nestedAbsmax: [Float], offset: Float) throws {
        let nested = (quantized.count + Self.blockSize - 1) / Self.blockSize
        guard nestedAbsmax.count == nested else {
            throw QuantizationError.fieldSizeMismatch(field: "nested_absmax", expected: nested, actual: nestedAbsmax.count)
        }
        self.quantized = quantized
        self.nestedAbsmax = nestedAbsmax
        self.offset = offset
        blockMap = nil
    }

    /// Double-quantizes NF4 block scales as bitsandbytes does on the CPU.
    public init(quantizing absmax: [Float]) {
        let offset = absmax.withUnsafeBufferPointer { TorchCPUSum.mean($0) }
        let centred = absmax.map { $0 - offset }
        var codes = [UInt8](repeating: 0, count: absmax.count)
        var nested: [Float] = []
        DynamicQuantMap.midpoints.withUnsafeBufferPointer { mid in
            for start in stride(from: 0, to: centred.count, by: Self.blockSize) {
                let end = Swift.min(start + Self.blockSize, centred.count)
                var amax: Float = 0
                for i in start..<end { amax = Swift.max(amax, abs(centred[i])) }
                nested.append(amax)
                guard amax != 0 else { continue }  // bnb writes 0 bytes for an all-zero block
                let inverse = 1 / amax
                for i in start..<end {
                    codes[i] = Self.code(for: Swift.min(Swift.max(centred[i] * inverse, -1), 1), midpoints: mid)
                }
            }
        }
        self.quantized = codes
        self.nestedAbsmax = nested
        self.offset = offset
        blockMap = nil
    }

    /// The code bnb's CPU kernel picks for v in [-1, 1]: grid index
    /// u = trunc(fp32(fp32(fp32(v + 1) * 0.5) * 65535) + 0.5), grid value
    /// g = fp32(-1 + fp32(2u) / 65535), code = number of map midpoints strictly below g.
    static func code(for v: Float, midpoints: UnsafeBufferPointer<Float>) -> UInt8 {
        // NaN only arises if the absmax sum overflowed (weights near Float.greatestFiniteMagnitude);
        // map it to the middle of the grid instead of trapping.
        let v = v.isNaN ? 0 : v
        let scaled: Float = ((v + 1) * 0.5) * 65535
        let u = Int(scaled + 0.5)  // non-negative, so truncation is floor
        let g: Float = -1 + Float(2 * u) / 65535
        // Binary search for the count of midpoints < g (they are sorted).
        var lo = 0, hi = midpoints.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if midpoints[mid] < g { lo = mid + 1 } else { hi = mid }
        }
        return UInt8(lo)
    }

    /// The block scale NF4 dequantization uses for block `b`:
    /// fp32(fp32(code8[q[b]] * nestedAbsmax[b / 256]) + offset).
    @inline(__always)
    public func absmax(block b: Int) -> Float {
        let nested = blockMap.map { $0.nestedIndex(ofLocalBlock: b) } ?? b / Self.blockSize
        return DynamicQuantMap.signed[Int(quantized[b])] * nestedAbsmax[nested] + offset
    }

    /// All dequantized block scales (bnb's intermediate `absmax` before the 4-bit dequant).   // [blocks]
    public func dequantized() -> [Float] {
        (0..<quantized.count).map { absmax(block: $0) }
    }
}
