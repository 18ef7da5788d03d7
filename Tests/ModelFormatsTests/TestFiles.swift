import Foundation
@testable import ModelFormats

/// Scratch files for tests: each call gets a fresh path in a per-process temporary directory.
enum TestFiles {
    static let directory: String = {
        let path = NSTemporaryDirectory() + "tessera-modelformats-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// A fresh, unused path ending in `suffix`.
    static func path(_ suffix: String) -> String {
        "\(directory)/\(UUID().uuidString)\(suffix)"
    }

    /// Writes `bytes` to a fresh path and returns it.
    static func write(_ bytes: [UInt8], suffix: String = ".bin") throws -> String {
        let path = path(suffix)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Opens `bytes` as a GGUF file and returns the error it throws (nil when it opens).
    static func ggufError(_ bytes: [UInt8]) throws -> ModelFormatsError? {
        let path = try write(bytes, suffix: ".gguf")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try GGUFFile(path: path)
            return nil
        } catch let error as ModelFormatsError {
            return error
        }
    }
}

/// Builds GGUF byte streams field by field, so tests can write files the writer would refuse.
struct RawGGUF {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { rawString(Array(s.utf8)) }
    mutating func rawString(_ utf8: [UInt8]) { u64(UInt64(utf8.count)); bytes.append(contentsOf: utf8) }

    /// Magic, version and counts.
    mutating func header(magic: UInt32 = 0x4655_4747, version: UInt32 = 3, tensors: UInt64, kvs: UInt64) {
        u32(magic); u32(version); u64(tensors); u64(kvs)
    }

    mutating func kvString(_ key: String, _ value: String) { string(key); u32(8); string(value) }
    mutating func kvU32(_ key: String, _ value: UInt32) { string(key); u32(4); u32(value) }

    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32 = 0, offset: UInt64) {
        string(name); u32(UInt32(dims.count)); dims.forEach { u64($0) }; u32(type); u64(offset)
    }

    mutating func pad(to alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// A valid file: one string key, one F32 tensor of `elements` values.
    static func minimal(elements: UInt64 = 8) -> RawGGUF {
        var raw = RawGGUF()
        raw.header(tensors: 1, kvs: 1)
        raw.kvString("general.architecture", "llama")
        raw.tensorInfo("w", dims: [elements], offset: 0)
        raw.pad()
        raw.zeros(Int(elements) * 4)
        return raw
    }
}

extension ModelFormatsError {
    /// The detail text of any case, for matching in tests.
    var detail: String {
        switch self {
        case .malformed(_, let d), .io(_, let d), .unsupported(_, let d): return d
        case .missingTensor(_, let name): return name
        case .invalidInput(_, let d): return d
        }
    }

    var isMalformed: Bool { if case .malformed = self { return true } else { return false } }
    var isUnsupported: Bool { if case .unsupported = self { return true } else { return false } }
}
