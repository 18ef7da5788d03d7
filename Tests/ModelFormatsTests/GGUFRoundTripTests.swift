import Foundation
import Quantization
import Testing
@testable import ModelFormats

@Suite struct GGUFRoundTripTests {
    static let allValues: [(String, GGUFValue)] = [
        ("u8", .uint8(200)), ("i8", .int8(-7)), ("u16", .uint16(65000)), ("i16", .int16(-30000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)),
        ("u64", .uint64(UInt64.max)), ("i64", .int64(Int64.min)),
        ("f32", .float32(1.5)), ("f64", .float64(-2.25e100)),
        ("yes", .bool(true)), ("no", .bool(false)),
        ("text", .string("héllo ✓ 世界")), ("empty", .string("")),
        ("strings", .array([.string("a"), .string(""), .string("ü")])),
        ("ints", .array([.int32(1), .int32(-2), .int32(3)])),
        ("floats", .array([.float32(0.5), .float32(-1)])),
        ("bools", .array([.bool(true), .bool(false)])),
        ("nested", .array([.array([.uint8(1), .uint8(2)]), .array([.string("x")]), .array([])])),
        ("emptyArray", .array([])),
    ]

    @Test func metadataOfEveryTypeRoundTrips() throws {
        var writer = GGUFWriter()
        for (key, value) in Self.allValues { writer.set(key, value) }
        let path = TestFiles.path(".gguf")
        try writer.write(to: path)
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.metadataKeys == Self.allValues.map(\.0))
        for (key, value) in Self.allValues {
            #expect(file.metadata[key] == value, "key \(key)")
        }
        #expect(file.tensors.isEmpty)
    }

    @Test func tensorsRoundTripWithAlignment() throws {
        for alignment in [32, 64] {
            var writer = GGUFWriter(alignment: alignment)
            writer.set("general.architecture", .string("llama"))
            let f32 = (0..<6).flatMap { i in withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { Array($0) } }
            let q41 = (0..<40).map { UInt8($0) }  // two Q4_1 blocks
            let f16 = [UInt8](repeating: 0x3C, count: 6)
            try writer.addTensor(name: "a", type: .f32, dimensions: [3, 2], bytes: f32)
            try writer.addTensor(name: "b", type: .q4_1, dimensions: [64], bytes: q41)
            try writer.addTensor(name: "c", type: .f16, dimensions: [1, 1, 3], bytes: f16)
            let path = TestFiles.path(".gguf")
            try writer.write(to: path)
            #expect(try writer.serialized() == Array(try Data(contentsOf: URL(fileURLWithPath: path))))

            let file = try GGUFFile(path: path)
            #expect(file.alignment == alignment)
            #expect(file.tensors.map(\.name) == ["a", "b", "c"])
            let a = try #require(file.tensor(named: "a"))
            #expect(a.dimensions == [3, 2] && a.type == .f32 && a.elementCount == 6)
            #expect(Array(file.data(for: a)) == f32)
            let b = try #require(file.tensor(named: "b"))
            #expect(b.type == .q4_1 && Array(file.data(for: b)) == q41)
            let c = try #require(file.tensor(named: "c"))
            #expect(c.dimensions == [1, 1, 3] && Array(file.data(for: c)) == f16)
            for tensor in file.tensors { #expect(tensor.offset % alignment == 0) }
        }
    }

    @Test func writerRejectsInconsistentInput() throws {
        var writer = GGUFWriter()
        #expect(throws: ModelFormatsError.self) {
            try writer.addTensor(name: "w", type: .f32, dimensions: [4], bytes: [0, 0, 0])
        }
        #expect(throws: ModelFormatsError.self) {
            try writer.addTensor(name: "w", type: .q8_0, dimensions: [16], bytes: [UInt8](repeating: 0, count: 17))
        }
        #expect(throws: ModelFormatsError.self) {
            try writer.addTensor(name: "w", type: .f32, dimensions: [0], bytes: [])
        }
        try writer.addTensor(name: "w", type: .i8, dimensions: [2], bytes: [1, 2])
        #expect(throws: ModelFormatsError.self) {
            try writer.addTensor(name: "w", type: .i8, dimensions: [2], bytes: [1, 2])
        }
        writer.set("mixed", .array([.uint8(1), .string("x")]))
        #expect(throws: ModelFormatsError.self) { try writer.serialized() }
    }

    @Test func accessorsConvertBetweenWidths() {
        #expect(GGUFValue.uint64(UInt64.max).int == nil)
        #expect(GGUFValue.int16(-3).int == -3)
        #expect(GGUFValue.uint32(7).double == 7)
        #expect(GGUFValue.float32(2.5).int == nil)
        #expect(GGUFValue.array([.uint8(1), .int64(-2)]).intArray == [1, -2])
        #expect(GGUFValue.array([.float32(0.5), .int32(2)]).floatArray == [0.5, 2])
        #expect(GGUFValue.array([.string("a"), .int32(2)]).stringArray == nil)
        #expect(GGUFValue.string("s").array == nil)
        #expect(GGUFValue.bool(true).bool == true)
    }
}
