// Parses and validates the GGUF header, metadata and tensor infos. Nothing read from the file
// is trusted: counts are bounded by the bytes left before anything is allocated, and every
// tensor's type, shape, alignment and byte range is checked against the file.
//
// Layout (v2/v3, little-endian): magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
// | kv_count × (key string, type u32, value) | tensor_count × (name string, n_dims u32,
// ne u64 × n_dims, type u32, offset u64) | padding to `alignment` | tensor data.

import Quantization

/// The validated contents of a GGUF header.
struct GGUFHeader {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var metadataKeys: [String]
    var tensors: [GGUFTensorInfo]
    var alignment: Int
    var dataOffset: Int
}

/// Reads a GGUF header from a mapped file. Internal to ModelFormats.
struct GGUFParser {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    static let defaultAlignment = 32
    static let maxDimensions = 4
    /// Arrays may nest; a limit keeps a hostile file from exhausting the stack.
    static let maxArrayDepth = 16
    /// Fewest bytes of one key/value pair: key length, type id, one-byte value.
    static let minimumKVBytes = 8 + 4 + 1
    /// Fewest bytes of one tensor info: name length, n_dims, one dimension, type, offset.
    static let minimumTensorInfoBytes = 8 + 4 + 8 + 4 + 8

    private var reader: ByteReader
    private var file: String { reader.file }

    init(bytes: UnsafeRawBufferPointer, file: String) {
        reader = ByteReader(bytes, file: file)
    }

    mutating func parse() throws -> GGUFHeader {
        let magic = try reader.read(UInt32.self, "magic")
        guard magic == Self.magic else {
            throw reader.malformed("not a GGUF file: magic at byte offset 0 is 0x\(String(magic, radix: 16)), expected 0x46554747 (\"GGUF\")")
        }
        let version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            let hint = version == 1 ? "; GGUF v1 is obsolete, re-convert the model with a current llama.cpp" : ""
            throw ModelFormatsError.unsupported(file: file, detail: "GGUF version \(version) (supported: 2 and 3)\(hint)")
        }
        let tensorCount = try reader.readCount("tensor count")
        let kvCount = try reader.readCount("metadata key/value count")
        guard kvCount <= reader.remaining / Self.minimumKVBytes else {
            throw reader.malformed("metadata key/value count \(kvCount) cannot fit in the \(reader.remaining) bytes after the header")
        }
        guard tensorCount <= reader.remaining / Self.minimumTensorInfoBytes else {
            throw reader.malformed("tensor count \(tensorCount) cannot fit in the \(reader.remaining) bytes after the header")
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(kvCount)
        keys.reserveCapacity(kvCount)
        for index in 0..<kvCount {
            let keyOffset = reader.offset
            let key = try reader.readString("key of metadata entry \(index)")
            let typeOffset = reader.offset
            let typeID = try reader.read(UInt32.self, "type of metadata key '\(key)'")
            let value = try readValue(typeID: typeID, at: typeOffset, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw reader.malformed("duplicate metadata key '\(key)' at byte offset \(keyOffset)")
            }
            keys.append(key)
        }

        let alignment = try Self.alignment(in: metadata, file: file)
        let infos = try readTensorInfos(count: tensorCount)
        let (dataOffset, overflow) = Self.alignUp(reader.offset, to: alignment)
        guard !overflow else { throw reader.malformed("data section offset overflows") }
        let tensors = try Self.placeTensors(infos, dataOffset: dataOffset, alignment: alignment,
                                            fileSize: reader.bytes.count, file: file)
        return GGUFHeader(version: version, metadata: metadata, metadataKeys: keys, tensors: tensors,
                          alignment: alignment, dataOffset: dataOffset)
    }

    // MARK: Metadata values

    private mutating func readValue(typeID: UInt32, at typeOffset: Int, key: String, depth: Int) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: typeID) else {
            throw reader.malformed("metadata key '\(key)': unknown value type \(typeID) at byte offset \(typeOffset)")
        }
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, "value of '\(key)'"))
        case .int8: return .int8(try reader.read(Int8.self, "value of '\(key)'"))
        case .uint16: return .uint16(try reader.read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try reader.read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try reader.read(UInt32.self, "value of '\(key)'"))
        case .int32: return .int32(try reader.read(Int32.self, "value of '\(key)'"))
        case .uint64: return .uint64(try reader.read(UInt64.self, "value of '\(key)'"))
        case .int64: return .int64(try reader.read(Int64.self, "value of '\(key)'"))
        case .float32: return .float32(try reader.readFloat("value of '\(key)'"))
        case .float64: return .float64(try reader.readDouble("value of '\(key)'"))
        case .bool:
            let at = reader.offset
            let byte = try reader.read(UInt8.self, "value of '\(key)'")
            guard byte <= 1 else {
                throw reader.malformed("metadata key '\(key)': bool byte \(byte) at byte offset \(at) is neither 0 nor 1")
            }
            return .bool(byte == 1)
        case .string: return .string(try reader.readString("value of '\(key)'"))
        case .array: return .array(try readArray(key: key, depth: depth + 1))
        }
    }

    private mutating func readArray(key: String, depth: Int) throws -> [GGUFValue] {
        let start = reader.offset
        guard depth <= Self.maxArrayDepth else {
            throw reader.malformed("metadata key '\(key)': arrays nested deeper than \(Self.maxArrayDepth) at byte offset \(start)")
        }
        let elementTypeID = try reader.read(UInt32.self, "array element type of '\(key)'")
        guard let elementType = GGUFValueType(rawValue: elementTypeID) else {
            throw reader.malformed("metadata key '\(key)': unknown array element type \(elementTypeID) at byte offset \(start)")
        }
        let count = try reader.readCount("array length of '\(key)'")
        guard count <= reader.remaining / elementType.minimumEncodedSize else {
            throw reader.malformed("metadata key '\(key)': array length \(count) at byte offset \(start + 4) cannot fit in the \(reader.remaining) bytes left")
        }
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        // Vocabularies are arrays of ~50K-150K strings: keep that loop free of the type switch.
        if elementType == .string {
            for _ in 0..<count {
                values.append(.string(try reader.readString("element of '\(key)'")))
            }
            return values
        }
        for _ in 0..<count {
            values.append(try readValue(typeID: elementTypeID, at: start, key: key, depth: depth))
        }
        return values
    }

    private static func alignment(in metadata: [String: GGUFValue], file: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard let alignment = value.int, alignment > 0, alignment & (alignment - 1) == 0 else {
            throw ModelFormatsError.malformed(file: file, detail: "general.alignment is \(value); it must be a nonzero power of two")
        }
        return alignment
    }

    // MARK: Tensor infos

    /// A tensor info as read, with its offset still relative to the data section.
    private struct RawTensorInfo {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        var relativeOffset: Int
        var byteCount: Int
    }

    private mutating func readTensorInfos(count: Int) throws -> [RawTensorInfo] {
        var infos: [RawTensorInfo] = []
        infos.reserveCapacity(count)
        var names = Set<String>()
        for index in 0..<count {
            let start = reader.offset
            let name = try reader.readString("name of tensor \(index)")
            guard names.insert(name).inserted else {
                throw reader.malformed("duplicate tensor name '\(name)' at byte offset \(start)")
            }
            let dimsOffset = reader.offset
            let nDims = try reader.read(UInt32.self, "dimension count of tensor '\(name)'")
            guard (1...UInt32(Self.maxDimensions)).contains(nDims) else {
                throw reader.malformed("tensor '\(name)': dimension count \(nDims) at byte offset \(dimsOffset) is not in 1...\(Self.maxDimensions)")
            }
            var dims: [Int] = []
            var elements = 1
            for axis in 0..<Int(nDims) {
                let at = reader.offset
                let dim = try reader.read(UInt64.self, "dimension \(axis) of tensor '\(name)'")
                guard dim > 0, dim <= UInt64(Int.max) else {
                    throw reader.malformed("tensor '\(name)': dimension \(axis) is \(dim) at byte offset \(at); it must be positive")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dim))
                guard !overflow else {
                    throw reader.malformed("tensor '\(name)': element count overflows at dimension \(axis) (byte offset \(at))")
                }
                elements = product
                dims.append(Int(dim))
            }
            let typeOffset = reader.offset
            let typeID = try reader.read(UInt32.self, "type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: typeID) else {
                throw ModelFormatsError.unsupported(file: file, detail: "tensor '\(name)' has unknown GGML type id \(typeID) (byte offset \(typeOffset))")
            }
            // Rows must be whole blocks (llama.cpp requires the same), which also makes the
            // element count a multiple of the block size.
            guard dims[0] % type.blockElements == 0, let byteCount = type.byteCount(elements: elements) else {
                throw reader.malformed("tensor '\(name)': row length \(dims[0]) is not a multiple of the \(type) block size \(type.blockElements)")
            }
            let relativeOffset = try reader.readCount("data offset of tensor '\(name)'")
            infos.append(RawTensorInfo(name: name, dimensions: dims, type: type,
                                       relativeOffset: relativeOffset, byteCount: byteCount))
        }
        return infos
    }

    /// Resolves offsets to absolute positions and checks alignment, bounds and overlap.
    private static func placeTensors(_ infos: [RawTensorInfo], dataOffset: Int, alignment: Int,
                                     fileSize: Int, file: String) throws -> [GGUFTensorInfo] {
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            guard info.relativeOffset % alignment == 0 else {
                throw ModelFormatsError.malformed(file: file, detail: "tensor '\(info.name)': data offset \(info.relativeOffset) is not a multiple of the alignment \(alignment)")
            }
            let (start, overflowStart) = dataOffset.addingReportingOverflow(info.relativeOffset)
            let (end, overflowEnd) = start.addingReportingOverflow(info.byteCount)
            guard !overflowStart, !overflowEnd, end <= fileSize else {
                throw ModelFormatsError.malformed(file: file, detail: "tensor '\(info.name)': data at byte offset \(start) with \(info.byteCount) bytes runs past the end of the file (\(fileSize) bytes); the file may be truncated")
            }
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dimensions, type: info.type,
                                          offset: start, byteCount: info.byteCount))
        }
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) where previous.offset + previous.byteCount > next.offset {
            throw ModelFormatsError.malformed(file: file, detail: "tensors '\(previous.name)' (bytes \(previous.offset)..<\(previous.offset + previous.byteCount)) and '\(next.name)' (from byte \(next.offset)) overlap")
        }
        return tensors
    }

    /// Rounds `value` up to a multiple of the power of two `alignment`.
    static func alignUp(_ value: Int, to alignment: Int) -> (Int, overflow: Bool) {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return (sum & ~(alignment - 1), overflow)
    }
}
