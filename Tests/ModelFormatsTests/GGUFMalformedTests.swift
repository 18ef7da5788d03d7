import Foundation
import Quantization
import Testing
@testable import ModelFormats

/// Hostile and damaged GGUF inputs: each must throw a `ModelFormatsError` that says what is
/// wrong, and none may crash.
@Suite struct GGUFMalformedTests {
    @Test func minimalFileIsValid() throws {
        #expect(try TestFiles.ggufError(RawGGUF.minimal().bytes) == nil)
    }

    @Test func version2IsAccepted() throws {
        var raw = RawGGUF.minimal()
        raw.bytes[4] = 2
        let path = try TestFiles.write(raw.bytes, suffix: ".gguf")
        #expect(try GGUFFile(path: path).version == 2)
    }

    @Test func everyTruncationThrows() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("list", .array([.array([.int32(1)]), .array([.string("ab")])]))
        writer.set("f", .float64(1))
        try writer.addTensor(name: "w", type: .q8_0, dimensions: [32], bytes: [UInt8](repeating: 1, count: 34))
        try writer.addTensor(name: "v", type: .f32, dimensions: [2], bytes: [UInt8](repeating: 2, count: 8))
        let full = try writer.serialized()
        #expect(try TestFiles.ggufError(full) == nil)
        // The last tensor ends 24 bytes before the end (alignment padding), so cut before that.
        let lastDataByte = full.count - 24
        for length in 0..<lastDataByte {
            let error = try TestFiles.ggufError(Array(full[..<length]))
            #expect(error?.isMalformed == true, "truncated to \(length) bytes")
        }
    }

    @Test func emptyFileThrows() throws {
        let error = try #require(try TestFiles.ggufError([]))
        #expect(error.detail.contains("byte offset 0"))
    }

    @Test func wrongMagic() throws {
        var raw = RawGGUF.minimal()
        raw.bytes[0] = UInt8(ascii: "X")
        let error = try #require(try TestFiles.ggufError(raw.bytes))
        #expect(error.detail.contains("not a GGUF file"))
    }

    @Test(arguments: [UInt32(1), 99])
    func unsupportedVersion(version: UInt32) throws {
        var raw = RawGGUF()
        raw.header(version: version, tensors: 0, kvs: 0)
        let error = try #require(try TestFiles.ggufError(raw.bytes))
        #expect(error.isUnsupported)
        #expect(error.detail.contains("version \(version)"))
    }

    @Test func absurdCounts() throws {
        var tensors = RawGGUF()
        tensors.header(tensors: 1 << 40, kvs: 0)
        tensors.zeros(64)
        #expect(try TestFiles.ggufError(tensors.bytes)?.detail.contains("tensor count") == true)
        var kvs = RawGGUF()
        kvs.header(tensors: 0, kvs: UInt64.max)
        #expect(try TestFiles.ggufError(kvs.bytes)?.detail.contains("too large") == true)
        var kvs2 = RawGGUF()
        kvs2.header(tensors: 0, kvs: 1_000_000)
        kvs2.zeros(100)
        #expect(try TestFiles.ggufError(kvs2.bytes)?.detail.contains("key/value count") == true)
    }

    @Test func absurdStringAndArrayLengths() throws {
        var string = RawGGUF()
        string.header(tensors: 0, kvs: 1)
        string.string("k"); string.u32(8); string.u64(1 << 62); string.zeros(16)
        #expect(try TestFiles.ggufError(string.bytes)?.detail.contains("string length") == true)
        var array = RawGGUF()
        array.header(tensors: 0, kvs: 1)
        array.string("k"); array.u32(9); array.u32(8); array.u64(1 << 50); array.zeros(16)
        #expect(try TestFiles.ggufError(array.bytes)?.detail.contains("array length") == true)
    }

    @Test func unknownValueTypeAndBadBool() throws {
        var type = RawGGUF()
        type.header(tensors: 0, kvs: 1)
        type.string("k"); type.u32(13); type.zeros(8)
        #expect(try TestFiles.ggufError(type.bytes)?.detail.contains("unknown value type 13") == true)
        var bool = RawGGUF()
        bool.header(tensors: 0, kvs: 1)
        bool.string("flag"); bool.u32(7); bool.u8(2)
        #expect(try TestFiles.ggufError(bool.bytes)?.detail.contains("flag") == true)
    }

    @Test func deeplyNestedArraysAreRefused() throws {
        var raw = RawGGUF()
        raw.header(tensors: 0, kvs: 1)
        raw.string("deep"); raw.u32(9)
        for _ in 0..<1000 { raw.u32(9); raw.u64(1) }
        raw.u32(0); raw.u64(0)
        #expect(try TestFiles.ggufError(raw.bytes)?.detail.contains("nested") == true)
    }

    @Test(arguments: [UInt32(0), 3, 48])
    func badAlignment(alignment: UInt32) throws {
        var raw = RawGGUF()
        raw.header(tensors: 0, kvs: 1)
        raw.kvU32("general.alignment", alignment)
        #expect(try TestFiles.ggufError(raw.bytes)?.detail.contains("general.alignment") == true)
    }

    @Test func duplicateKeys() throws {
        var raw = RawGGUF()
        raw.header(tensors: 0, kvs: 2)
        raw.kvU32("a", 1)
        raw.kvU32("a", 2)
        #expect(try TestFiles.ggufError(raw.bytes)?.detail.contains("duplicate metadata key 'a'") == true)
    }

    /// A file with the given tensor infos (F32 unless `type` says otherwise) and `dataBytes`
    /// of data after the aligned header.
    private func file(_ infos: [(String, [UInt64], UInt32, UInt64)], dataBytes: Int) -> [UInt8] {
        var raw = RawGGUF()
        raw.header(tensors: UInt64(infos.count), kvs: 0)
        for (name, dims, type, offset) in infos { raw.tensorInfo(name, dims: dims, type: type, offset: offset) }
        raw.pad()
        raw.zeros(dataBytes)
        return raw.bytes
    }

    @Test func tensorPastEndOfFile() throws {
        let error = try TestFiles.ggufError(file([("w", [8], 0, 32)], dataBytes: 40))
        #expect(error?.detail.contains("'w'") == true)
        #expect(error?.detail.contains("past the end") == true)
    }

    @Test func overlappingTensors() throws {
        let error = try TestFiles.ggufError(file([("a", [16], 0, 0), ("b", [8], 0, 32)], dataBytes: 64))
        #expect(error?.detail.contains("overlap") == true)
    }

    @Test func misalignedTensorOffset() throws {
        let error = try TestFiles.ggufError(file([("w", [2], 0, 4)], dataBytes: 64))
        #expect(error?.detail.contains("not a multiple of the alignment") == true)
    }

    @Test func unknownTensorType() throws {
        let error = try #require(try TestFiles.ggufError(file([("odd", [32], 4, 0)], dataBytes: 64)))
        #expect(error.isUnsupported)
        #expect(error.detail.contains("'odd'") && error.detail.contains("type id 4"))
    }

    @Test func badDimensions() throws {
        #expect(try TestFiles.ggufError(file([("z", [4, 0], 0, 0)], dataBytes: 64))?.detail.contains("must be positive") == true)
        #expect(try TestFiles.ggufError(file([("n", [], 0, 0)], dataBytes: 64))?.detail.contains("dimension count 0") == true)
        #expect(try TestFiles.ggufError(file([("n", [1, 1, 1, 1, 1], 0, 0)], dataBytes: 64))?.detail.contains("dimension count 5") == true)
        let huge = UInt64(1) << 40
        #expect(try TestFiles.ggufError(file([("o", [huge, huge], 0, 0)], dataBytes: 64))?.detail.contains("overflows") == true)
    }

    @Test func rowNotAMultipleOfTheBlock() throws {
        let error = try TestFiles.ggufError(file([("q", [33], GGMLType.q4_1.rawValue, 0)], dataBytes: 64))
        #expect(error?.detail.contains("block size 32") == true)
    }

    @Test func duplicateTensorNames() throws {
        let error = try TestFiles.ggufError(file([("w", [8], 0, 0), ("w", [8], 0, 32)], dataBytes: 64))
        #expect(error?.detail.contains("duplicate tensor name 'w'") == true)
    }

    @Test func invalidUTF8IsReplacedNotFatal() throws {
        var raw = RawGGUF()
        raw.header(tensors: 0, kvs: 1)
        raw.string("k"); raw.u32(8); raw.rawString([0x61, 0xFF, 0xC3])
        let path = try TestFiles.write(raw.bytes, suffix: ".gguf")
        let file = try GGUFFile(path: path)
        #expect(file.metadata["k"]?.string == "a\u{FFFD}\u{FFFD}")
    }

    @Test func missingFileAndDirectoryAreIOErrors() throws {
        #expect(throws: ModelFormatsError.self) { try GGUFFile(path: "/nonexistent/x.gguf") }
        #expect(throws: ModelFormatsError.self) { try GGUFFile(path: TestFiles.directory) }
    }
}
