// Export of a loaded model as a llama.cpp GGUF file: `general.architecture` with the
// `<arch>.*` hyper-parameters, the tokenizer metadata (copied from a source GGUF or rebuilt from
// a TokenizerDefinition) and every tensor under its llama.cpp name. Matrices are F16 (or F32 /
// BF16), or quantized in one of llama.cpp's mixes (GGUFQuantization.swift); norms, biases and
// rope_freqs F32. q/k rows are permuted back to llama.cpp's interleaved
// RoPE order where the family's `ggufPermutesQK` says so (docs/architecture.md §7), so
// `Llama.load(gguf:)` un-permutes them to exactly the values exported.
// Legend: C = hidden, F = intermediate, V = vocab, H·D = query width, G·D = key/value width.

import LlamaModel
import Foundation
import Kernels
import ModelFormats
import Quantization
import Tokenization

/// Element type of the exported GGUF matrices.
public enum GGUFExportDType: String, Sendable, CaseIterable {
    case f32, f16, bf16

    /// The GGML type of the matrices.
    public var ggmlType: GGMLType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_ALL_F32`, `MOSTLY_F16`, `MOSTLY_BF16`).
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .bf16: return 32
        }
    }
}

/// The `tokenizer.*` metadata a GGUF export carries, in write order.
public struct GGUFTokenizerMetadata: Sendable {
    /// Keys and values, written in this order.
    public var entries: [(key: String, value: GGUFValue)]

    /// Every `tokenizer.*` key of `file`, verbatim and in file order (vocabulary, merges, token
    /// types, special ids, chat template).
    public init(copying file: GGUFFile) {
        entries = file.metadataKeys.compactMap { key in
            guard key.hasPrefix("tokenizer."), let value = file.metadata[key] else { return nil }
            return (key, value)
        }
    }

    /// The metadata llama.cpp's converter writes for a byte-level BPE (`gpt2`) tokenizer, or for a
    /// SentencePiece (`llama`) one: scores (from `tokenizer.scores`, else from the merge ranks:
    /// the piece the first merge makes scores highest), token types and `add_space_prefix`.
    public init(_ tokenizer: TokenizerDefinition) {
        if let sentencePiece = tokenizer.sentencePiece {
            entries = Self.sentencePieceEntries(tokenizer, sentencePiece)
            return
        }
        var entries: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(tokenizer.preTokenizer.ggufName)),
            ("tokenizer.ggml.tokens", .array(tokenizer.tokens.map(GGUFValue.string))),
        ]
        if let types = tokenizer.tokenTypes {
            entries.append(("tokenizer.ggml.token_type", .array(types.map { .int32(Int32(clamping: $0)) })))
        }
        entries.append(("tokenizer.ggml.merges", .array(tokenizer.merges.map(GGUFValue.string))))
        let ids: [(String, Int?)] = [("bos_token_id", tokenizer.bosTokenID), ("eos_token_id", tokenizer.eosTokenID),
                                     ("unknown_token_id", tokenizer.unknownTokenID),
                                     ("padding_token_id", tokenizer.padTokenID)]
        for case let (name, id?) in ids where id >= 0 {
            entries.append(("tokenizer.ggml.\(name)", .uint32(UInt32(clamping: id))))
        }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(tokenizer.addBOS)))
        if let template = tokenizer.chatTemplate { entries.append(("tokenizer.chat_template", .string(template))) }
        self.entries = entries
    }
}

extension GGUFTokenizerMetadata {
    private static func sentencePieceEntries(
        _ tokenizer: TokenizerDefinition, _ options: SentencePieceOptions
    ) -> [(key: String, value: GGUFValue)] {
        var entries: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.pre", .string("default")),
            ("tokenizer.ggml.tokens", .array(tokenizer.tokens.map(GGUFValue.string))),
            ("tokenizer.ggml.scores", .array(Self.scores(tokenizer).map(GGUFValue.float32))),
        ]
        if let types = tokenizer.tokenTypes {
            entries.append(("tokenizer.ggml.token_type", .array(types.map { .int32(Int32(clamping: $0)) })))
        }
        let ids: [(String, Int?)] = [("bos_token_id", tokenizer.bosTokenID), ("eos_token_id", tokenizer.eosTokenID),
                                     ("unknown_token_id", tokenizer.unknownTokenID),
                                     ("padding_token_id", tokenizer.padTokenID)]
        for case let (name, id?) in ids where id >= 0 {
            entries.append(("tokenizer.ggml.\(name)", .uint32(UInt32(clamping: id))))
        }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(tokenizer.addBOS)))
        entries.append(("tokenizer.ggml.add_space_prefix", .bool(options.spacePrefix != .never)))
        if let template = tokenizer.chatTemplate { entries.append(("tokenizer.chat_template", .string(template))) }
        return entries
    }

    /// SentencePiece scores: the definition's own, or -(rank + 1) of the first merge that makes
    /// each piece (pieces no merge makes score -(merges + 1)), which merges in the same order.
    private static func scores(_ tokenizer: TokenizerDefinition) -> [Float] {
        if let scores = tokenizer.scores, scores.count == tokenizer.tokens.count { return scores }
        var ids: [String: Int] = [:]
        for (id, token) in tokenizer.tokens.enumerated() where ids[token] == nil { ids[token] = id }
        var scores = [Float](repeating: -Float(tokenizer.merges.count + 1), count: tokenizer.tokens.count)
        var scored = Set<Int>()
        for (rank, line) in tokenizer.merges.enumerated() {
            guard let id = ids[line.replacingOccurrences(of: " ", with: "")], scored.insert(id).inserted else { continue }
            scores[id] = -Float(rank + 1)
        }
        return scores
    }
}

extension PreTokenizer {
    /// The `tokenizer.ggml.pre` value llama.cpp uses for this pre-tokenizer.
    public var ggufName: String {
        switch self {
        case .gpt2: return "gpt-2"   // llama.cpp's name; it refuses "gpt2" ("unknown pre-tokenizer type")
        case .smollm: return "smollm"
        case .llama3: return "llama-bpe"
        case .qwen2: return "qwen2"
        case .gpt4o: return "gpt-4o"
        }
    }
}

/// Writes `model` as a GGUF v3 file that llama.cpp (and `Llama.load(gguf:)`) loads.
///
/// An existing file at `path` is refused unless `overwrite`. The file is written atomically.
///
/// Memory: `GGUFWriter` keeps every converted tensor in memory until it writes, so the peak is
/// the size of the file (about 270 MB for a 135M model in F16, 540 MB in F32) plus one
/// dequantized tensor; a streaming writer would be needed for multi-billion-parameter models.
///
/// - Returns: the file written, with its size.
/// - Throws: `ModelFormatsError.io` naming the path for file-system problems;
///   `LlamaModelError.invalidWeights` for shapes GGUF cannot hold.
@discardableResult
public func exportGGUF(model: Llama, tokenizer: GGUFTokenizerMetadata, to path: String,
                       dtype: GGUFExportDType = .f16, quantization: GGUFQuantization? = nil,
                       name: String = "tessera-export", overwrite: Bool = false) throws -> HFExportedFile {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        guard !isDirectory.boolValue else {
            throw ModelFormatsError.io(file: path, detail: "is a directory; give a .gguf file path for --out")
        }
        guard overwrite else {
            throw ModelFormatsError.io(file: path, detail: "exists; pass overwrite (--overwrite) to replace it")
        }
    }
    let writer = try ggufModelWriter(model: model, tokenizer: tokenizer, dtype: dtype,
                                     quantization: quantization, name: name)
    try writer.write(to: path)
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    return HFExportedFile(path: path, bytes: (attributes?[.size] as? NSNumber)?.intValue ?? 0)
}

/// The metadata and tensors of a GGUF export of `model`, ready to write. With `quantization`,
/// the matrices take that mix's types (`dtype` is then unused: rows no block type fits stay F16).
public func ggufModelWriter(model: Llama, tokenizer: GGUFTokenizerMetadata, dtype: GGUFExportDType,
                            quantization: GGUFQuantization? = nil, name: String) throws -> GGUFWriter {
    let config = model.config
    let weights = model.weights
    let arch = config.architecture.ggufArchitecture
    let permutesQK = config.architecture.ggufPermutesQK
    var writer = GGUFWriter()
    writer.set("general.architecture", .string(arch))
    writer.set("general.name", .string(name))
    writer.set("general.file_type", .uint32(quantization?.fileType ?? dtype.fileType))
    // llama.cpp's GGML_QNT_VERSION, written by its quantize tool.
    if quantization != nil { writer.set("general.quantization_version", .uint32(2)) }
    for (key, value) in try ggufHyperParameters(config) { writer.set("\(arch).\(key)", value) }
    for entry in tokenizer.entries { writer.set(entry.key, entry.value) }

    let names = config.architecture.tensorNames
    /// A matrix `[O, I]` as GGUF `ne = [I, O]`; q/k rows permuted when `heads` is given and the
    /// family's GGUF permutes them.
    func matrix(_ role: Architecture.TensorRole, _ layer: Int?, _ m: FrozenMatrix, heads: Int? = nil) throws {
        var values = try m.dequantized()
        if let heads, permutesQK {
            guard heads > 0, m.rows % heads == 0, (m.rows / heads) % 2 == 0 else {
                throw LlamaModelError.invalidWeights("tensor '\(m.name)' [\(m.rows), \(m.columns)]: rows are not \(heads) heads of even size, cannot permute for llama.cpp RoPE")
            }
            values = ggufPermutedRows(values, rows: m.rows, columns: m.columns, heads: heads)
        }
        let type = quantization?.tensorType(role: role, layer: layer, layers: config.numHiddenLayers,
                                            rowLength: m.columns, tiedEmbeddings: config.tieWordEmbeddings)
            ?? dtype.ggmlType
        try writer.addTensor(name: names.name(role, layer: layer, format: .gguf), type: type,
                             dimensions: [m.columns, m.rows], bytes: ggufBytes(values, type))
    }
    /// A vector, always F32 (llama.cpp keeps norms and biases in F32).
    func vector(_ role: Architecture.TensorRole, _ layer: Int?, _ values: [Float]) throws {
        try writer.addTensor(name: names.name(role, layer: layer, format: .gguf), type: .f32,
                             dimensions: [values.count], bytes: try ggufBytes(values, .f32))
    }

    try matrix(.embedding, nil, weights.embedding)                                // [V, C]
    if let factors = try ropeFrequencyFactors(config: config, weights: weights) {
        try vector(.ropeFrequencies, nil, factors)                                // [D/2]
    }
    if let long = config.longRoPE {
        try vector(.ropeFactorsLong, nil, long.longFactor.map(Float.init))       // [R/2]
        try vector(.ropeFactorsShort, nil, long.shortFactor.map(Float.init))     // [R/2]
    }
    /// Fused families (Phi-3): the parts' rows stacked (NEOX RoPE: nothing permuted).
    func fused(_ role: Architecture.TensorRole, _ layer: Int, _ parts: [FrozenMatrix]) throws {
        var values: [Float] = []
        for m in parts { values += try m.dequantized() }
        let rows = parts.reduce(0) { $0 + $1.rows }, columns = parts[0].columns
        let type = quantization?.tensorType(role: role, layer: layer, layers: config.numHiddenLayers,
                                            rowLength: columns, tiedEmbeddings: config.tieWordEmbeddings) ?? dtype.ggmlType
        try writer.addTensor(name: names.name(role, layer: layer, format: .gguf), type: type,
                             dimensions: [columns, rows], bytes: ggufBytes(values, type))
    }
    let fusedProjections = config.architecture.fusedProjections
    for (l, layer) in weights.layers.enumerated() {
        try vector(.attentionNorm, l, layer.attentionNorm.array)                  // [C]
        if fusedProjections {
            try fused(.qkv, l, [layer.q, layer.k, layer.v])                       // [(H + 2G)·D, C]
        } else {
            try matrix(.q, l, layer.q, heads: config.numAttentionHeads)           // [H·D, C]
            try matrix(.k, l, layer.k, heads: config.numKeyValueHeads)            // [G·D, C]
            try matrix(.v, l, layer.v)                                            // [G·D, C]
        }
        try matrix(.o, l, layer.o)                                                // [C, H·D]
        // Biases (qwen2) are never permuted: qwen2 uses NEOX RoPE (ggufPermutesQK false).
        if let b = layer.qBias { try vector(.qBias, l, b.array) }                 // [H·D]
        if let b = layer.kBias { try vector(.kBias, l, b.array) }                 // [G·D]
        if let b = layer.vBias { try vector(.vBias, l, b.array) }                 // [G·D]
        // q/k norms (qwen3, NEOX RoPE: no q/k permutation) are stored as they are.
        if let w = layer.qNorm { try vector(.qNorm, l, w.array) }                 // [D]
        if let w = layer.kNorm { try vector(.kNorm, l, w.array) }                 // [D]
        // Gemma's norms are held as 1 + w, which is what llama.cpp's converter stores.
        if let w = layer.postAttentionNorm { try vector(.postAttentionNorm, l, w.array) } // [C]
        try vector(.ffnNorm, l, layer.ffnNorm.array)                              // [C]
        if let w = layer.postFFNNorm { try vector(.postFFNNorm, l, w.array) }     // [C]
        if fusedProjections {
            try fused(.gateUp, l, [layer.gate, layer.up])                         // [2F, C], llama.cpp's ffn_up
        } else {
            try matrix(.gate, l, layer.gate)                                      // [F, C]
            try matrix(.up, l, layer.up)                                          // [F, C]
        }
        try matrix(.down, l, layer.down)                                          // [C, F]
    }
    try vector(.outputNorm, nil, weights.outputNorm.array)                        // [C]
    // A tied model has no output.weight: llama.cpp then reuses token_embd.
    if !config.tieWordEmbeddings { try matrix(.output, nil, weights.output) }     // [V, C]
    return writer
}

/// The `<arch>.*` keys llama.cpp's converter writes for a Llama-family model. Interleaved
/// families (Gemma 3) can be written only as llama.cpp reads them: every 6th layer global, the
/// sliding layers' RoPE base 10000 and the attention scale 1/√D.
func ggufHyperParameters(_ config: LlamaConfig) throws -> [(String, GGUFValue)] {
    func u32(_ value: Int) -> GGUFValue { .uint32(UInt32(clamping: value)) }
    var keys: [(String, GGUFValue)] = [
        ("context_length", u32(config.maxPositionEmbeddings)),
        ("embedding_length", u32(config.hiddenSize)),
        ("block_count", u32(config.numHiddenLayers)),
        ("feed_forward_length", u32(config.intermediateSize)),
        ("rope.dimension_count", u32(config.rotaryDim)),
        ("attention.head_count", u32(config.numAttentionHeads)),
        ("attention.head_count_kv", u32(config.numKeyValueHeads)),
        ("attention.layer_norm_rms_epsilon", .float32(Float(config.rmsNormEps))),
        ("rope.freq_base", .float32(Float(config.ropeTheta))),
        ("vocab_size", u32(config.vocabSize)),
    ]
    if config.architecture.slidingWindow == .interleaved {
        let llamaCpp = LlamaConfig.ggufInterleavedDefaults(config)
        guard config.slidingLayers == llamaCpp.slidingLayers, config.localRopeTheta == llamaCpp.localRopeTheta,
              config.queryPreAttentionScalar == llamaCpp.queryPreAttentionScalar else {
            throw LlamaModelError.invalidConfig("GGUF (llama.cpp's \(config.architecture.ggufArchitecture)) fixes every 6th layer global, rope_local_base_freq \(llamaCpp.localRopeTheta ?? 0) and query_pre_attn_scalar = head_dim; this model differs (layer_types, rope_local_base_freq \(config.localRopeTheta ?? 0), query_pre_attn_scalar \(config.queryPreAttentionScalar ?? 0)): export it as Hugging Face safetensors")
        }
        if let w = config.slidingWindow { keys.append(("attention.sliding_window", u32(w))) }
    }
    if config.architecture.slidingWindow == .allLayers && config.architecture.fusedProjections {
        // llama.cpp's phi3 reads the window (0: none) and LongRoPE's original context and factor.
        keys.append(("attention.sliding_window", u32(config.slidingWindow ?? 0)))
    }
    if let long = config.longRoPE {
        keys.append(("rope.scaling.attn_factor", .float32(Float(long.attentionScale(maxPositionEmbeddings: config.maxPositionEmbeddings)))))
        keys.append(("rope.scaling.original_context_length", u32(long.originalMaxPositionEmbeddings)))
    }
    if let factor = config.ropeLinearFactor {
        keys.append(("rope.scaling.type", .string("linear")))
        keys.append(("rope.scaling.factor", .float32(Float(factor))))
    }
    // Written only when head_dim is not hidden / heads, as llama.cpp does.
    if config.headDim * config.numAttentionHeads != config.hiddenSize {
        keys.append(("attention.key_length", u32(config.headDim)))
        keys.append(("attention.value_length", u32(config.headDim)))
    }
    return keys
}

/// `rope_freqs.weight` (`[D/2]` divisors of the base frequencies): the model's own when it came
/// from a GGUF, else derived from Llama 3 `rope_scaling` as llama.cpp's converter does (GGUF has
/// no key for it); nil when RoPE is unscaled.
func ropeFrequencyFactors(config: LlamaConfig, weights: LlamaWeights) throws -> [Float]? {
    if let factors = weights.ropeFrequencyFactors { return factors }
    guard let scaling = config.ropeScaling else { return nil }
    let base = RoPETable.inverseFrequencies(headDim: config.headDim, theta: config.ropeTheta, scaling: nil)
    let scaled = RoPETable.inverseFrequencies(headDim: config.headDim, theta: config.ropeTheta, scaling: scaling)
    guard base.count == scaled.count, scaled.allSatisfy({ $0 > 0 }) else {
        throw LlamaModelError.invalidWeights("rope_scaling \(scaling) gives non-positive frequencies; cannot write rope_freqs.weight")
    }
    return zip(base, scaled).map { $0 / $1 }
}

/// Little-endian bytes of `values` as `type`: F32, F16 or BF16 (narrowing rounds to nearest
/// even), or a block type `Quantize` supports (whole blocks per row, checked by the caller).
func ggufBytes(_ values: [Float], _ type: GGMLType) throws -> [UInt8] {
    switch type {
    case _ where Quantize.supportedTypes.contains(type):
        return try Quantize.run(type, values)
    case .f16:
        return values.map(HalfFloat.fromFloat).withUnsafeBytes { [UInt8]($0) }
    case .bf16:
        return values.map(BFloat16.fromFloat).withUnsafeBytes { [UInt8]($0) }
    default:
        precondition(type == .f32, "ggufBytes: unsupported type \(type)")
        return values.withUnsafeBytes { [UInt8]($0) }
    }
}
