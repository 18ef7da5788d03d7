// Export of a loaded model as a Hugging Face directory that transformers loads with
// `AutoModelForCausalLM.from_pretrained(dir)`: config.json, model.safetensors, tokenizer.json,
// tokenizer_config.json and generation_config.json.
// Weights are written in HF layout ([out, in], q/k already un-permuted by FrozenMatrix), so an
// F32 export holds exactly the values Tessera computes with.
// Legend: C = hidden, F = intermediate, V = vocab, H·D = query width, G·D = key/value width.

import LlamaModel
import Foundation
import Kernels
import ModelFormats
import Tokenization

/// Element type of the exported `model.safetensors`.
public enum HFExportDType: String, Sendable, CaseIterable {
    case f32, f16, bf16

    /// The safetensors dtype written.
    public var safeTensorsDType: SafeTensorsDType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    /// `torch_dtype` in config.json.
    public var torchName: String {
        switch self {
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        }
    }
}

/// One file an export wrote.
public struct HFExportedFile: Sendable, Equatable {
    /// Full path of the file.
    public var path: String
    /// Size in bytes.
    public var bytes: Int
}

/// The names of the files an export writes, in the order they are written.
public enum HFExportFiles {
    public static let config = "config.json"
    public static let weights = "model.safetensors"
    public static let tokenizer = "tokenizer.json"
    public static let tokenizerConfig = "tokenizer_config.json"
    public static let generationConfig = "generation_config.json"
}

/// Writes `model` and `tokenizer` as a Hugging Face model directory.
///
/// The directory is created (with its parents) when missing. An existing non-empty directory is
/// refused unless `overwrite` is true, in which case the five files are replaced and anything
/// else in it is left alone. Every file is written atomically.
///
/// Memory: `SafeTensorsWriter` holds every converted tensor until it writes, so the peak is the
/// size of `model.safetensors` (about 540 MB for a 135M model in F32) plus one dequantized tensor.
///
/// `tokenizerFiles` (from `ModelPath.ownTokenizerFiles()`): a Hugging Face source's tokenizer
/// files, copied instead of writing `tokenizer.json` and `tokenizer_config.json` from `tokenizer`.
///
/// - Returns: the files written, with their sizes.
/// - Throws: `ModelFormatsError.io` naming the path for file-system problems;
///   `LlamaModelError.invalidWeights` for a model config.json cannot describe (GGUF
///   `rope_freqs.weight` without `rope_scaling`).
@discardableResult
public func exportHuggingFace(model: Llama, tokenizer: TokenizerDefinition, to directory: String,
                              dtype: HFExportDType = .f32, overwrite: Bool = false,
                              tokenizerFiles: [String: Data]? = nil) throws -> [HFExportedFile] {
    let config = model.config
    if model.weights.ropeFrequencyFactors != nil && config.ropeScaling == nil {
        // Llama 3.1 GGUFs bake the scaling into rope_freqs.weight; config.json can only say
        // rope_scaling, and deriving its parameters from the divisors is not implemented.
        throw LlamaModelError.invalidWeights(
            "the model carries rope_freqs.weight (GGUF RoPE frequency factors) but no rope_scaling; config.json cannot express it, so \(directory) was not written")
    }
    try prepareExportDirectory(directory, overwrite: overwrite)

    var written: [HFExportedFile] = []
    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    func writeJSON(_ data: Data, _ name: String) throws {
        let target = path(name)
        do { try data.write(to: URL(fileURLWithPath: target), options: .atomic) } catch {
            throw ModelFormatsError.io(file: target, detail: "cannot write: \(error.localizedDescription)")
        }
        written.append(HFExportedFile(path: target, bytes: data.count))
    }

    try writeJSON(config.huggingFaceConfigJSON(torchDType: dtype.torchName, padTokenID: tokenizer.padTokenID),
                  HFExportFiles.config)
    let weightsPath = path(HFExportFiles.weights)
    try huggingFaceSafeTensors(model: model, dtype: dtype).write(to: weightsPath)
    written.append(HFExportedFile(path: weightsPath, bytes: try fileSize(weightsPath)))
    if let tokenizerFiles {
        // A Hugging Face source's own tokenizer files, byte for byte (SentencePiece tokenizers
        // included, which Tessera does not write itself).
        for name in tokenizerFiles.keys.sorted() { try writeJSON(tokenizerFiles[name]!, name) }
    } else {
        try writeJSON(tokenizer.tokenizerJSON(), HFExportFiles.tokenizer)
        try writeJSON(tokenizer.tokenizerConfigJSON(modelMaxLength: config.maxPositionEmbeddings), HFExportFiles.tokenizerConfig)
    }
    try writeJSON(generationConfigJSON(config: config, tokenizer: tokenizer), HFExportFiles.generationConfig)
    return written
}

/// All weights of `model` under their Hugging Face names, converted to `dtype`. Each tensor is
/// dequantized on its own, so only one F32 copy exists at a time besides the writer's bytes.
public func huggingFaceSafeTensors(model: Llama, dtype: HFExportDType) throws -> SafeTensorsWriter {
    let config = model.config
    let weights = model.weights
    // transformers refuses safetensors files without format "pt".
    var writer = SafeTensorsWriter(metadata: ["format": "pt"])
    let names = config.architecture.tensorNames
    func matrix(_ role: Architecture.TensorRole, _ layer: Int?, _ m: FrozenMatrix) throws {
        try writer.add(name: names.name(role, layer: layer, format: .huggingFace), shape: [m.rows, m.columns],
                       floats: try m.dequantized(), as: dtype.safeTensorsDType)
    }
    // Gemma's files store w of a norm applied as 1 + w (held as 1 + w: LlamaWeights+Load).
    let normOffset = config.architecture.normWeightOffset(format: .huggingFace)
    func vector(_ role: Architecture.TensorRole, _ layer: Int?, _ v: FloatBuffer) throws {
        let values = role.isNorm && normOffset != 0 ? v.array.map { $0 - normOffset } : v.array
        try writer.add(name: names.name(role, layer: layer, format: .huggingFace), shape: [v.count], floats: values,
                       as: dtype.safeTensorsDType)
    }

    /// Fused families (Phi-3): the parts' rows stacked under the fused name.
    func fused(_ role: Architecture.TensorRole, _ layer: Int, _ parts: [FrozenMatrix]) throws {
        var values: [Float] = []
        for m in parts { values += try m.dequantized() }
        try writer.add(name: names.name(role, layer: layer, format: .huggingFace),
                       shape: [parts.reduce(0) { $0 + $1.rows }, parts[0].columns], floats: values, as: dtype.safeTensorsDType)
    }
    let fusedProjections = config.architecture.fusedProjections

    try matrix(.embedding, nil, weights.embedding)                       // [V, C]
    for (l, layer) in weights.layers.enumerated() {
        try vector(.attentionNorm, l, layer.attentionNorm)               // [C]
        if fusedProjections {
            try fused(.qkv, l, [layer.q, layer.k, layer.v])              // [(H + 2G)·D, C]
        } else {
            try matrix(.q, l, layer.q)                                   // [H·D, C]
            try matrix(.k, l, layer.k)                                   // [G·D, C]
            try matrix(.v, l, layer.v)                                   // [G·D, C]
        }
        try matrix(.o, l, layer.o)                                       // [C, H·D]
        if let b = layer.qBias { try vector(.qBias, l, b) }              // [H·D]
        if let b = layer.kBias { try vector(.kBias, l, b) }              // [G·D]
        if let b = layer.vBias { try vector(.vBias, l, b) }              // [G·D]
        if let w = layer.qNorm { try vector(.qNorm, l, w) }              // [D]
        if let w = layer.kNorm { try vector(.kNorm, l, w) }              // [D]
        if let w = layer.postAttentionNorm { try vector(.postAttentionNorm, l, w) } // [C]
        try vector(.ffnNorm, l, layer.ffnNorm)                           // [C]
        if let w = layer.postFFNNorm { try vector(.postFFNNorm, l, w) }  // [C]
        if fusedProjections {
            try fused(.gateUp, l, [layer.gate, layer.up])                // [2F, C]
        } else {
            try matrix(.gate, l, layer.gate)                             // [F, C]
            try matrix(.up, l, layer.up)                                 // [F, C]
        }
        try matrix(.down, l, layer.down)                                 // [C, F]
    }
    try vector(.outputNorm, nil, weights.outputNorm)                     // [C]
    // Tied models have no lm_head.weight: transformers ties it to the embedding on load.
    if !config.tieWordEmbeddings { try matrix(.output, nil, weights.output) } // [V, C]
    return writer
}

/// `generation_config.json`: the special ids transformers' `generate` uses.
func generationConfigJSON(config: LlamaConfig, tokenizer: TokenizerDefinition) throws -> Data {
    var object: [String: Any] = ["_from_model_config": true]
    if let bos = config.bosTokenId ?? tokenizer.bosTokenID { object["bos_token_id"] = bos }
    if config.eosTokenIds.count > 1 { object["eos_token_id"] = config.eosTokenIds }
    else if let eos = config.eosTokenIds.first ?? tokenizer.eosTokenID { object["eos_token_id"] = eos }
    if let pad = tokenizer.padTokenID { object["pad_token_id"] = pad }
    return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
}

/// Creates `directory` when missing; refuses a file there, or a non-empty directory unless
/// `overwrite`.
private func prepareExportDirectory(_ directory: String, overwrite: Bool) throws {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else {
            throw ModelFormatsError.io(file: directory, detail: "exists and is not a directory; choose another --out path")
        }
        let contents: [String]
        do { contents = try manager.contentsOfDirectory(atPath: directory) } catch {
            throw ModelFormatsError.io(file: directory, detail: "cannot list the directory: \(error.localizedDescription)")
        }
        guard contents.isEmpty || overwrite else {
            throw ModelFormatsError.io(file: directory, detail: "directory is not empty (\(contents.count) entries); pass overwrite (--overwrite) to replace the exported files")
        }
        // A stale sharded index would sit next to the new single file and confuse loaders.
        if contents.contains("model.safetensors.index.json") {
            throw ModelFormatsError.io(file: directory, detail: "holds model.safetensors.index.json from a sharded checkpoint; remove it (and its shards) or choose another directory")
        }
    } else {
        do { try manager.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ModelFormatsError.io(file: directory, detail: "cannot create the directory: \(error.localizedDescription)")
        }
    }
}

private func fileSize(_ path: String) throws -> Int {
    do {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.intValue ?? 0
    } catch {
        throw ModelFormatsError.io(file: path, detail: "cannot read the size of the written file: \(error.localizedDescription)")
    }
}
