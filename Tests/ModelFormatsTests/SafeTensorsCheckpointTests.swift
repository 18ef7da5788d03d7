import Foundation
import Testing
@testable import ModelFormats

@Suite struct SafeTensorsCheckpointTests {
    /// A fresh directory holding the given files.
    private func directory(_ files: [String: [UInt8]]) throws -> String {
        let dir = TestFiles.path("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)")) }
        return dir
    }

    private func shard(_ tensors: [String: [Float]]) throws -> [UInt8] {
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for (name, values) in tensors { try writer.add(name: name, shape: [values.count], floats: values) }
        return writer.serialized()
    }

    private func index(_ map: [String: String]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map]))
    }

    @Test func singleFileDirectoryAndPath() throws {
        let dir = try directory(["model.safetensors": try shard(["a": [1, 2], "b": [3]])])
        for path in [dir, "\(dir)/model.safetensors"] {
            let checkpoint = try SafeTensorsCheckpoint(path: path)
            #expect(checkpoint.tensorNames == ["a", "b"])
            #expect(try checkpoint.floats(named: "b") == [3])
            #expect(checkpoint.files.count == 1)
        }
    }

    @Test func shardedCheckpointGivesOneLookup() throws {
        let dir = try directory([
            "model-00001-of-00002.safetensors": try shard(["x": [1], "y": [2, 3]]),
            "model-00002-of-00002.safetensors": try shard(["z": [4]]),
            "model.safetensors.index.json": try index([
                "x": "model-00001-of-00002.safetensors", "y": "model-00001-of-00002.safetensors",
                "z": "model-00002-of-00002.safetensors",
            ]),
        ])
        for path in [dir, "\(dir)/model.safetensors.index.json"] {
            let checkpoint = try SafeTensorsCheckpoint(path: path)
            #expect(checkpoint.tensorNames == ["x", "y", "z"])
            #expect(checkpoint.files.count == 2)
            #expect(try checkpoint.floats(named: "y") == [2, 3])
            #expect(try checkpoint.floats(named: "z") == [4])
            #expect(try checkpoint.data(named: "x").count == 4)
            #expect(checkpoint.tensor(named: "z")?.file.path.hasSuffix("00002-of-00002.safetensors") == true)
            #expect(throws: ModelFormatsError.self) { try checkpoint.floats(named: "w") }
        }
    }

    @Test func missingShard() throws {
        let dir = try directory(["model.safetensors.index.json": try index(["x": "model-00001-of-00002.safetensors"])])
        let error = try #require(throws: ModelFormatsError.self) { try SafeTensorsCheckpoint(path: dir) }
        #expect(error.detail.contains("missing") && error.detail.contains("'x'"))
    }

    @Test func indexNamesATensorTheShardLacks() throws {
        let dir = try directory([
            "s.safetensors": try shard(["x": [1]]),
            "model.safetensors.index.json": try index(["x": "s.safetensors", "ghost": "s.safetensors"]),
        ])
        let error = try #require(throws: ModelFormatsError.self) { try SafeTensorsCheckpoint(path: dir) }
        #expect(error.detail.contains("'ghost'"))
    }

    @Test func malformedIndexAndEscapingShardNames() throws {
        let noMap = try directory(["model.safetensors.index.json": Array(#"{"metadata": {}}"#.utf8)])
        #expect(throws: ModelFormatsError.self) { try SafeTensorsCheckpoint(path: noMap) }
        let escaping = try directory(["model.safetensors.index.json": try index(["x": "../elsewhere.safetensors"])])
        let error = try #require(throws: ModelFormatsError.self) { try SafeTensorsCheckpoint(path: escaping) }
        #expect(error.detail.contains("plain file names"))
        let empty = try directory([:])
        #expect(throws: ModelFormatsError.self) { try SafeTensorsCheckpoint(path: empty) }
    }
}
