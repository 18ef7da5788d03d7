// What a model path names: a GGUF file, or a Hugging Face directory (config.json,
// model.safetensors or a sharded index, tokenizer.json, tokenizer_config.json).
import LlamaModel
import Foundation
import Kernels
import ModelFormats
import Tokenization

/// A model location on disk, classified.
public enum ModelPath: Sendable, Equatable {
    case gguf(String)
    case huggingFace(directory: String)

    /// Classifies `path`; errors name the path and what was expected there.
    public init(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFormatsError.io(file: path, detail: "no such file or directory (give a .gguf file or a Hugging Face model directory)")
        }
        if isDirectory.boolValue {
            let config = (path as NSString).appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: config) else {
                throw LlamaModelError.invalidConfig("\(path): directory has no config.json (expected a Hugging Face model directory)")
            }
            self = .huggingFace(directory: path)
        } else {
            self = .gguf(path)
        }
    }

    /// The path as given.
    public var path: String {
        switch self {
        case .gguf(let path): return path
        case .huggingFace(let directory): return directory
        }
    }

    /// The tokenizer this model ships: GGUF `tokenizer.ggml.*` metadata, or `tokenizer.json`
    /// (plus `tokenizer_config.json` for special tokens and the chat template).
    public func tokenizerDefinition() throws -> TokenizerDefinition {
        switch self {
        case .gguf(let path):
            return try TokenizerDefinition(gguf: GGUFFile(path: path))
        case .huggingFace(let directory):
            let base = URL(fileURLWithPath: directory)
            let tokenizerURL = base.appendingPathComponent("tokenizer.json")
            guard let data = try? Data(contentsOf: tokenizerURL) else {
                throw LlamaModelError.invalidConfig("\(tokenizerURL.path): cannot read the tokenizer")
            }
            let configData = try? Data(contentsOf: base.appendingPathComponent("tokenizer_config.json"))
            var definition = try TokenizerDefinition.fromTokenizerJSON(data: data, tokenizerConfig: configData)
            // transformers 4.47+ saves the template beside the config, as chat_template.jinja.
            if let template = try? String(contentsOf: base.appendingPathComponent("chat_template.jinja"), encoding: .utf8) {
                definition.chatTemplate = template
            }
            return definition
        }
    }
}

extension ModelPath {
    /// The tokenizer files of a Hugging Face directory (`tokenizer.json`, `tokenizer_config.json`,
    /// `special_tokens_map.json`, `chat_template.jinja`, those present), for an export to copy
    /// unchanged; nil for a GGUF file.
    public func ownTokenizerFiles() -> [String: Data]? {
        guard case .huggingFace(let directory) = self else { return nil }
        var files: [String: Data] = [:]
        for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"] {
            if let data = try? Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name)) { files[name] = data }
        }
        return files["tokenizer.json"] == nil ? nil : files
    }

    /// Opens the model for running: config, mapped weights in their stored formats and RoPE
    /// tables. Export and exact comparisons use this; training and commands pass a
    /// `baseQuantization`.
    public func load(maxPositions: Int? = nil) throws -> Llama {
        switch self {
        case .gguf(let path): return try Llama.load(gguf: path, maxPositions: maxPositions)
        case .huggingFace(let directory): return try Llama.load(huggingFaceDirectory: directory, maxPositions: maxPositions)
        }
    }

    /// Opens the model with the seven linear weights of every layer held as `baseQuantization`
    /// (QLoRA's NF4 with double quantization is `.default`); embedding, head and norms stay as
    /// stored. Conversion runs on up to `threads` threads.
    public func load(maxPositions: Int? = nil, baseQuantization: BaseQuantization,
                     threads: Int = BLAS.threadCount) throws -> Llama {
        let stored = try load(maxPositions: maxPositions)
        let weights = try stored.weights.quantizedBase(baseQuantization, threads: threads)
        ProcessMemory.releaseFreedHeap()
        return try Llama(config: stored.config, weights: weights, maxPositions: stored.maxPositions)
    }
}
