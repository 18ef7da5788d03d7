// Opening a model from a GGUF file.

import ModelFormats

extension Llama {
    /// Opens a GGUF file (llama or qwen2 architecture), reads the config from its metadata and
    /// maps its weights without copying them.
    public static func load(gguf path: String, maxPositions: Int? = nil) throws -> Llama {
        let file = try GGUFFile(path: path)
        let config = try LlamaConfig(gguf: file)
        // llama.cpp permutes q/k rows only for the llama architecture (qwen2 uses NEOX RoPE).
        let weights = try LlamaWeights(source: file, config: config,
                                       naming: .gguf(permutedQK: config.modelType == "llama"))
        return try Llama(config: config, weights: weights, maxPositions: maxPositions)
    }
}
