// Hugging Face safetensors checkpoints (single file or sharded) as a WeightSource; F32, F16 and
// BF16 tensors map onto the GGML element types of the same name.

import LlamaModel
import Foundation
import ModelFormats
import Quantization

extension SafeTensorsCheckpoint: WeightSource {
    public var owner: AnyObject { self }
    public var location: String { path }

    public func storedTensor(named name: String) throws -> StoredTensor? {
        guard let found = tensor(named: name) else { return nil }
        let type: GGMLType
        switch found.info.dtype {
        case .f32: type = .f32
        case .f16: type = .f16
        case .bf16: type = .bf16
        default:
            throw LlamaModelError.invalidWeights("tensor '\(name)' in \(path) has dtype \(found.info.dtype); expected F32, F16 or BF16")
        }
        return StoredTensor(type: type, shape: found.info.shape, bytes: found.file.data(for: found.info))
    }
}

extension Llama {
    /// Opens a Hugging Face model directory: `config.json` plus `model.safetensors` or a sharded
    /// checkpoint with `model.safetensors.index.json`. Weights stay mapped in their dtype.
    public static func load(huggingFaceDirectory path: String, maxPositions: Int? = nil) throws -> Llama {
        let directory = URL(fileURLWithPath: path)
        let config = try LlamaConfig(contentsOf: directory.appendingPathComponent("config.json"))
        let checkpoint = try SafeTensorsCheckpoint(path: path)
        let weights = try LlamaWeights(source: checkpoint, config: config, format: .huggingFace)
        return try Llama(config: config, weights: weights, maxPositions: maxPositions)
    }
}
