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

    /// The fused matrix this projection's rows are part of in a `fusedProjections` family.
    public var fusedProjection: FusedProjection? {
        switch self {
        case .qProj, .kProj, .vProj: return .qkv
        case .gateProj, .upProj: return .gateUp
        case .oProj, .downProj: return nil
        }
    }

    /// The module the checkpoint and PEFT see: the fused one when `fused` (Phi-3), else this one.
    public func moduleName(fused: Bool) -> String {
        if fused, let f = fusedProjection { return f.rawValue }
        return rawValue
    }

    /// `fullName(layer:)` of the module the checkpoint and PEFT see (the fused one when `fused`).
    public func fullName(layer: Int, fused: Bool) -> String {
        if fused, let f = fusedProjection { return "model.layers.\(layer).\(f.pathInLayer)" }
        return fullName(layer: layer)
    }

    /// The module names a model of `config` has, in PEFT order (for error messages).
    public static func names(in config: LlamaConfig) -> [String] {
        var seen: [String] = []
        for m in allCases where !seen.contains(m.moduleName(fused: config.architecture.fusedProjections)) {
            seen.append(m.moduleName(fused: config.architecture.fusedProjections))
        }
        return seen
    }
}

/// One checkpoint (and PEFT) module holding the rows of several projections, stacked in order:
/// Phi-3's `qkv_proj` (q, k, v) and `gate_up_proj` (gate, up). A LoRA adapter on it has one A
/// and one B whose row ranges are the parts' Bs; Tessera keeps the parts' projections apart
/// and gives them that shared A (docs/architecture.md §7.1).
public enum FusedProjection: String, Sendable, Codable, CaseIterable {
    case qkv = "qkv_proj"
    case gateUp = "gate_up_proj"

    /// The projections whose rows it stacks, in order.
    public var parts: [LinearModule] { self == .qkv ? [.qProj, .kProj, .vProj] : [.gateProj, .upProj] }

    /// The module's path inside a layer.
    public var pathInLayer: String { self == .qkv ? "self_attn.qkv_proj" : "mlp.gate_up_proj" }

    /// Rows of the fused matrix before `part`'s.
    public func rowOffset(of part: LinearModule, in config: LlamaConfig) -> Int {
        var offset = 0
        for p in parts {
            if p == part { return offset }
            offset += p.features(in: config).outFeatures
        }
        return offset
    }
}
