// One wrapped linear module: where it sits, its shape, and the PEFT names of its two factors.

import LlamaModel

/// A linear module that carries a LoRA adapter: `A [r, in]`, `B [out, r]`.
public struct LoRATarget: Sendable, Equatable, Hashable {
    /// Decoder layer index.
    public let layer: Int
    /// Which projection of the layer.
    public let module: LinearModule
    /// Input width of the base weight.
    public let inFeatures: Int
    /// Output width of the base weight.
    public let outFeatures: Int
    /// The fused module this projection is a part of (Phi-3's `qkv_proj`, `gate_up_proj`), or
    /// nil: then its PEFT tensors are the fused module's, A shared by the parts and B the parts'
    /// rows stacked.
    public let fused: FusedProjection?

    public init(layer: Int, module: LinearModule, inFeatures: Int, outFeatures: Int, fused: FusedProjection? = nil) {
        self.layer = layer
        self.module = module
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.fused = fused
    }

    /// The Hugging Face module name, e.g. `model.layers.0.self_attn.q_proj` (of the fused
    /// module for a part: `model.layers.0.self_attn.qkv_proj`).
    public var fullName: String { module.fullName(layer: layer, fused: fused != nil) }

    /// A part of a fused module other than its first: its A is the first part's.
    public var sharesA: Bool { fused.map { $0.parts.first != module } ?? false }

    /// The name of this target's B as a trainable tensor (optimizer state, checkpoints): the
    /// PEFT key, with the part's own name after it for a part of a fused module.
    public var trainableBName: String { fused == nil ? loraBName : "\(loraBName)[\(module.rawValue)]" }

    /// The PEFT safetensors key of `A`, e.g.
    /// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
    public var loraAName: String { "base_model.model.\(fullName).lora_A.weight" }

    /// The PEFT safetensors key of `B`.
    public var loraBName: String { "base_model.model.\(fullName).lora_B.weight" }

    /// Shape of `A` for rank `r`: `[r, in]`.
    public func shapeA(rank r: Int) -> [Int] { [r, inFeatures] }

    /// Shape of `B` for rank `r`: `[out, r]`.
    public func shapeB(rank r: Int) -> [Int] { [outFeatures, r] }

    /// Trainable parameters of this target at rank `r` (a fused part after the first counts its
    /// rows of B only).
    public func parameterCount(rank r: Int) -> Int { r * ((sharesA ? 0 : inFeatures) + outFeatures) }
}
