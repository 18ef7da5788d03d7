// One lookup over a Hugging Face checkpoint that is either a single `model.safetensors` or a
// set of shards listed by `model.safetensors.index.json` ({"weight_map": {tensor: shard}}).

import Foundation

/// A safetensors checkpoint, single-file or sharded, with tensors looked up by name.
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    /// Where a tensor lives: the open shard and the tensor's description in it.
    public struct Location: Sendable {
        public let file: SafeTensorsFile
        public let info: SafeTensorInfo
    }

    public static let indexFileName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    /// The path given to `init` (a directory, an index file or a safetensors file).
    public let path: String
    /// The open files, sorted by path.
    public let files: [SafeTensorsFile]
    /// All tensor names, sorted.
    public let tensorNames: [String]
    private let locations: [String: Location]

    /// Opens a directory (preferring `model.safetensors.index.json`, else `model.safetensors`),
    /// an index file, or a single safetensors file. Every shard the index names is opened and
    /// must hold the tensors the index assigns to it.
    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFormatsError.io(file: path, detail: "no such file or directory")
        }
        let url = URL(fileURLWithPath: path)
        let indexURL: URL?
        let singleURL: URL
        if isDirectory.boolValue {
            let index = url.appendingPathComponent(Self.indexFileName)
            indexURL = FileManager.default.fileExists(atPath: index.path) ? index : nil
            singleURL = url.appendingPathComponent(Self.singleFileName)
            if indexURL == nil, !FileManager.default.fileExists(atPath: singleURL.path) {
                throw ModelFormatsError.io(file: path, detail: "directory has neither \(Self.indexFileName) nor \(Self.singleFileName)")
            }
        } else {
            indexURL = path.hasSuffix(".index.json") ? url : nil
            singleURL = url
        }

        var locations: [String: Location] = [:]
        if let indexURL {
            let weightMap = try Self.readWeightMap(indexURL)
            var shards: [String: SafeTensorsFile] = [:]
            for (tensor, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
                let file = try shards[shard] ?? Self.openShard(shard, for: tensor, index: indexURL)
                shards[shard] = file
                guard let info = file.tensor(named: tensor) else {
                    throw ModelFormatsError.malformed(file: indexURL.path, detail: "weight_map puts tensor '\(tensor)' in shard '\(shard)', which has no such tensor")
                }
                locations[tensor] = Location(file: file, info: info)
            }
            files = shards.values.sorted { $0.path < $1.path }
        } else {
            let file = try SafeTensorsFile(path: singleURL.path)
            for info in file.tensors { locations[info.name] = Location(file: file, info: info) }
            files = [file]
        }
        self.locations = locations
        tensorNames = locations.keys.sorted()
    }

    /// Where `name` is stored, if anywhere.
    public func tensor(named name: String) -> Location? { locations[name] }

    /// The raw bytes of `name` (a slice of its shard's mapping).
    public func data(named name: String) throws -> UnsafeRawBufferPointer {
        let location = try require(name)
        return location.file.data(for: location.info)
    }

    /// The values of `name` as Float (F32, F16, BF16 or F64 on disk).
    public func floats(named name: String) throws -> [Float] {
        let location = try require(name)
        return try location.file.floats(for: location.info)
    }

    private func require(_ name: String) throws -> Location {
        guard let location = locations[name] else { throw ModelFormatsError.missingTensor(file: path, name: name) }
        return location
    }

    private static func readWeightMap(_ index: URL) throws -> [String: String] {
        let data: Data
        do {
            data = try Data(contentsOf: index)
        } catch {
            throw ModelFormatsError.io(file: index.path, detail: "cannot read: \(error.localizedDescription)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFormatsError.malformed(file: index.path, detail: "not a JSON object")
        }
        guard let map = root["weight_map"] as? [String: String] else {
            throw ModelFormatsError.malformed(file: index.path, detail: "missing 'weight_map' object of tensor name → shard file name")
        }
        return map
    }

    private static func openShard(_ shard: String, for tensor: String, index: URL) throws -> SafeTensorsFile {
        // Shards are siblings of the index; refuse names that would reach elsewhere.
        guard !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
            throw ModelFormatsError.malformed(file: index.path, detail: "weight_map names shard '\(shard)' for tensor '\(tensor)'; shard names must be plain file names")
        }
        let shardPath = index.deletingLastPathComponent().appendingPathComponent(shard).path
        guard FileManager.default.fileExists(atPath: shardPath) else {
            throw ModelFormatsError.io(file: shardPath, detail: "shard named by \(index.lastPathComponent) (for tensor '\(tensor)') is missing")
        }
        return try SafeTensorsFile(path: shardPath)
    }
}
