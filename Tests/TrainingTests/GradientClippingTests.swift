import Foundation
import Testing
import Kernels
import ModelFormats
import TestSupport
@testable import Training

@Suite struct GradientClippingTests {
    @Test func clipsOnlyAboveTheLimit() {
        let a = FloatBuffer([3]), b = FloatBuffer([0, 4])
        #expect(GradientClipping.localSquaredNorm([a, b]) == 25)
        #expect(GradientClipping.clip([a, b], maxNorm: 10) == 5)
        #expect(a.array == [3] && b.array == [0, 4])
        #expect(GradientClipping.clip([a, b], maxNorm: 1) == 5)
        let coefficient = Float(1) / (Float(5) + Float(1e-6))
        #expect(a.array == [3 * coefficient] && b.array == [0, 4 * coefficient])
        #expect(GradientClipping.clipCoefficient(totalNorm: 0, maxNorm: 1) == 1)
        #expect(GradientClipping.clipCoefficient(totalNorm: 2, maxNorm: 1) == Float(1) / Float(2.000001))
    }

    @Test func splitFormEqualsOneShotAcrossShards() {
        // Two "ranks" each own half of the gradients: summing their local squares and scaling
        // each half gives what one rank clipping everything gives.
        let whole = [FloatBuffer([1, -2, 3]), FloatBuffer([0.5, 4])]
        let rank0 = [FloatBuffer([1, -2, 3])], rank1 = [FloatBuffer([0.5, 4])]
        GradientClipping.clip(whole, maxNorm: 2)
        let total = (GradientClipping.localSquaredNorm(rank0) + GradientClipping.localSquaredNorm(rank1)).squareRoot()
        let coefficient = GradientClipping.clipCoefficient(totalNorm: total, maxNorm: 2)
        GradientClipping.scale(rank0, by: coefficient)
        GradientClipping.scale(rank1, by: coefficient)
        #expect(rank0[0].array == whole[0].array && rank1[0].array == whole[1].array)
    }

    @Test func totalNormOfReferenceGradients() throws {
        let file = try SafeTensorsFile(path: TestPaths.reference.appendingPathComponent("lora_grads.safetensors").path)
        let buffers = try file.tensors.map { FloatBuffer(try file.floats(for: $0)) }
        let lora = try #require(try TestPaths.referenceJSON("lora.json") as? [String: Any])
        let expected = try #require(lora["grad_total_l2_norm"] as? Double)  // 1.676133439333763
        let total = GradientClipping.localSquaredNorm(buffers).squareRoot()
        #expect(abs(total - expected) < 1e-6 * expected, "\(total) vs \(expected)")
    }

    @Test func accumulationHelper() throws {
        let four = try GradientAccumulation(microBatchesPerStep: 4)
        #expect(four.lossScale == 0.25)
        #expect((0..<8).filter { four.completesStep(microBatch: $0) } == [3, 7])
        #expect(GradientAccumulation.tokenWeightedScale(tokens: 30, stepTokens: 120) == 0.25)
        #expect(throws: OptimizerError.invalidSetting("gradient accumulation steps must be ≥ 1, got 0")) {
            _ = try GradientAccumulation(microBatchesPerStep: 0)
        }
    }
}
