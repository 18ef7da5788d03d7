// A GGUF model file, memory-mapped and fully validated on open. Tensor data is not copied:
// `data(for:)` returns a slice of the mapping.

import Quantization

/// A GGUF (v2 or v3) file: metadata, tensor descriptions, and mapped tensor data.
///
/// Opening checks the whole header (magic, version, every count, string, array, type id,
/// shape, alignment and byte range) and throws `ModelFormatsError` naming the file and the
/// offending key, tensor or byte offset. The instance is immutable after `init`.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The GGUF format version (2 or 3).
    public let version: UInt32
    /// All metadata key/value pairs.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor descriptions in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute byte offset where the tensor data section starts.
    public let dataOffset: Int

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    /// Opens, maps and validates the GGUF file at `path`.
    public init(path: String) throws {
        mapping = try MappedFile(path: path)
        self.path = path
        var parser = GGUFParser(bytes: mapping.bytes, file: path)
        let header = try parser.parse()
        version = header.version
        metadata = header.metadata
        metadataKeys = header.metadataKeys
        tensors = header.tensors
        alignment = header.alignment
        dataOffset = header.dataOffset
        var index: [String: Int] = [:]
        index.reserveCapacity(tensors.count)
        for (position, tensor) in tensors.enumerated() { index[tensor.name] = position }
        tensorIndex = index
    }

    /// The file's size in bytes.
    public var fileSize: Int { mapping.bytes.count }

    /// The tensor called `name`, if present.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes: a slice of the mapping, valid while this object is alive.
    /// `tensor` must come from this file's `tensors`.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensor.offset >= 0 && tensor.byteCount >= 0 && tensor.offset <= fileSize - tensor.byteCount,
                     "tensor '\(tensor.name)' does not belong to \(path)")
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.offset..<(tensor.offset + tensor.byteCount)])
    }

    /// The metadata value for `key`, if present.
    public subscript(key: String) -> GGUFValue? { metadata[key] }
}
