// The adapter as an mlx-lm LoRA adapter directory (`mlx_lm.generate --adapter-path DIR`):
// `adapters.safetensors` with `model.layers.N.self_attn.q_proj.lora_a` [I, r] and `.lora_b`
// [r, O] — mlx-lm computes `y + scale · (x @ lora_a) @ lora_b`, so its factors are the
// transposes of PEFT's A [r, I] and B [O, r] — and `adapter_config.json` with the fields
// mlx-lm's `load_adapters` reads: `fine_tune_type`, `num_layers` (LoRA goes on the LAST
// num_layers layers) and `lora_parameters {rank, scale, dropout, keys}` (`scale` multiplies
// directly: PEFT's `alpha / r`).
// mlx-lm wraps the same keys in every one of those layers; modules the PEFT adapter does not
// target there get zero factors, which add nothing (as PEFT leaves them untouched).
// Legend: r = rank, I = in features, O = out features.

import Foundation
import LlamaModel
import ModelFormats

extension LoRAAdapter {
    /// File names inside an mlx-lm adapter directory.
    public static let mlxWeightsFileName = "adapters.safetensors"
    public static let mlxConfigFileName = "adapter_config.json"

    /// mlx-lm's `num_layers`: from the lowest targeted layer to the last layer of `model`.
    public func mlxLayerCount(model: LlamaConfig) -> Int {
        model.numHiddenLayers - (targets.map(\.layer).min() ?? model.numHiddenLayers)
    }

    /// The adapted modules as mlx-lm names them, in module order: each one's projections (a
    /// fused module's parts: mlx-lm's Phi-3 also has `qkv_proj` and `gate_up_proj`).
    func mlxModules(fused: Bool) -> [[LinearModule]] {
        var groups: [[LinearModule]] = []
        for module in Set(targets.map(\.module)).sorted() {
            let group = fused ? module.fusedProjection?.parts ?? [module] : [module]
            if !groups.contains(group) { groups.append(group) }
        }
        return groups
    }

    /// mlx-lm's `lora_parameters.keys`: the targeted module paths inside a layer, in module order.
    public var mlxKeys: [String] {
        let fused = targets.contains { $0.fused != nil }
        return mlxModules(fused: fused).map { group in
            fused ? group[0].fusedProjection.map(\.pathInLayer) ?? group[0].pathInLayer : group[0].pathInLayer
        }
    }

    /// `adapters.safetensors` for `model`: transposed factors (a fused module's B its parts'
    /// rows stacked, as PEFT's), zeros for the modules mlx-lm wraps but the adapter does not target.
    public func mlxSafeTensors(model: LlamaConfig) throws -> SafeTensorsWriter {
        let r = rank
        let fused = model.architecture.fusedProjections
        var writer = SafeTensorsWriter(metadata: ["format": "mlx"])
        for layer in (model.numHiddenLayers - mlxLayerCount(model: model))..<model.numHiddenLayers {
            for group in mlxModules(fused: fused) {
                let inFeatures = group[0].features(in: model).inFeatures
                let outFeatures = group.reduce(0) { $0 + $1.features(in: model).outFeatures }
                let prefix = group[0].fullName(layer: layer, fused: fused)
                var loraA = [Float](repeating: 0, count: inFeatures * r)   // [I, r]
                var loraB = [Float](repeating: 0, count: r * outFeatures)  // [r, O]
                let parts = group.compactMap { factors(layer: layer, module: $0) }
                if let first = parts.first {
                    guard parts.count == group.count else {
                        throw LoRAError.adapterMismatch("\(prefix): only some of its projections are adapted")
                    }
                    for part in parts { try checkFits(part.target, model: model) }
                    loraA = Self.transposed(first.a.array, rows: r, columns: inFeatures)                      // Aᵀ
                    loraB = Self.transposed(parts.flatMap(\.b.array), rows: outFeatures, columns: r)          // Bᵀ
                }
                do {
                    try writer.add(name: prefix + ".lora_a", shape: [inFeatures, r], floats: loraA)
                    try writer.add(name: prefix + ".lora_b", shape: [r, outFeatures], floats: loraB)
                } catch {
                    throw LoRAError.adapterMismatch("\(prefix): cannot be written as an MLX tensor: \(error)")
                }
            }
        }
        return writer
    }

    /// mlx-lm's `adapter_config.json`.
    public func mlxConfigJSON(model: LlamaConfig) throws -> Data {
        var object: [String: Any] = [
            "fine_tune_type": "lora",
            "num_layers": mlxLayerCount(model: model),
            "lora_parameters": [
                "rank": rank,
                "scale": scaling,
                "dropout": config.loraDropout,
                "keys": mlxKeys,
            ] as [String: Any],
        ]
        if let base = config.baseModelNameOrPath { object["model"] = base }
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw LoRAError.io("cannot encode the MLX adapter_config.json: \(error)")
        }
    }

    /// Writes the adapter as an mlx-lm adapter directory (created if needed).
    public func saveMLX(to directory: URL, model: LlamaConfig) throws {
        let weights = try mlxSafeTensors(model: model)
        let configData = try mlxConfigJSON(model: model)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LoRAError.io("cannot create adapter directory \(directory.path): \(error.localizedDescription)")
        }
        let weightsPath = directory.appendingPathComponent(Self.mlxWeightsFileName).path
        do { try weights.write(to: weightsPath) } catch {
            throw LoRAError.io("cannot write \(weightsPath): \(error)")
        }
        let configURL = directory.appendingPathComponent(Self.mlxConfigFileName)
        do { try configData.write(to: configURL, options: .atomic) } catch {
            throw LoRAError.io("cannot write \(configURL.path): \(error.localizedDescription)")
        }
    }

    /// `values` `[rows, columns]` transposed to `[columns, rows]`.
    static func transposed(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        precondition(values.count == rows * columns, "transposed: \(values.count) values for [\(rows), \(columns)]")
        var out = [Float](repeating: 0, count: values.count)
        for i in 0..<rows {
            for j in 0..<columns { out[j * rows + i] = values[i * columns + j] }
        }
        return out
    }
}
