// Dequantize-into-scratch: GGUF tensor bytes -> Float, for the block types the model loader meets.
// The range checks happen once per call; the per-format loops then run on raw pointers with no
// allocation, because the model dequantizes a weight slice before every GEMM. The block formats
// run in C (Dequantize+Blocks.swift).
// Results are bit-exact with ggml's `dequantize_row_*` (ggml-quants.c); the tests hold them to a
// plain element-by-element version (Tests/QuantizationTests/ReferenceDequantize.swift).
// Byte order: GGUF is little-endian and so is every platform Tessera runs on.

#if _endian(big)
#error("Quantization reads little-endian GGUF blocks directly; big-endian hosts are not supported")
#endif

/// Dequantization of GGML tensor data into `Float` buffers.
public enum Dequantize {
    /// The types `run` supports.
    public static let supportedTypes: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q5_K, .q6_K]

    /// Dequantizes `count` values (a whole number of blocks) starting at element `firstElement`
    /// (block aligned) of a tensor stored as `type` in `source`, into `destination`.
    ///
    /// `source` holds the whole tensor's data starting at element 0; `destination` must have room
    /// for `count` floats.
    /// - Throws: `QuantizationError.unsupportedType`, `.notBlockAligned` or `.outOfBounds`.
    public static func run(
        _ type: GGMLType, source: UnsafeRawBufferPointer, firstElement: Int = 0, count: Int,
        into destination: UnsafeMutablePointer<Float>
    ) throws {
        let range = try byteRange(type, firstElement: firstElement, count: count, available: source.count)
        guard count > 0, let base = source.baseAddress else { return }
        let blocks = count / type.blockElements
        let src = base + range.lowerBound
        switch type {
        case .f32: UnsafeMutableRawPointer(destination).copyMemory(from: src, byteCount: count * 4)
        case .f16: f16(src, count, destination)
        case .bf16: bf16(src, count, destination)
        case .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q5_K, .q6_K: Self.blocks(type, src, blocks, destination)
        default: throw QuantizationError.unsupportedType(type, operation: "dequantize")
        }
    }

    /// Validates a block range and returns the byte range it occupies in the tensor data.
    /// Shared by the fast path and the reference so both reject the same inputs.
    static func byteRange(_ type: GGMLType, firstElement: Int, count: Int, available: Int) throws -> Range<Int> {
        // A switch, not `supportedTypes.contains`: no hashing on a per-row hot call.
        switch type {
        case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q5_K, .q6_K: break
        default:
            throw QuantizationError.unsupportedType(type, operation: "dequantize")
        }
        let per = type.blockElements
        guard firstElement >= 0, count >= 0, firstElement % per == 0, count % per == 0 else {
            throw QuantizationError.notBlockAligned(type, firstElement: firstElement, count: count)
        }
        guard let start = type.byteCount(elements: firstElement), let length = type.byteCount(elements: count) else {
            throw QuantizationError.outOfBounds(type, firstElement: firstElement, count: count,
                                                bytesNeeded: Int.max, bytesAvailable: available)
        }
        let (end, overflow) = start.addingReportingOverflow(length)
        guard !overflow, end <= available else {
            throw QuantizationError.outOfBounds(type, firstElement: firstElement, count: count,
                                                bytesNeeded: overflow ? Int.max : end, bytesAvailable: available)
        }
        return start..<end
    }

    // Element types with one value per "block".

    @inline(__always)
    static func f16(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            y[i] = HalfFloat.toFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        }
    }

    @inline(__always)
    static func bf16(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            y[i] = BFloat16.toFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        }
    }

    /// Reads a little-endian ggml_half at `offset` as Float.
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfFloat.toFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
}
