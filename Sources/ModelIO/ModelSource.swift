// What a `--model` argument names, resolved once for `info`, `plan` and `bench train`: weights on
// disk (a GGUF file or a Hugging Face directory with safetensors), a shape without weights (an
// HF `config.json`, or a directory that holds only one), or a preset (ModelPreset.swift). A path
// that exists wins over a preset of the same name. Shapes without weights load as seeded random
// weights (LlamaWeights+Random.swift), so a model can be measured without downloading it.
import LlamaModel
import Foundation
import Kernels
import ProcessGroups

/// A model given by path or by preset name.
public enum ModelSource: Sendable {
    /// Weights on disk.
    case weights(ModelPath)
    /// A config file (or a directory holding only `config.json`): shapes, no weights.
    case config(path: String, LlamaConfig)
    /// A published shape, no weights.
    case preset(ModelPreset)

    /// Resolves `name`: an existing path first, then a preset name (case-insensitive).
    /// - Throws: `LlamaModelError.unknownModel` listing the presets when `name` is neither.
    public init(_ name: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory) {
            if !isDirectory.boolValue, name.hasSuffix(".json") {
                self = .config(path: name, try LlamaConfig(contentsOf: URL(fileURLWithPath: name)))
                return
            }
            let files = isDirectory.boolValue ? (try? FileManager.default.contentsOfDirectory(atPath: name)) ?? [] : []
            if isDirectory.boolValue, files.contains("config.json"), !files.contains(where: { $0.hasSuffix(".safetensors") }) {
                let file = (name as NSString).appendingPathComponent("config.json")
                self = .config(path: name, try LlamaConfig(contentsOf: URL(fileURLWithPath: file)))
                return
            }
            self = .weights(try ModelPath(name))
            return
        }
        guard let preset = ModelPreset.named(name) else {
            throw LlamaModelError.unknownModel("'\(name)' is neither an existing file or directory nor a preset (\(ModelPreset.names.joined(separator: ", ")))")
        }
        self = .preset(preset)
    }

    /// The name as given, or the preset's name.
    public var name: String {
        switch self {
        case .weights(let path): return path.path
        case .config(let path, _): return path
        case .preset(let preset): return preset.name
        }
    }

    /// True when the source has weights on disk (otherwise loading generates random ones).
    public var hasWeights: Bool {
        if case .weights = self { return true }
        return false
    }

    /// The model's config (read from the file's metadata for weights on disk).
    public func config() throws -> LlamaConfig {
        switch self {
        case .weights: return try summary().config
        case .config(_, let config): return config
        case .preset(let preset): return preset.config
        }
    }

    /// Parameter counts and storage: read from the file, or from the shapes stored as bf16 (how
    /// the presets' checkpoints are published).
    public func summary() throws -> ModelSummary {
        switch self {
        case .weights(let path): return try ModelSummary(path: path)
        case .config(_, let config): return try ModelSummary(config: config)
        case .preset(let preset):
            return try ModelSummary(config: preset.config, bytesPerParameter: preset.embeddingBytesPerParameter)
        }
    }

    /// Bytes per linear weight value as `--base-quant stored` holds them: the file's, or 4 for
    /// random weights (generated in fp32).
    public func linearBytesPerParameter() throws -> Double {
        switch self {
        case .config, .preset: return 4
        case .weights(let path): return try ModelSummary(path: path).linearBytesPerParameter
        }
    }

    /// Stored bytes per embedding/head parameter: measured from the file (everything that is
    /// neither a layer linear nor a norm), the preset's, or nil for a bare config.
    public func embeddingBytesPerParameter() throws -> Double? {
        switch self {
        case .config: return nil
        case .preset(let preset): return preset.embeddingBytesPerParameter
        case .weights(let path):
            let summary = try ModelSummary(path: path)
            let c = summary.config
            let norms = (2 * c.numHiddenLayers + 1) * c.hiddenSize * 4
            let tableParameters = (c.tieWordEmbeddings ? 1 : 2) * c.vocabSize * c.hiddenSize
            return Double(summary.storedBytes - summary.linearStoredBytes - norms) / Double(tableParameters)
        }
    }

    /// The alignment of the FFN shard bounds (`ShardPlanner.plan(columnAlignment:)`), one rule for
    /// every command: a multiple of 64 (NF4 blocks) and of the largest stored block of the down
    /// projections, whose column slices are cut from the file's rows (256 for K-quants). Reads
    /// only the file's tensor table; 64 for random weights.
    public func shardColumnAlignment() throws -> Int {
        guard case .weights(let path) = self else { return 64 }
        let stored = try path.load()
        let block = stored.weights.layers.map { $0.down.type?.blockElements ?? 1 }.max() ?? 1
        return block % 64 == 0 ? block : (64 % block == 0 ? 64 : 64 * block)
    }

    /// This rank's slice of the model with the seven linears of every layer held as
    /// `baseQuantization`: the file's weights, or random ones generated slice by slice
    /// (`LlamaWeights.random`, seeded by `seed`). Every rank of `group` must call this together.
    public func load(maxPositions: Int? = nil, baseQuantization: BaseQuantization, shard: LlamaShard,
                     group: ProcessGroup, seed: UInt64 = 0, threads: Int = BLAS.threadCount) throws -> Llama {
        switch self {
        case .weights(let path):
            return try path.load(maxPositions: maxPositions, baseQuantization: baseQuantization, shard: shard,
                                 group: group, threads: threads)
        case .config, .preset:
            let config = try config()
            let weights = try LlamaWeights.random(config: config, shard: shard, target: baseQuantization,
                                                  group: group, seed: seed, threads: threads)
            ProcessMemory.releaseFreedHeap()
            return try Llama(config: config, weights: weights, maxPositions: maxPositions)
        }
    }
}
