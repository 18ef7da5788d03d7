import Foundation
import Testing
import Kernels
import LlamaModel
import ModelIO
import LoRA
import ModelFormats
import TestSupport
@testable import Training

/// torch.optim.AdamW's update in fp64, written from the formulas (the oracle for the fp32 code).
private struct ReferenceAdamW {
    var lr: Double, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd: Double
    var m: [Double], v: [Double], t = 0

    init(count: Int, lr: Double, wd: Double) {
        self.lr = lr
        self.wd = wd
        m = Array(repeating: 0, count: count)
        v = Array(repeating: 0, count: count)
    }

    mutating func step(_ p: inout [Double], _ g: [Double]) {
        t += 1
        for i in p.indices {
            p[i] *= 1 - lr * wd
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            let denom = v[i].squareRoot() / (1 - pow(beta2, Double(t))).squareRoot() + eps
            p[i] -= lr / (1 - pow(beta1, Double(t))) * m[i] / denom
        }
    }
}

@Suite struct AdamWTests {
    private func optimizer(_ values: [Float], lr: Double, wd: Double) throws -> (AdamW, FloatBuffer, FloatBuffer) {
        let p = FloatBuffer(values), g = FloatBuffer(count: values.count)
        let opt = try AdamW(parameters: [OptimizedParameter(name: "w", value: p, gradient: g)],
                            hyperparameters: AdamWHyperparameters(learningRate: lr, weightDecay: wd))
        return (opt, p, g)
    }

    @Test func handComputedThreeSteps() throws {
        // One scalar, p0 = 1, grads 0.5, −0.25, 0.125, lr 0.1; values from the torch formulas in fp64.
        for (wd, expected) in [(0.0, [0.900000002, 0.8733662987078463, 0.8393233849166541]),
                               (0.1, [0.890000002, 0.8544662986878463, 0.8118787219097756])] {
            let (opt, p, g) = try optimizer([1], lr: 0.1, wd: wd)
            for (grad, want) in zip([Float(0.5), -0.25, 0.125], expected) {
                g[0] = grad
                opt.step()
                #expect(abs(Double(p[0]) - want) < 2e-7, "wd \(wd) step \(opt.stepCount): \(p[0]) vs \(want)")
            }
        }
    }

    @Test func matchesFP64ReferenceOverManySteps() throws {
        var rng = Xoshiro256StarStar(seed: 11)
        let n = 64
        let initial = (0..<n).map { _ in rng.nextUnitFloat() * 2 - 1 }
        for wd in [0.0, 0.05] {
            let (opt, p, g) = try optimizer(initial, lr: 1e-2, wd: wd)
            var reference = ReferenceAdamW(count: n, lr: 1e-2, wd: wd)
            var exact = initial.map(Double.init)
            for _ in 0..<20 {
                let grads = (0..<n).map { _ in (rng.nextUnitFloat() - 0.3) * 0.1 }
                for i in 0..<n { g[i] = grads[i] }
                opt.step()
                reference.step(&exact, grads.map(Double.init))
            }
            let worst = (0..<n).map { abs(Double(p[$0]) - exact[$0]) }.max() ?? 0
            #expect(worst < 1e-6, "wd \(wd): max |fp32 − fp64| = \(worst)")
            #expect(opt.stepCount == 20)
            let m = opt.expAvg[0].array.map(Double.init)
            #expect(zip(m, reference.m).allSatisfy { abs($0 - $1) < 1e-7 })
        }
    }

    @Test func gradientsAreReadNotModified() throws {
        let (opt, _, g) = try optimizer([1, 2, 3], lr: 0.1, wd: 0.01)
        for i in 0..<3 { g[i] = Float(i) - 1 }
        opt.step()
        #expect(g.array == [-1, 0, 1])
        opt.zeroGradients()
        #expect(g.array == [0, 0, 0])
    }

    @Test func stateRoundTripContinuesBitForBit() throws {
        let grads: [[Float]] = [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.05], [0.2, 0.2]]
        let (a, pa, ga) = try optimizer([0.5, -0.5], lr: 0.05, wd: 0.1)
        for step in grads.prefix(2) { for i in 0..<2 { ga[i] = step[i] }; a.step() }
        let saved = a.state()
        let (b, pb, gb) = try optimizer(pa.array, lr: 0.05, wd: 0.1)
        try b.restore(saved)
        #expect(b.state() == saved)
        for step in grads.suffix(2) {
            for i in 0..<2 { ga[i] = step[i]; gb[i] = step[i] }
            a.step()
            b.step()
        }
        #expect(pa.array == pb.array && b.stepCount == 4)

        var wrong = saved
        wrong.expAvg[0] = [1]
        #expect(throws: OptimizerError.stateMismatch("'w': state moments have 1/2 values, parameter has 2")) { try b.restore(wrong) }
        wrong = saved
        wrong.names = ["other"]
        #expect(throws: OptimizerError.self) { try b.restore(wrong) }
    }

    @Test func refusesBadSettings() {
        let p = OptimizedParameter(name: "x", value: FloatBuffer(count: 2), gradient: FloatBuffer(count: 3))
        #expect(throws: OptimizerError.stateMismatch("parameter 'x' has 2 values but its gradient has 3")) {
            _ = try AdamW(parameters: [p], hyperparameters: AdamWHyperparameters())
        }
        #expect(throws: OptimizerError.invalidSetting("beta2 must be in [0, 1), got 1.0")) {
            _ = try AdamW(parameters: [], hyperparameters: AdamWHyperparameters(beta2: 1))
        }
        #expect(throws: OptimizerError.invalidSetting("learning rate must be ≥ 0, got -1.0")) {
            try AdamWHyperparameters(learningRate: -1).validate()
        }
    }

    /// Step 1 of the reference run: AdamW(lr 2e-4, wd 0) from lora_r8_qv with lora_grads.
    @Test func firstStepMatchesPyTorch() throws {
        let model = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                                numKeyValueHeads: 3, headDim: 64, vocabSize: 49152, tieWordEmbeddings: true)
        let adapter = try LoRAAdapter.load(from: TestPaths.reference.appendingPathComponent("lora_r8_qv"), model: model)
        let grads = try SafeTensorsFile(path: TestPaths.reference.appendingPathComponent("lora_grads.safetensors").path)
        let after = try SafeTensorsFile(path: TestPaths.reference.appendingPathComponent("lora_after_adamw_step1.safetensors").path)
        let parameters = OptimizedParameter.parameters(of: adapter)
        #expect(parameters.count == 120)
        for p in parameters {
            let values = try grads.floats(named: p.name)
            try #require(values.count == p.gradient.count)
            for i in values.indices { p.gradient[i] = values[i] }
        }
        let opt = try AdamW(parameters: parameters, hyperparameters: AdamWHyperparameters(learningRate: 2e-4, weightDecay: 0))
        opt.step()
        // Observed: 460,671 of 460,800 elements bit-identical; the other 129 differ by one ulp
        // of the update or of the value (worst 3.7e-9 = 1.9e-5·lr), mostly where |g| is small
        // enough for eps to matter or where the new value nearly cancels.
        var mismatched = 0, outside = 0, total = 0
        for p in parameters {
            let want = try after.floats(named: p.name)
            for i in want.indices {
                total += 1
                if p.value[i] != want[i] { mismatched += 1 }
                if abs(p.value[i] - want[i]) > 5e-9 { outside += 1 }
            }
        }
        #expect(total == 921_600 / 2)
        #expect(outside == 0, "\(outside) elements differ from PyTorch by more than 5e-9")
        #expect(mismatched * 1000 <= total, "\(mismatched) of \(total) elements differ from PyTorch")
    }
}
