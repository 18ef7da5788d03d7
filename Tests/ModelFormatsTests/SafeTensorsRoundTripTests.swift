import Foundation
import TestSupport
import Testing
@testable import ModelFormats

@Suite struct SafeTensorsRoundTripTests {
    @Test func everyDTypeRoundTrips() throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "note": "quote \" slash \\ tab \t ü"])
        var expected: [String: [UInt8]] = [:]
        for (i, dtype) in SafeTensorsDType.allCases.enumerated() {
            let shape = [2, i % 3 + 1]
            let bytes = (0..<(shape[0] * shape[1] * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 * 7 + i) }
            let name = "t.\(dtype.rawValue.lowercased())"
            try writer.add(name: name, dtype: dtype, shape: shape, bytes: bytes)
            expected[name] = bytes
        }
        try writer.add(name: "scalar", shape: [], floats: [3.5])
        try writer.add(name: "empty", shape: [0, 4], floats: [])
        let path = TestFiles.path(".safetensors")
        try writer.write(to: path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == writer.serialized())

        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata == writer.metadata)
        #expect(file.dataOffset % 8 == 0)
        #expect(file.tensors.map(\.name) == (Array(expected.keys) + ["scalar", "empty"]).sorted())
        for (name, bytes) in expected {
            let info = try #require(file.tensor(named: name))
            #expect(Array(file.data(for: info)) == bytes, "tensor \(name)")
        }
        #expect(try file.floats(named: "scalar") == [3.5])
        #expect(try file.floats(named: "empty").isEmpty)
        #expect(file.tensor(named: "scalar")?.shape == [])
    }

    @Test func headerIsSortedAndSpacePadded() throws {
        var writer = SafeTensorsWriter()
        try writer.add(name: "b", shape: [1], floats: [1])
        try writer.add(name: "a", shape: [3], floats: [1, 2, 3])
        let bytes = writer.serialized()
        let length = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(length % 8 == 0)
        let json = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
        #expect(json.hasPrefix(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#))
        #expect(json.hasSuffix(" ") || json.hasSuffix("}"))
        #expect(bytes.count == 8 + length + 16)
    }

    @Test func floatsConvertFromHalfBFloatAndDouble() throws {
        let values: [Float] = [0, -1.5, 65504, 1e-3, 3.140625]
        var writer = SafeTensorsWriter()
        for dtype in [SafeTensorsDType.f32, .f16, .bf16, .f64] {
            try writer.add(name: dtype.rawValue, shape: [values.count], floats: values, as: dtype)
        }
        let path = TestFiles.path(".safetensors")
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(try file.floats(named: "F32") == values)
        #expect(try file.floats(named: "F64") == values)
        let half = try file.floats(named: "F16")
        let bf = try file.floats(named: "BF16")
        for (i, v) in values.enumerated() {
            #expect(abs(half[i] - v) <= abs(v) * 0x1p-11, "F16 \(v) → \(half[i])")
            #expect(abs(bf[i] - v) <= abs(v) * 0x1p-8, "BF16 \(v) → \(bf[i])")
        }
        #expect(throws: ModelFormatsError.missingTensor(file: path, name: "nope")) { try file.floats(named: "nope") }
    }

    @Test func integerTensorsAreNotReadAsFloats() throws {
        var writer = SafeTensorsWriter()
        try writer.add(name: "ids", dtype: .i32, shape: [2], bytes: [1, 0, 0, 0, 2, 0, 0, 0])
        let path = TestFiles.path(".safetensors")
        try writer.write(to: path)
        let error = try #require(throws: ModelFormatsError.self) { try SafeTensorsFile(path: path).floats(named: "ids") }
        #expect(error.isUnsupported)
    }

    @Test func writerRejectsInconsistentInput() throws {
        var writer = SafeTensorsWriter()
        #expect(throws: ModelFormatsError.self) { try writer.add(name: "x", dtype: .f32, shape: [2], bytes: [0, 0, 0, 0]) }
        #expect(throws: ModelFormatsError.self) { try writer.add(name: "x", shape: [2], floats: [1, 2], as: .i8) }
        #expect(throws: ModelFormatsError.self) { try writer.add(name: "__metadata__", shape: [1], floats: [1]) }
        #expect(throws: ModelFormatsError.self) { try writer.add(name: "x", shape: [-1], floats: []) }
        try writer.add(name: "x", shape: [1], floats: [1])
        #expect(throws: ModelFormatsError.self) { try writer.add(name: "x", shape: [1], floats: [1]) }
    }

    @Test
    func readsTheReferencePEFTAdapter() throws {
        let path = TestPaths.reference.appendingPathComponent("lora_r8_qv/adapter_model.safetensors").path
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.count == 120)
        let allF32 = file.tensors.allSatisfy { $0.dtype == .f32 }
        #expect(allF32)
        let a = try #require(file.tensor(named: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
        #expect(a.shape == [8, 576])
        let values = try file.floats(named: a.name)
        #expect(values.count == 8 * 576)
        let allFinite = values.allSatisfy { $0.isFinite }
        #expect(allFinite)
    }
}
