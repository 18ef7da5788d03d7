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

    public init(layer: Int, module: LinearModule, inFeatures: Int, outFeatures: Int) {
        self.layer = layer
        self.module = module
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// The Hugging Face module name, e.g. `model.layers.0.self_attn.q_proj`.
    public var fullName: String { module.fullName(layer: layer) }

    /// The PEFT safetensors key of `A`, e.g.
    /// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
    public var loraAName: String { "base_model.model.\(fullName).lora_A.weight" }

    /// The PEFT safetensors key of `B`.
    public var loraBName: String { "base_model.model.\(fullName).lora_B.weight" }

    /// Shape of `A` for rank `r`: `[r, in]`.
    public func shapeA(rank r: Int) -> [Int] { [r, inFeatures] }

    /// Shape of `B` for rank `r`: `[out, r]`.
    public func shapeB(rank r: Int) -> [Int] { [outFeatures, r] }

    /// Trainable parameters of this target at rank `r`.
    public func parameterCount(rank r: Int) -> Int { r * (inFeatures + outFeatures) }
}
