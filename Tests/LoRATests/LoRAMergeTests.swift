// Merging the reference adapter into the base gives PEFT's adapted loss through the plain
// inference forward (merge_and_unload semantics).

import Foundation
import LlamaModel
import ModelIO
@testable import LoRA
import Testing
import TestSupport

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct LoRAMergeTests {
    @Test func mergedModelHasTheAdaptedLoss() throws {
        let lora = try #require(try TestPaths.referenceJSON("lora.json") as? [String: Any])
        let expected = try #require(lora["loss"] as? Double)
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let ids = try #require(text["input_ids"] as? [Int])
        let base = try Llama.load(gguf: TestPaths.defaultModel.path)
        let adapter = try LoRAAdapter.load(from: TestPaths.reference.appendingPathComponent("lora_r8_qv"), model: base.config)
        let merged = try Llama(config: base.config, weights: adapter.merged(into: base.weights))
        let loss = try merged.evaluate(sequences: [ids]).loss
        #expect(abs(loss - expected) <= 2e-4, "merged loss \(loss) vs PEFT \(expected)")
        // Untargeted weights are shared, targeted ones replaced.
        #expect(merged.weights.layers[0].k.storageDescription == base.weights.layers[0].k.storageDescription)
        #expect(merged.weights.layers[0].q.storageDescription == "F32")
    }
}
