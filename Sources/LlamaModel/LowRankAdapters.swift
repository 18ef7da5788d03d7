// How the training forward/backward finds the trainable low-rank factors of a linear layer,
// without LlamaModel depending on the LoRA module (LoRA depends on LlamaModel and conforms).
// Shapes are this rank's slice (docs/architecture.md §5.2): column-parallel modules keep A whole
// and B sliced by output rows; row-parallel ones slice A by input columns and keep B whole.
// Legend: r = rank, I = local in features, O = local out features.

import Kernels

/// The factors of one adapted linear layer on this rank.
public struct LowRankFactors: @unchecked Sendable {
    /// `[r, I]`.
    public let a: UnsafeMutablePointer<Float>
    /// `[O, r]`.
    public let b: UnsafeMutablePointer<Float>
    /// `[r, I]`, accumulated (+=) by the backward.
    public let gradA: UnsafeMutablePointer<Float>
    /// `[O, r]`, accumulated (+=) by the backward.
    public let gradB: UnsafeMutablePointer<Float>
    public let rank: Int
    /// `lora_alpha / r` (or `/ sqrt(r)` with rsLoRA).
    public let scaling: Float
    /// Dropout probability on the layer input (0: none).
    public let dropout: Float

    public init(a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, gradA: UnsafeMutablePointer<Float>,
                gradB: UnsafeMutablePointer<Float>, rank: Int, scaling: Float, dropout: Float) {
        self.a = a
        self.b = b
        self.gradA = gradA
        self.gradB = gradB
        self.rank = rank
        self.scaling = scaling
        self.dropout = dropout
    }
}

/// A set of adapters over the model's linear layers.
public protocol LowRankAdapters: AnyObject {
    /// The factors for `module` of `layer`, or nil when that layer is not adapted.
    func factors(layer: Int, module: LinearModule) -> LowRankFactors?
}
