// Opening a model from a GGUF file.

import LlamaModel
import ModelFormats

extension Llama {
    /// Opens a GGUF file (a family that reads GGUF: llama or qwen2 architecture), reads the config from its metadata and
    /// maps its weights without copying them.
    public static func load(gguf path: String, maxPositions: Int? = nil) throws -> Llama {
        let file = try GGUFFile(path: path)
        let config = try LlamaConfig(gguf: file)
        // q/k rows are un-permuted where the family says llama.cpp permuted them (§7).
        let weights = try LlamaWeights(source: file, config: config, format: .gguf)
        return try Llama(config: config, weights: weights, maxPositions: maxPositions)
    }
}
