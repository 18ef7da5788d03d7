// The adapter as a llama.cpp LoRA GGUF (`llama-cli --lora FILE`), laid out as llama.cpp's
// convert_lora_to_gguf.py writes it: `general.type = adapter`, `adapter.type = lora`,
// `adapter.lora.alpha`, and per module `blk.N.<name>.weight.lora_a` (PEFT A [r, in], GGUF
// ne [in, r]) and `.lora_b` (PEFT B [out, r], ne [r, out]), F32.
// For the llama architecture (`Architecture.ggufPermutesQK`) llama.cpp stores attn_q/attn_k rows
// permuted for interleaved RoPE; its converter applies that permutation to the product B·A, which
// moves B's rows and leaves A alone. Tessera keeps HF order internally (docs/architecture.md §7),
// so B of q/k is permuted on write.
// Legend: r = rank, I = in features, O = out features.

import Foundation
import LlamaModel
import ModelFormats

extension LoRAAdapter {
    /// llama.cpp's name of the base tensor a module adapts (`attn_q`, ..., `ffn_down`).
    public static func ggufTensorName(_ module: LinearModule) -> String {
        switch module {
        case .qProj: return "attn_q"
        case .kProj: return "attn_k"
        case .vProj: return "attn_v"
        case .oProj: return "attn_output"
        case .gateProj: return "ffn_gate"
        case .upProj: return "ffn_up"
        case .downProj: return "ffn_down"
        }
    }

    /// The alpha llama.cpp needs: it scales by `alpha / r`, so rsLoRA's `alpha / √r` is
    /// written as `scaling · r`.
    public var ggufAlpha: Float { Float(scaling * Double(rank)) }

    /// The GGUF LoRA file for `model` (the base the adapter was trained on), ready to write.
    ///
    /// Throws `adapterMismatch` when a target does not fit `model` (its head counts decide the
    /// q/k permutation).
    public func ggufWriter(model: LlamaConfig, name: String = "tessera-lora") throws -> GGUFWriter {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string(model.architecture.ggufArchitecture))
        writer.set("general.type", .string("adapter"))
        writer.set("general.name", .string(name))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(ggufAlpha))
        let r = rank
        // One pair per PEFT module: a fused one (Phi-3's attn_qkv, and ffn_up holding gate and
        // up, as llama.cpp stores the base) with its parts' B rows stacked.
        for m in peftModules {
            let t = m.parts[0].target
            for part in m.parts { try checkFits(part.target, model: model) }
            var b = m.parts.flatMap(\.b.array)                              // [O, r]
            if model.architecture.ggufPermutesQK, m.parts.count == 1, let heads = Self.ropeHeads(t.module, model: model) {
                b = ggufPermutedRows(b, rows: t.outFeatures, columns: r, heads: heads)
            }
            let tensor = t.fused.map { $0 == .qkv ? "attn_qkv" : "ffn_up" } ?? Self.ggufTensorName(t.module)
            let base = "blk.\(t.layer).\(tensor).weight"
            do {
                try writer.addTensor(name: base + ".lora_a", type: .f32, dimensions: [m.inFeatures, r],
                                     bytes: m.a.array.withUnsafeBytes { [UInt8]($0) })   // A [r, I]
                try writer.addTensor(name: base + ".lora_b", type: .f32, dimensions: [r, m.outFeatures],
                                     bytes: b.withUnsafeBytes { [UInt8]($0) })           // B [O, r]
            } catch {
                throw LoRAError.adapterMismatch("\(t.fullName): cannot be written as GGUF tensor \(base): \(error)")
            }
        }
        return writer
    }

    /// Writes the adapter as a llama.cpp LoRA GGUF file at `path` (atomically).
    public func saveGGUF(to path: String, model: LlamaConfig, name: String = "tessera-lora") throws {
        let writer = try ggufWriter(model: model, name: name)
        do { try writer.write(to: path) } catch {
            throw LoRAError.io("cannot write \(path): \(error)")
        }
    }

    /// Heads whose rows llama.cpp permutes in `module`'s output: H for q, G for k, nil otherwise.
    static func ropeHeads(_ module: LinearModule, model: LlamaConfig) -> Int? {
        switch module {
        case .qProj: return model.numAttentionHeads
        case .kProj: return model.numKeyValueHeads
        default: return nil
        }
    }

    /// Checks that `target` is a module of `model` with the shape the adapter holds.
    func checkFits(_ target: LoRATarget, model: LlamaConfig) throws {
        let (inFeatures, outFeatures) = target.module.features(in: model)
        guard target.layer < model.numHiddenLayers, target.inFeatures == inFeatures, target.outFeatures == outFeatures else {
            throw LoRAError.adapterMismatch("\(target.fullName) [\(target.outFeatures), \(target.inFeatures)] is not a module of this model (\(model.numHiddenLayers) layers, weight [\(outFeatures), \(inFeatures)])")
        }
    }
}
