// Three AdamW steps of the reference adapter on SmolLM2 against torch.optim.AdamW
// (Tests/Fixtures/reference/smollm2/adamw_3steps.json): the loss before each step and after the
// third, within 2e-4. The step goes through the real training path (trainStep) and Tessera's
// AdamW with the reference's settings (lr 2e-4, wd 0, no clipping, no schedule).

import Foundation
import LlamaModel
import ModelIO
import LoRA
import ProcessGroups
import Testing
import TestSupport
@testable import Training

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct AdamWReferenceTests {
    @Test func threeStepsReproduceTorch() throws {
        let reference = try #require(try TestPaths.referenceJSON("adamw_3steps.json") as? [String: Any])
        let before = try #require(reference["loss_before_step"] as? [Double])
        let after = try #require(reference["loss_after_3_steps"] as? Double)
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let ids = try #require(text["input_ids"] as? [Int])

        let model = try Llama.load(gguf: TestPaths.defaultModel.path)
        let adapter = try LoRAAdapter.load(from: TestPaths.reference.appendingPathComponent("lora_r8_qv"), model: model.config)
        let shard = LlamaShard.whole(model.config)
        let workspace = TrainingWorkspace(model: model, shard: shard, maxTokens: ids.count, maxLoRARank: adapter.rank)
        let optimizer = try AdamW(parameters: OptimizedParameter.parameters(of: adapter),
                                  hyperparameters: AdamWHyperparameters(learningRate: 2e-4, weightDecay: 0))
        var losses: [Double] = []
        for _ in 0..<3 {
            adapter.zeroGradients()
            let result = try model.trainStep(ids: ids, labels: ids, segments: [0..<ids.count], shard: shard,
                                             group: SingleRankGroup(), adapters: adapter, lossScale: 1 / 90, workspace: workspace)
            losses.append(result.lossSum / Double(result.counted))
            optimizer.step()
        }
        let final = try model.evaluateLoss(ids: ids, labels: ids, segments: [0..<ids.count], shard: shard,
                                           group: SingleRankGroup(), adapters: adapter, workspace: workspace)
        let finalLoss = final.lossSum / Double(final.counted)
        for (ours, theirs) in zip(losses, before) {
            #expect(abs(ours - theirs) <= 2e-4, "loss \(ours) vs torch \(theirs)")
        }
        #expect(abs(finalLoss - after) <= 2e-4, "loss after 3 steps \(finalLoss) vs torch \(after)")
    }
}
