import Foundation
import Testing
@testable import ModelFormats

/// Damaged and hostile safetensors files: each must throw a `ModelFormatsError`, none may crash.
@Suite struct SafeTensorsMalformedTests {
    /// A file with the given header JSON (length field computed) followed by `data`.
    static func raw(_ json: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let header = Array(json.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(header.count)).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + header + data
    }

    static func error(_ bytes: [UInt8]) throws -> ModelFormatsError? {
        let path = try TestFiles.write(bytes, suffix: ".safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SafeTensorsFile(path: path)
            return nil
        } catch let error as ModelFormatsError {
            return error
        }
    }

    static let valid = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func validBaselineOpens() throws {
        #expect(try Self.error(Self.raw(Self.valid, data: [UInt8](repeating: 0, count: 8))) == nil)
    }

    @Test func everyTruncationThrows() throws {
        let full = Self.raw(Self.valid, data: [UInt8](repeating: 0, count: 8))
        for length in 0..<full.count {
            #expect(try Self.error(Array(full[..<length]))?.isMalformed == true, "truncated to \(length)")
        }
    }

    @Test func headerLengthPastEndOfFile() throws {
        let error = try Self.error(Self.raw("{}", length: 1 << 40))
        #expect(error?.detail.contains("header length") == true)
    }

    @Test func headerLengthOverTheLimit() throws {
        // A sparse file larger than the limit, so only the size cap can refuse it.
        let path = TestFiles.path(".safetensors")
        let length = UInt64(SafeTensorsHeader.maxHeaderBytes + 8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: length.littleEndian) { bytes.append(contentsOf: $0) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: length + 16)
        try handle.close()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: ModelFormatsError.self) { try SafeTensorsFile(path: path) }
        #expect(error.detail.contains("limit"))
    }

    @Test func headerIsNotJSON() throws {
        #expect(try Self.error(Self.raw("not json at all"))?.detail.contains("not valid JSON") == true)
        #expect(try Self.error(Self.raw("[1, 2]"))?.isMalformed == true)
        #expect(try Self.error(Self.raw(#"{"w": 5}"#))?.detail.contains("w") == true)
        #expect(try Self.error(Self.raw(#"{"w":{"dtype":"F32","shape":[2]}}"#))?.detail.contains("data_offsets") == true)
        #expect(try Self.error(Self.raw(#"{"__metadata__":{"a":1}}"#))?.isMalformed == true)
    }

    @Test func unsupportedDType() throws {
        let error = try #require(try Self.error(Self.raw(#"{"odd":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0])))
        #expect(error.isUnsupported)
        #expect(error.detail.contains("'odd'") && error.detail.contains("F8_E4M3"))
    }

    @Test func offsetsMismatchingShape() throws {
        let error = try Self.error(Self.raw(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 16)))
        #expect(error?.detail.contains("needs 12") == true)
    }

    @Test func offsetsOutsideTheDataSection() throws {
        #expect(try Self.error(Self.raw(#"{"w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#, data: [0, 0, 0, 0]))?.detail.contains("not inside") == true)
        #expect(try Self.error(Self.raw(#"{"w":{"dtype":"U8","shape":[0],"data_offsets":[3,2]}}"#, data: [0, 0, 0, 0]))?.detail.contains("not inside") == true)
        #expect(try Self.error(Self.raw(#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#, data: [0]))?.isMalformed == true)
        #expect(try Self.error(Self.raw(#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#, data: [0, 0]))?.isMalformed == true)
    }

    @Test func badShapes() throws {
        #expect(try Self.error(Self.raw(#"{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}"#))?.detail.contains("shape") == true)
        let huge = #"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#
        #expect(try Self.error(Self.raw(huge))?.detail.contains("shape") == true)
    }

    @Test func overlappingTensors() throws {
        let json = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#
        #expect(try Self.error(Self.raw(json, data: [UInt8](repeating: 0, count: 6)))?.detail.contains("overlap") == true)
    }
}
