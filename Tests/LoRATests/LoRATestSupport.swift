// Shared fixtures: the SmolLM2-135M shape (model_info.json), a tiny model shape, temporary
// directories and the reference adapter's location.
import Foundation
import LlamaModel
import ModelIO
@testable import LoRA
import TestSupport

/// SmolLM2-135M-Instruct: C 576, F 1536, 30 layers, 9 heads / 3 kv heads, D 64.
let smolLM2 = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                          numKeyValueHeads: 3, headDim: 64, vocabSize: 49152, tieWordEmbeddings: true)

/// A small GQA model with distinct widths, so a swapped shape cannot pass.
let tinyModel = LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 3, numAttentionHeads: 4,
                            numKeyValueHeads: 2, vocabSize: 37)

var referenceAdapter: URL { TestPaths.reference.appendingPathComponent("lora_r8_qv") }

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tessera-lora-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Decodes a config from a JSON literal.
func decodeConfig(_ json: String) throws -> LoRAConfig {
    try JSONDecoder().decode(LoRAConfig.self, from: Data(json.utf8))
}

/// The message of a `LoRAError`, or "" when `body` does not throw one.
func loraErrorMessage(_ body: () throws -> Void) -> String {
    do { try body() } catch let error as LoRAError { return error.description } catch { return "other error: \(error)" }
    return ""
}
