// A safetensors file, memory-mapped and validated on open. Tensor data is not copied:
// `data(for:)` returns a slice of the mapping; `floats(named:)` converts float types to Float.

/// A safetensors file: `__metadata__`, tensor descriptions, and mapped tensor data.
///
/// Opening checks the header length, the JSON, every dtype, shape and data range (inside the
/// data section, sized to match the shape, no overlaps) and throws `ModelFormatsError` naming
/// the file and the offending tensor.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// Tensor descriptions, sorted by name.
    public let tensors: [SafeTensorInfo]
    /// Absolute byte offset where the data section starts (8 + header length).
    public let dataOffset: Int

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    /// Opens, maps and validates the safetensors file at `path`.
    public init(path: String) throws {
        mapping = try MappedFile(path: path)
        self.path = path
        let header = try SafeTensorsHeader(bytes: mapping.bytes, file: path)
        metadata = header.metadata
        tensors = header.tensors
        dataOffset = header.dataOffset
        var index: [String: Int] = [:]
        for (position, tensor) in tensors.enumerated() { index[tensor.name] = position }
        tensorIndex = index
    }

    /// The tensor called `name`, if present.
    public func tensor(named name: String) -> SafeTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes: a slice of the mapping, valid while this object is alive.
    /// `tensor` must come from this file's `tensors`.
    public func data(for tensor: SafeTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensor.range.lowerBound >= 0 && tensor.range.upperBound <= mapping.bytes.count,
                     "tensor '\(tensor.name)' does not belong to \(path)")
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.range])
    }

    /// The tensor's values as Float, converted from F32, F16, BF16 or F64 (row-major).
    /// Throws `.missingTensor` when absent and `.unsupported` for integer dtypes.
    public func floats(named name: String) throws -> [Float] {
        guard let tensor = tensor(named: name) else {
            throw ModelFormatsError.missingTensor(file: path, name: name)
        }
        return try floats(for: tensor)
    }

    /// The values of `tensor` (from this file) as Float.
    public func floats(for tensor: SafeTensorInfo) throws -> [Float] {
        let raw = data(for: tensor)
        let count = tensor.elementCount
        // Tensor data need not be aligned in the file: copy or load unaligned.
        switch tensor.dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                initialized = count
            }
        case .f16:
            return convert(raw, count: count) { FloatConversion.halfToFloat($0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self)) }
        case .bf16:
            return convert(raw, count: count) { FloatConversion.bfloat16ToFloat($0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self)) }
        case .f64:
            return convert(raw, count: count) { Float($0.loadUnaligned(fromByteOffset: $1 * 8, as: Double.self)) }
        default:
            throw ModelFormatsError.unsupported(file: path, detail: "tensor '\(tensor.name)' has dtype \(tensor.dtype); expected F32, F16, BF16 or F64 to read as floats")
        }
    }

    @inline(__always)
    private func convert(_ raw: UnsafeRawBufferPointer, count: Int,
                         _ element: (UnsafeRawBufferPointer, Int) -> Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = element(raw, i) }
            initialized = count
        }
    }
}
