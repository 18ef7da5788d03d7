// llama.cpp's quantization mixes for a GGUF export: which GGML type each 2-D weight gets, as
// `llama_tensor_get_type` (src/llama-quant.cpp) decides for LLAMA_FTYPE_MOSTLY_Q8_0 and
// LLAMA_FTYPE_MOSTLY_Q4_K_M without an importance matrix, for dense Llama-family models:
//   - Q8_0: every 2-D weight Q8_0.
//   - Q4_K_M: Q4_K, except output.weight (and token_embd when the embeddings are tied, since it
//     is then the output too) → Q6_K, or Q8_0 when its rows are not whole 256-blocks;
//     attn_v and ffn_down → Q6_K in the layers `usesMoreBits` picks.
//   - Rows that are not whole blocks of the chosen type fall back as llama.cpp's
//     `tensor_type_fallback` does: Q4_K → Q5_0, Q6_K → Q8_0, and F16 if even that does not fit.
//     SmolLM2-135M (hidden 576 = 2.25 × 256) hits it: every matrix whose rows are 576 long.
// Not modelled (no such models load here): 70B's attn_v bump to Q5_K, MoE and Falcon rules.
// 1-D tensors (norms, biases, rope_freqs) are never quantized and stay F32.

import LlamaModel
import Quantization

/// A llama.cpp quantization mix for `tessera merge --format gguf --quant`.
public enum GGUFQuantization: String, Sendable, CaseIterable {
    case q8_0
    case q4_k_m

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_MOSTLY_Q8_0` = 7, `MOSTLY_Q4_K_M` = 15).
    public var fileType: UInt32 {
        switch self {
        case .q8_0: return 7
        case .q4_k_m: return 15
        }
    }

    /// The type most matrices get (`llama_ftype_get_default_type`).
    public var defaultType: GGMLType {
        switch self {
        case .q8_0: return .q8_0
        case .q4_k_m: return .q4_K
        }
    }

    /// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third
    /// layer in between get the larger type in the _M mixes.
    public static func usesMoreBits(layer: Int, layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    /// The GGML type of a 2-D weight with `rowLength` values per row (GGUF `ne[0]`).
    /// - Parameters:
    ///   - layer: the layer index of per-layer weights (llama.cpp counts attn_v / ffn_down in
    ///     layer order, so its counter equals the layer index for dense models).
    ///   - tiedEmbeddings: the model has no output.weight (token_embd doubles as the output).
    public func tensorType(role: Architecture.TensorRole, layer: Int?, layers: Int, rowLength: Int,
                           tiedEmbeddings: Bool) -> GGMLType {
        var type = defaultType
        switch role {
        case .output, .embedding where tiedEmbeddings:
            if rowLength % type.blockElements != 0 {
                type = .q8_0
            } else if type != .q8_0 {
                type = .q6_K
            }
        case .v, .down:
            if self == .q4_k_m, let layer, Self.usesMoreBits(layer: layer, layers: layers) { type = .q6_K }
        default:
            break
        }
        return Self.fallback(type, rowLength: rowLength)
    }

    /// llama.cpp's `tensor_type_fallback` for rows that are not whole blocks of `type`.
    public static func fallback(_ type: GGMLType, rowLength: Int) -> GGMLType {
        guard rowLength % type.blockElements != 0 else { return type }
        let replacement: GGMLType
        switch type {
        case .q4_K: replacement = .q5_0
        case .q5_K: replacement = .q5_1
        case .q6_K: replacement = .q8_0
        default: replacement = .f16  // llama.cpp refuses; F16 keeps the export possible
        }
        return rowLength % replacement.blockElements == 0 ? replacement : .f16
    }
}
