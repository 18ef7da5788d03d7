// PEFT's on-disk adapter: `adapter_config.json` + `adapter_model.safetensors` with keys
// `base_model.model.<module>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r], F32.
// Saving is deterministic (sorted keys, fixed metadata) so save → load → save is byte-identical;
// loading checks every tensor against the model before trusting it.

import Foundation
import Kernels
import LlamaModel
import ModelFormats

extension LoRAAdapter {
    /// File names inside an adapter directory.
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"

    /// Writes the adapter as a PEFT directory (created if needed); each file is written
    /// atomically.
    public func save(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LoRAError.io("cannot create adapter directory \(directory.path): \(error.localizedDescription)")
        }
        let configURL = directory.appendingPathComponent(Self.configFileName)
        do { try config.jsonData().write(to: configURL, options: .atomic) } catch let error as LoRAError {
            throw error
        } catch {
            throw LoRAError.io("cannot write \(configURL.path): \(error.localizedDescription)")
        }
        // PEFT's safetensors files carry {"format": "pt"}; keep exactly that for determinism.
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        let weightsPath = directory.appendingPathComponent(Self.weightsFileName).path
        do {
            for tensor in peftTensors() {
                try writer.add(name: tensor.name, shape: tensor.shape, floats: tensor.values)
            }
            try writer.write(to: weightsPath)
        } catch let error as ModelFormatsError {
            throw LoRAError.io("cannot write \(error)")   // names the file already
        } catch {
            throw LoRAError.io("cannot write \(weightsPath): \(error)")
        }
    }

    /// Reads a PEFT adapter directory for `model`, checking the config and every tensor.
    ///
    /// Throws `invalidConfig` for a config Tessera cannot use and `adapterMismatch` for a missing
    /// or unexpected tensor, a wrong shape or a non-float dtype; each message names the tensor
    /// and says what was expected. F16, BF16 and F64 tensors are converted to Float.
    public static func load(from directory: URL, model: LlamaConfig) throws -> LoRAAdapter {
        let config = try LoRAConfig(contentsOf: directory.appendingPathComponent(configFileName))
        let adapter = try LoRAAdapter(config: config, targets: config.targets(for: model))
        let path = directory.appendingPathComponent(weightsFileName).path
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch {
            throw LoRAError.io("cannot open \(path): \(error)")
        }

        // Each PEFT tensor fills one buffer, or (a fused module's B) its parts' rows in order.
        var expected: [String: (shape: [Int], buffers: [FloatBuffer])] = [:]
        for m in adapter.peftModules {
            expected[m.aName] = ([config.r, m.inFeatures], [m.a])
            expected[m.bName] = ([m.outFeatures, config.r], m.parts.map(\.b))
        }
        for tensor in file.tensors where expected[tensor.name] == nil {
            throw LoRAError.adapterMismatch("\(path): unexpected tensor '\(tensor.name)' \(tensor.shape); with r=\(config.r) and target_modules \(config.targetModules) this model (\(model.numHiddenLayers) layers) has no such LoRA factor")
        }
        for name in expected.keys.sorted() {
            guard let (shape, buffers) = expected[name] else { continue }
            guard let tensor = file.tensor(named: name) else {
                throw LoRAError.adapterMismatch("\(path): missing tensor '\(name)' (expected F32 \(shape))")
            }
            guard tensor.shape == shape else {
                throw LoRAError.adapterMismatch("\(path): tensor '\(name)' has shape \(tensor.shape), expected \(shape) for r=\(config.r) on this model (hidden_size \(model.hiddenSize), intermediate_size \(model.intermediateSize), heads \(model.numAttentionHeads)/\(model.numKeyValueHeads) kv, head_dim \(model.headDim))")
            }
            guard tensor.dtype.isFloatingPoint else {
                throw LoRAError.adapterMismatch("\(path): tensor '\(name)' has dtype \(tensor.dtype), expected F32 (or F16/BF16/F64)")
            }
            let values: [Float]
            do { values = try file.floats(for: tensor) } catch {
                throw LoRAError.adapterMismatch("\(path): tensor '\(name)' cannot be read as floats: \(error)")
            }
            values.withUnsafeBufferPointer { source in
                guard var base = source.baseAddress else { return }
                for buffer in buffers {
                    buffer.pointer.update(from: base, count: buffer.count)
                    base += buffer.count
                }
            }
        }
        return adapter
    }
}
