// The seven linear projections of a Llama decoder layer that LoRA can wrap, with their
// Hugging Face module paths and shapes.
// Legend: C = hidden_size, F = intermediate_size, H = query heads, G = key/value heads,
// D = head dim.

/// A linear projection of a Llama decoder layer, in PEFT's `named_modules` order.
public enum LinearModule: String, CaseIterable, Sendable, Codable, Comparable {
    case qProj = "q_proj"
    case kProj = "k_proj"
    case vProj = "v_proj"
    case oProj = "o_proj"
    case gateProj = "gate_proj"
    case upProj = "up_proj"
    case downProj = "down_proj"

    /// The module's path inside a layer, e.g. `self_attn.q_proj`.
    public var pathInLayer: String {
        switch self {
        case .qProj, .kProj, .vProj, .oProj: return "self_attn.\(rawValue)"
        case .gateProj, .upProj, .downProj: return "mlp.\(rawValue)"
        }
    }

    /// The full module name PEFT matches against, e.g. `model.layers.3.self_attn.q_proj`.
    public func fullName(layer: Int) -> String { "model.layers.\(layer).\(pathInLayer)" }

    /// `(in, out)` features of the base weight `[out, in]` for `config`.
    public func features(in config: LlamaConfig) -> (inFeatures: Int, outFeatures: Int) {
        switch self {
        case .qProj: return (config.hiddenSize, config.queryWidth)            // C → H·D
        case .kProj, .vProj: return (config.hiddenSize, config.keyValueWidth) // C → G·D
        case .oProj: return (config.queryWidth, config.hiddenSize)            // H·D → C
        case .gateProj, .upProj: return (config.hiddenSize, config.intermediateSize) // C → F
        case .downProj: return (config.intermediateSize, config.hiddenSize)   // F → C
        }
    }

    /// Position in a layer's module order (q, k, v, o, gate, up, down).
    public var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: LinearModule, rhs: LinearModule) -> Bool { lhs.order < rhs.order }

    /// The accepted names, for error messages.
    public static var namesList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
