// Builds GGUF v3 files: metadata of every value type plus tensors given as raw bytes. Input is
// checked as it is added, so a written file always passes GGUFFile's validation.

import Quantization

/// Collects metadata and tensors and writes them as a GGUF v3 file.
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.set("general.architecture", .string("llama"))
/// try writer.addTensor(name: "w", type: .f32, dimensions: [4, 2], bytes: raw)
/// try writer.write(to: "out.gguf")
/// ```
public struct GGUFWriter: Sendable {
    /// Alignment of tensor data. Values other than 32 are recorded as `general.alignment`.
    public let alignment: Int
    /// Metadata keys in the order they will be written.
    public private(set) var metadataKeys: [String] = []
    private var metadata: [String: GGUFValue] = [:]
    private var tensors: [Tensor] = []
    private var tensorNames = Set<String>()

    private struct Tensor: Sendable {
        var name: String
        var type: GGMLType
        var dimensions: [Int]  // GGUF ne order
        var bytes: [UInt8]
    }

    /// Creates an empty writer. `alignment` must be a nonzero power of two.
    public init(alignment: Int = 32) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "GGUF alignment must be a power of two")
        self.alignment = alignment
    }

    /// Sets a metadata value; a key set twice keeps its first position and the last value.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if metadata.updateValue(value, forKey: key) == nil { metadataKeys.append(key) }
    }

    /// Adds a tensor. `dimensions` are in GGUF `ne` order (row length first); `bytes` must be
    /// exactly the encoded size for `type` and the element count.
    public mutating func addTensor(name: String, type: GGMLType, dimensions: [Int], bytes: [UInt8]) throws {
        guard !tensorNames.contains(name) else { throw invalid("duplicate tensor name '\(name)'") }
        guard (1...GGUFParser.maxDimensions).contains(dimensions.count) else {
            throw invalid("tensor '\(name)' has \(dimensions.count) dimensions; GGUF allows 1...\(GGUFParser.maxDimensions)")
        }
        var elements = 1
        for dim in dimensions {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard dim > 0, !overflow else { throw invalid("tensor '\(name)' has invalid dimensions \(dimensions)") }
            elements = product
        }
        guard dimensions[0] % type.blockElements == 0, let expected = type.byteCount(elements: elements) else {
            throw invalid("tensor '\(name)': row length \(dimensions[0]) is not a multiple of the \(type) block size \(type.blockElements)")
        }
        guard bytes.count == expected else {
            throw invalid("tensor '\(name)': \(bytes.count) bytes given, \(type) \(dimensions) needs \(expected)")
        }
        tensorNames.insert(name)
        tensors.append(Tensor(name: name, type: type, dimensions: dimensions, bytes: bytes))
    }

    /// Adds a tensor from a raw buffer (copied).
    public mutating func addTensor(name: String, type: GGMLType, dimensions: [Int], bytes: UnsafeRawBufferPointer) throws {
        try addTensor(name: name, type: type, dimensions: dimensions, bytes: [UInt8](bytes))
    }

    /// The complete file contents.
    public func serialized() throws -> [UInt8] {
        var out = ByteWriter()
        try encodeHeader(into: &out)
        var bytes = out.bytes
        for tensor in tensors {
            bytes.append(contentsOf: tensor.bytes)
            bytes.append(contentsOf: repeatElement(0, count: padding(after: tensor.bytes.count)))
        }
        return bytes
    }

    /// Writes the file to `path` atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        var header = ByteWriter()
        try encodeHeader(into: &header)
        let file = try AtomicFileWriter(path: path)
        try file.append(header.bytes)
        for tensor in tensors {
            try file.append(tensor.bytes)
            try file.appendZeros(padding(after: tensor.bytes.count))
        }
        try file.commit()
    }

    // MARK: Encoding

    private func padding(after count: Int) -> Int { (alignment - count % alignment) % alignment }

    /// Header, metadata, tensor infos, and the padding up to the data section.
    private func encodeHeader(into out: inout ByteWriter) throws {
        var keys = metadataKeys
        var values = metadata
        if alignment != GGUFParser.defaultAlignment {
            if let given = values["general.alignment"] {
                guard given.int == alignment else {
                    throw invalid("general.alignment is \(given) but the writer aligns to \(alignment)")
                }
            } else {
                keys.append("general.alignment")
                values["general.alignment"] = .uint32(UInt32(alignment))
            }
        }
        out.append(GGUFParser.magic)
        out.append(UInt32(3))
        out.append(UInt64(tensors.count))
        out.append(UInt64(keys.count))
        for key in keys {
            guard let value = values[key] else { continue }
            out.appendGGUFString(key)
            out.append(GGUFValueType(of: value).rawValue)
            try encode(value, key: key, into: &out)
        }
        var offset = 0
        for tensor in tensors {
            out.appendGGUFString(tensor.name)
            out.append(UInt32(tensor.dimensions.count))
            for dim in tensor.dimensions { out.append(UInt64(dim)) }
            out.append(tensor.type.rawValue)
            out.append(UInt64(offset))
            offset += tensor.bytes.count + padding(after: tensor.bytes.count)
        }
        out.pad(to: alignment)
    }

    private func encode(_ value: GGUFValue, key: String, into out: inout ByteWriter) throws {
        switch value {
        case .uint8(let v): out.append(v)
        case .int8(let v): out.append(v)
        case .uint16(let v): out.append(v)
        case .int16(let v): out.append(v)
        case .uint32(let v): out.append(v)
        case .int32(let v): out.append(v)
        case .uint64(let v): out.append(v)
        case .int64(let v): out.append(v)
        case .float32(let v): out.append(v)
        case .float64(let v): out.append(v)
        case .bool(let v): out.append(UInt8(v ? 1 : 0))
        case .string(let v): out.appendGGUFString(v)
        case .array(let elements):
            // GGUF arrays are homogeneous; an empty one still needs a type id.
            let elementType = elements.first.map(GGUFValueType.init(of:)) ?? .uint8
            guard elements.allSatisfy({ GGUFValueType(of: $0) == elementType }) else {
                throw invalid("metadata key '\(key)': array elements must all have the same type")
            }
            out.append(elementType.rawValue)
            out.append(UInt64(elements.count))
            for element in elements { try encode(element, key: key, into: &out) }
        }
    }

    private func invalid(_ detail: String) -> ModelFormatsError {
        .invalidInput(context: "GGUFWriter", detail: detail)
    }
}
