// Parses and validates a safetensors header. Layout: u64 little-endian header length N | N bytes
// of JSON | data. The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" string map.

import Foundation

/// The validated header of a safetensors file.
struct SafeTensorsHeader {
    /// Largest header accepted; real headers are kilobytes to a few megabytes.
    static let maxHeaderBytes = 100 * 1024 * 1024

    var metadata: [String: String]
    var tensors: [SafeTensorInfo]  // sorted by name
    var dataOffset: Int

    init(bytes: UnsafeRawBufferPointer, file: String) throws {
        var reader = ByteReader(bytes, file: file)
        let length = try reader.read(UInt64.self, "header length")
        guard length <= UInt64(reader.remaining) else {
            throw ModelFormatsError.malformed(file: file, detail: "header length \(length) exceeds the \(reader.remaining) bytes after the length field; the file may be truncated")
        }
        guard length <= UInt64(Self.maxHeaderBytes) else {
            throw ModelFormatsError.malformed(file: file, detail: "header length \(length) exceeds the \(Self.maxHeaderBytes)-byte limit")
        }
        let dataOffset = 8 + Int(length)
        self.dataOffset = dataOffset
        let json = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<dataOffset]))
        let decoded: RawHeader
        do {
            decoded = try JSONDecoder().decode(RawHeader.self, from: json)
        } catch let error as ModelFormatsError {
            throw error
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw ModelFormatsError.malformed(file: file, detail: "header (bytes 8..<\(dataOffset)) is not valid JSON")
        } catch let error as DecodingError {
            throw ModelFormatsError.malformed(file: file, detail: "header JSON: \(Self.describe(error))")
        }
        metadata = decoded.metadata
        let dataSize = bytes.count - dataOffset
        tensors = try decoded.entries.map { try Self.validate($0, dataOffset: dataOffset, dataSize: dataSize, file: file) }
            .sorted { $0.name < $1.name }
        try Self.checkOverlaps(tensors, file: file)
    }

    private static func validate(_ entry: RawHeader.Entry, dataOffset: Int, dataSize: Int, file: String) throws -> SafeTensorInfo {
        let name = entry.name
        guard let dtype = SafeTensorsDType(rawValue: entry.dtype) else {
            throw ModelFormatsError.unsupported(file: file, detail: "tensor '\(name)' has dtype '\(entry.dtype)' (supported: \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var bytes = dtype.byteSize
        for dim in entry.shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else {
                throw ModelFormatsError.malformed(file: file, detail: "tensor '\(name)' has invalid shape \(entry.shape)")
            }
            bytes = product
        }
        guard entry.offsets.count == 2 else {
            throw ModelFormatsError.malformed(file: file, detail: "tensor '\(name)': data_offsets must be [begin, end], got \(entry.offsets)")
        }
        let (begin, end) = (entry.offsets[0], entry.offsets[1])
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw ModelFormatsError.malformed(file: file, detail: "tensor '\(name)': data_offsets [\(begin), \(end)] are not inside the \(dataSize)-byte data section")
        }
        guard end - begin == bytes else {
            throw ModelFormatsError.malformed(file: file, detail: "tensor '\(name)': data_offsets [\(begin), \(end)] span \(end - begin) bytes but \(dtype) \(entry.shape) needs \(bytes)")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: entry.shape, range: (dataOffset + begin)..<(dataOffset + end))
    }

    private static func checkOverlaps(_ tensors: [SafeTensorInfo], file: String) throws {
        // Empty tensors occupy no bytes and may share an offset with anything.
        let byStart = tensors.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (previous, next) in zip(byStart, byStart.dropFirst()) where previous.range.upperBound > next.range.lowerBound {
            throw ModelFormatsError.malformed(file: file, detail: "tensors '\(previous.name)' and '\(next.name)' overlap (data_offsets ranges \(previous.range) and \(next.range) in file bytes)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? context.debugDescription : "at '\(keys)': \(context.debugDescription)"
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return path(context)
        case .keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' \(path(context))"
        @unknown default:
            return "\(error)"
        }
    }
}

/// The header JSON as decoded, before validation.
private struct RawHeader: Decodable {
    struct Entry: Decodable {
        var name = ""
        let dtype: String
        let shape: [Int]
        let offsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case offsets = "data_offsets"
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var metadata: [String: String] = [:]
    var entries: [Entry] = []

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                var entry = try container.decode(Entry.self, forKey: key)
                entry.name = key.stringValue
                entries.append(entry)
            }
        }
    }
}
