// Builds safetensors files the way Hugging Face's library does: header JSON with
// "__metadata__" first and tensors sorted by name, padded with spaces to a multiple of 8 bytes,
// then the tensor data in header order.

/// Collects tensors and `__metadata__` and writes them as a safetensors file.
///
/// ```swift
/// var writer = SafeTensorsWriter(metadata: ["format": "pt"])
/// try writer.add(name: "lora_A.weight", shape: [8, 576], floats: a)
/// try writer.write(to: "adapter_model.safetensors")
/// ```
public struct SafeTensorsWriter: Sendable {
    /// The `__metadata__` map (omitted from the file when empty).
    public var metadata: [String: String]
    private var tensors: [String: Tensor] = [:]

    private struct Tensor: Sendable {
        var dtype: SafeTensorsDType
        var shape: [Int]  // row-major
        var bytes: [UInt8]
    }

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a tensor from raw little-endian bytes, which must be exactly shape × dtype size.
    public mutating func add(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) throws {
        guard !name.isEmpty, name != "__metadata__" else { throw invalid("'\(name)' is not a valid tensor name") }
        guard tensors[name] == nil else { throw invalid("duplicate tensor name '\(name)'") }
        var expected = dtype.byteSize
        for dim in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else { throw invalid("tensor '\(name)' has invalid shape \(shape)") }
            expected = product
        }
        guard bytes.count == expected else {
            throw invalid("tensor '\(name)': \(bytes.count) bytes given, \(dtype) \(shape) needs \(expected)")
        }
        tensors[name] = Tensor(dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Adds a tensor from Float values, stored as `dtype` (F32, F16, BF16 or F64; narrowing
    /// rounds to nearest even).
    public mutating func add(name: String, shape: [Int], floats: [Float], as dtype: SafeTensorsDType = .f32) throws {
        var bytes = ByteWriter()
        switch dtype {
        case .f32: for v in floats { bytes.append(v) }
        case .f16: for v in floats { bytes.append(FloatConversion.floatToHalf(v)) }
        case .bf16: for v in floats { bytes.append(FloatConversion.floatToBFloat16(v)) }
        case .f64: for v in floats { bytes.append(Double(v)) }
        default: throw invalid("tensor '\(name)': cannot store floats as \(dtype)")
        }
        try add(name: name, dtype: dtype, shape: shape, bytes: bytes.bytes)
    }

    /// The complete file contents.
    public func serialized() -> [UInt8] {
        var out = header()
        for name in tensors.keys.sorted() {
            if let tensor = tensors[name] { out.append(contentsOf: tensor.bytes) }
        }
        return out
    }

    /// Writes the file to `path` atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        let file = try AtomicFileWriter(path: path)
        try file.append(header())
        for name in tensors.keys.sorted() {
            if let tensor = tensors[name] { try file.append(tensor.bytes) }
        }
        try file.commit()
    }

    // MARK: Encoding

    /// The length field plus the padded JSON header.
    private func header() -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(Self.quote($0)):\(Self.quote(metadata[$0] ?? ""))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in tensors.keys.sorted() {
            guard let tensor = tensors[name] else { continue }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let end = offset + tensor.bytes.count
            entries.append("\(Self.quote(name)):{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var json = Array("{\(entries.joined(separator: ","))}".utf8)
        // Pad so the data section starts 8-byte aligned (8 + json.count ≡ 0 mod 8).
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var out = ByteWriter()
        out.append(UInt64(json.count))
        return out.bytes + json
    }

    /// A JSON string literal.
    static func quote(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private func invalid(_ detail: String) -> ModelFormatsError {
        .invalidInput(context: "SafeTensorsWriter", detail: detail)
    }
}
