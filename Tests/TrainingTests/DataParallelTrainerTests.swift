// Whole training steps through `Trainer` on a (tp, dp) = (2, 2) mesh of four threads joined by
// in-memory process groups (TestSupport's ThreadedProcessGroup), against the same run on one
// rank (every group the identity, `SingleRankGroup`): per step the loss, gradient norm, token
// and target counts; after the last step every rank's synchronized LoRA gradients (its slices
// of the one-rank gradients), the adapter gathered over TP, and the evaluation loss split over
// DP. This runs GradientSynchronizer's TP and DP reductions (the fused blocking one and the
// overlapped per-layer nonblocking one), the KV head hand-over (6 query heads in 3 KV groups
// split 3 + 3 share KV head 1), micro-batch accumulation and LoRA dropout, all in the `swift test`
// process without MPI (docs/architecture.md §6, §14). Tolerances as TensorParallelTrainStepTests:
// losses 1e-5 relative, gradients and factors 1e-4 of the tensor's largest magnitude; only the
// summation order of the reductions differs from one rank.

import Foundation
import Kernels
@testable import LlamaModel
@testable import ModelIO
import LoRA
import Parallelism
import ProcessGroups
import Testing
import TestSupport
@testable import Training

private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func values(_ count: Int, scale: Float) -> [Float] { (0..<count).map { _ in float() * scale } }
}

/// Hidden 24, FFN 32, 2 layers, 6 query heads in 3 KV groups (head dim 4), vocabulary 37,
/// q/k/v biases, tied embeddings.
private let config = LlamaConfig(hiddenSize: 24, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 6,
                                 numKeyValueHeads: 3, rmsNormEps: 1e-5, ropeTheta: 10_000, vocabSize: 37,
                                 maxPositionEmbeddings: 64, tieWordEmbeddings: true, attentionBias: true)

private func tinyModel() throws -> Llama {
    var rng = SplitMix(state: 11)
    let c = config.hiddenSize, f = config.intermediateSize, qw = config.queryWidth, kvw = config.keyValueWidth
    func m(_ name: String, _ rows: Int, _ cols: Int) throws -> FrozenMatrix {
        try FrozenMatrix(name: name, rows: rows, columns: cols, values: rng.values(rows * cols, scale: 0.4))
    }
    func norm() -> FloatBuffer { FloatBuffer(rng.values(c, scale: 0.2).map { 1 + $0 }) }
    func bias(_ n: Int) -> FloatBuffer { FloatBuffer(rng.values(n, scale: 0.1)) }
    let embedding = try m("embed", config.vocabSize, c)
    let layers = try (0..<config.numHiddenLayers).map { _ in
        LlamaLayerWeights(attentionNorm: norm(), q: try m("q", qw, c), k: try m("k", kvw, c), v: try m("v", kvw, c),
                          o: try m("o", c, qw), qBias: bias(qw), kBias: bias(kvw), vBias: bias(kvw),
                          ffnNorm: norm(), gate: try m("gate", f, c), up: try m("up", f, c), down: try m("down", c, f))
    }
    return try Llama(config: config, weights: LlamaWeights(embedding: embedding, layers: layers, outputNorm: norm(),
                                                           output: embedding, ropeFrequencyFactors: nil))
}

/// Ten examples of 4 to 12 tokens; the first two labels of each are not counted.
private func examples() -> [TokenizedExample] {
    var rng = SplitMix(state: 5)
    return (0..<10).map { _ in
        let n = 4 + Int(rng.next() % 9)
        let ids = (0..<n).map { _ in Int(rng.next() % UInt64(config.vocabSize)) }
        return TokenizedExample(inputIDs: ids, labels: ids.enumerated().map { $0.offset < 2 ? TokenizedExample.ignoreIndex : $0.element })
    }
}

private let lora = LoRAConfig(r: 4, loraAlpha: 8, loraDropout: 0.1, targetModules: .allLinear)
private let steps = 3

/// What one rank ends with.
private struct RankRun: @unchecked Sendable {
    var reports: [StepReport] = []
    /// The synchronized (and clipped) gradients after the last step, per factor.
    var factors: [LocalLoRAFactors] = []
    var gathered: LoRAAdapter
    var evaluation: (loss: Double, counted: Int) = (0, 0)
}

/// Trains `steps` steps on one rank of a mesh and gathers the adapter.
private func run(mesh: ProcessMesh, full: Llama, shards: [LlamaShard], options: TrainerOptions) throws -> RankRun {
    let shard = shards[mesh.tpRank]
    let model = shards.count == 1 ? full
        : try Llama(config: config, weights: try full.weights.sharded(shard, config: config, target: .none,
                                                                      group: mesh.tensorParallel, threads: 1))
    let stream = try TrainingStream(examples: examples(), maxSeqLen: 16, packing: true, seed: 3)
    let trainer = try Trainer(model: model, shards: shards, mesh: mesh,
                              adapter: try LoRAAdapter(config: lora, model: config, seed: 7),
                              stream: stream, options: options)
    var out = RankRun(gathered: try LoRAAdapter(config: lora, targets: try lora.targets(for: config)))
    for s in 0..<steps { out.reports.append(try trainer.step(s)) }
    out.factors = trainer.adapter.factors
    try trainer.gatherAdapter(into: out.gathered)
    out.evaluation = try trainer.evaluate(stream.epoch(0))
    return out
}

/// Element-wise agreement within `tolerance` of the largest magnitude of `want`.
private func expectClose(_ got: [Float], _ want: [Float], tolerance: Float = 1e-4, _ what: @autoclosure () -> String) {
    let scale = max(want.map { abs($0) }.max() ?? 0, 1e-6)
    let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
    #expect(got.count == want.count && worst <= tolerance * scale,
            "\(what()): max difference \(worst) (scale \(scale)), \(got.count) vs \(want.count) values")
}

/// Rows `rows` and columns `columns` of a `[R, C]` row-major matrix.
private func cut(_ values: [Float], columnsTotal: Int, rows: Range<Int>, columns: Range<Int>) -> [Float] {
    rows.flatMap { r in columns.map { values[r * columnsTotal + $0] } }
}

@Suite struct DataParallelTrainerTests {
    /// The overlapped DP reduction with two micro-batches per rank, and the fused blocking one
    /// with one micro-batch per rank.
    @Test(arguments: [(true, 1), (false, 2)])
    func twoByTwoMeshEqualsOneRank(overlap: Bool, microBatch: Int) throws {
        let full = try tinyModel()
        let options = TrainerOptions(steps: steps, globalBatchSize: 4, microBatchSize: microBatch, maxSeqLen: 16,
                                     learningRate: 1e-2, maxGradNorm: 0.5, seed: 9,
                                     overlapReduction: overlap)

        // One rank: every group the identity.
        let single = try ProcessMesh(world: SingleRankGroup(), tensorParallel: SingleRankGroup(), dataParallel: SingleRankGroup())
        let reference = try run(mesh: single, full: full, shards: [.whole(config)], options: options)

        // (tp, dp) = (2, 2) on four threads.
        let shards = try ShardPlanner.plan(config, tp: 2, columnAlignment: 8)
        #expect(shards.contains { !$0.keyValueTransfers.isEmpty }, "the split should hand a shared KV head over: \(shards)")
        let threaded = ThreadedMesh(tp: 2, dp: 2)
        let results = runOnThreads(4) { w in
            let g = threaded.groups[w]
            let mesh = try ProcessMesh(world: g.world, tensorParallel: g.tensorParallel, dataParallel: g.dataParallel)
            return try run(mesh: mesh, full: full, shards: shards, options: options)
        }

        let label = "overlap \(overlap), micro-batch \(microBatch)"
        for (w, result) in results.enumerated() {
            let got = try result.get()
            let (tpRank, dpRank) = (w % 2, w / 2)
            for (a, b) in zip(got.reports, reference.reports) {
                #expect(a.step == b.step && a.tokens == b.tokens && a.countedTargets == b.countedTargets)
                #expect(abs(a.loss - b.loss) <= 1e-5 * abs(b.loss), "rank \(w) step \(a.step): loss \(a.loss) vs \(b.loss); \(label)")
                #expect(abs(a.gradNorm - b.gradNorm) <= 1e-4 * b.gradNorm,
                        "rank \(w) step \(a.step): gradient norm \(a.gradNorm) vs \(b.gradNorm); \(label)")
                #expect(a.learningRate == b.learningRate)
            }
            #expect(got.reports.count == steps)
            #expect(got.evaluation.counted == reference.evaluation.counted)
            #expect(abs(got.evaluation.loss - reference.evaluation.loss) <= 1e-5 * abs(reference.evaluation.loss),
                    "rank \(w): evaluation loss \(got.evaluation.loss) vs \(reference.evaluation.loss)")

            // This rank's gradient slices are the one-rank gradients' (the same on both DP ranks).
            for (local, whole) in zip(got.factors, reference.factors) {
                let t = local.target, r = lora.r
                let wantA = cut(whole.gradA.array, columnsTotal: t.inFeatures, rows: 0..<r, columns: local.aColumns)
                let wantB = cut(whole.gradB.array, columnsTotal: r, rows: local.bRows, columns: 0..<r)
                expectClose(local.gradA.array, wantA, "rank \(w) (tp \(tpRank), dp \(dpRank)) \(t.fullName) gradA; \(label)")
                expectClose(local.gradB.array, wantB, "rank \(w) (tp \(tpRank), dp \(dpRank)) \(t.fullName) gradB; \(label)")
            }
            // The adapter gathered over TP is the one-rank adapter.
            for (a, b) in zip(got.gathered.factors, reference.gathered.factors) {
                expectClose(a.a.array, b.a.array, "rank \(w) \(a.target.fullName) A; \(label)")
                expectClose(a.b.array, b.b.array, "rank \(w) \(a.target.fullName) B; \(label)")
            }
        }
    }
}
