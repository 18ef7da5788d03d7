// Folding an adapter into the frozen weights: W' = W + scaling · B·A for every adapted module
// (PEFT's merge_and_unload). The merged matrices are held in fp32 — an NF4 weight plus a LoRA
// delta is no longer NF4 — and every other weight is shared with the original model. Used for
// generation with an adapter and for merged exports.
// Legend: O = out features, I = in features, r = rank.

import Kernels
import LlamaModel

extension LoRAAdapter {
    /// The weights with every targeted linear replaced by its merged fp32 matrix.
    public func merged(into weights: LlamaWeights) throws -> LlamaWeights {
        var result = weights
        let r = rank
        let scale = Float(scaling)
        for f in factors {
            let t = f.target
            guard t.layer < result.layers.count else {
                throw LoRAError.adapterMismatch("\(t.fullName): the model has \(result.layers.count) layers")
            }
            let base = result.layers[t.layer].matrix(t.module)
            guard base.rows == t.outFeatures, base.columns == t.inFeatures else {
                throw LoRAError.adapterMismatch("\(t.fullName): the base weight is [\(base.rows), \(base.columns)], the adapter expects [\(t.outFeatures), \(t.inFeatures)]")
            }
            var values = try base.dequantized()                       // [O, I]
            values.withUnsafeMutableBufferPointer { w in
                // W [O, I] += scale · B [O, r] · A [r, I]
                sgemm(.none, .none, m: t.outFeatures, n: t.inFeatures, k: r, alpha: scale,
                      a: f.b.pointer, b: f.a.pointer, beta: 1, c: w.baseAddress!)
            }
            let merged = try FrozenMatrix(name: base.name, rows: base.rows, columns: base.columns, values: values)
            result.layers[t.layer].setMatrix(t.module, merged)
        }
        return result
    }
}

extension LlamaLayerWeights {
    /// The frozen weight of `module`.
    public func matrix(_ module: LinearModule) -> FrozenMatrix {
        switch module {
        case .qProj: return q
        case .kProj: return k
        case .vProj: return v
        case .oProj: return o
        case .gateProj: return gate
        case .upProj: return up
        case .downProj: return down
        }
    }

    /// Replaces the frozen weight of `module`.
    public mutating func setMatrix(_ module: LinearModule, _ matrix: FrozenMatrix) {
        switch module {
        case .qProj: q = matrix
        case .kProj: k = matrix
        case .vProj: v = matrix
        case .oProj: o = matrix
        case .gateProj: gate = matrix
        case .upProj: up = matrix
        case .downProj: down = matrix
        }
    }
}
