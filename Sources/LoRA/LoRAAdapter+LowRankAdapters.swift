// LoRAAdapter as the model's `LowRankAdapters`: the training forward/backward in LlamaModel sees
// each target's factors as raw pointers, with PEFT's scaling (as Float, as PyTorch multiplies an
// fp32 tensor by the Python float) and `lora_dropout`.
// The witness is `@_disfavoredOverload` because `LoRAAdapter.factors(layer:module:)` already
// returns `LoRAFactors?`: without it every existing call without a type context would become
// ambiguous.
// Legend: r = rank, in/out = the wrapped linear's features (this adapter holds whole tensors,
// i.e. a tensor-parallel group of one).

import LlamaModel

extension LoRAAdapter: LowRankAdapters {
    /// The factors of `module` in `layer` as pointers, or nil when it is not targeted.
    @_disfavoredOverload
    public func factors(layer: Int, module: LinearModule) -> LowRankFactors? {
        guard let f: LoRAFactors = factors(layer: layer, module: module) else { return nil }
        return LowRankFactors(a: f.a.pointer, b: f.b.pointer, gradA: f.gradA.pointer, gradB: f.gradB.pointer,
                              rank: rank, scaling: Float(scaling), dropout: Float(config.loraDropout))
    }
}
