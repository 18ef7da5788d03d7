// The step loop of one rank (docs/architecture.md §4): take this rank's share of the global batch,
// run the micro-batches (forward, loss, backward; gradients accumulate), reduce the gradients over
// the TP and DP groups, clip by the global norm, and apply AdamW with the scheduled learning rate.
// Every rank of the mesh runs the same sequence of collectives, so they stay in step. The mesh's
// groups are process groups: MPI communicators under mpirun, threads in the tests
// (DataParallelTrainerTests), one rank the identity.
import Kernels
import LlamaModel
import LoRA
import Parallelism
import ProcessGroups

/// What one optimizer step did, the same on every rank.
public struct StepReport: Sendable, Equatable {
    /// 1-based step number.
    public let step: Int
    /// Mean loss over the counted targets of the global batch.
    public let loss: Double
    public let learningRate: Double
    /// Global gradient L2 norm before clipping.
    public let gradNorm: Double
    /// Input tokens of the global batch.
    public let tokens: Int
    /// Targets counted by the loss.
    public let countedTargets: Int
    /// Wall-clock seconds of the step.
    public let seconds: Double
    /// Epochs completed after this step (fractional).
    public let epoch: Double
    /// Seconds spent reducing gradients over the TP and DP groups (the part of a step that
    /// overlapping with the backward could hide).
    public var synchronizationSeconds: Double = 0

    public var tokensPerSecond: Double { Double(tokens) / max(seconds, 1e-9) }
}

public final class Trainer: @unchecked Sendable {
    public let model: Llama
    public let shard: LlamaShard
    public let mesh: ProcessMesh
    public let adapter: ShardedLoRAAdapter
    public let stream: TrainingStream
    public let options: TrainerOptions
    public let optimizer: AdamW
    public let schedule: LearningRateSchedule
    private let group: ProfiledGroup
    private let synchronizer: GradientSynchronizer
    private let workspace: TrainingWorkspace
    /// The micro-batch being run (its arrays are reused).
    private var microBatch = MicroBatch()
    /// Where steps add their time per kind of work (`bench train`); nil times nothing.
    public var profile: StepProfile?
    /// What the kernels run under during this trainer's steps and evaluations.
    private var context: ComputeContext { ComputeContext(precision: options.compute, profile: profile) }

    /// - Parameters:
    ///   - model: this rank's slice of the model (the whole model when tp = 1).
    ///   - shards: every TP rank's shard; `shards[mesh.tpRank]` is this rank's.
    ///   - adapter: the full adapter, initialised identically on every rank.
    public init(model: Llama, shards: [LlamaShard], mesh: ProcessMesh, adapter full: LoRAAdapter,
                stream: TrainingStream, options: TrainerOptions) throws {
        try options.validate(dataParallel: mesh.shape.dp)
        self.model = model
        shard = shards[mesh.tpRank]
        self.mesh = mesh
        self.stream = stream
        self.options = options
        adapter = ShardedLoRAAdapter(slicing: full, shards: shards, tpRank: mesh.tpRank)
        group = ProfiledGroup(mesh.tensorParallel)
        synchronizer = GradientSynchronizer(adapter: adapter, tensorParallel: mesh.tensorParallel, dataParallel: mesh.dataParallel)
        optimizer = try AdamW(parameters: OptimizedParameter.parameters(of: adapter.tensors), hyperparameters: AdamWHyperparameters(
            learningRate: options.learningRate, beta1: options.beta1, beta2: options.beta2,
            epsilon: options.epsilon, weightDecay: options.weightDecay))
        schedule = try LearningRateSchedule(kind: options.schedule, warmupSteps: options.warmupSteps, totalSteps: options.steps)
        let perRank = options.globalBatchSize / mesh.shape.dp
        workspace = TrainingWorkspace(model: model, shard: shard,
                                      maxTokens: min(options.microBatchSize, perRank) * options.maxSeqLen,
                                      maxLoRARank: adapter.rank, checkpointing: options.activationCheckpointing,
                                      keepQuery: ShardPlanner.keepsQueries(shards, rank: mesh.tpRank, model.config),
                                      loraDropout: full.config.loraDropout > 0)
    }

    /// Bytes of activations and scratch this rank holds for training.
    public var workspaceBytes: Int { workspace.byteCount }

    /// Runs optimizer step `index` (0-based; the schedule and the data follow from it).
    /// `injectNonFinite` makes the loss NaN (fault-injection tests). A non-finite loss or gradient
    /// norm throws `TrainingError.nonFinite` before any update, with the gradients zeroed.
    public func step(_ index: Int, injectNonFinite: Bool = false) throws -> StepReport {
        try context.bind { try runStep(index, injectNonFinite: injectNonFinite) }
    }

    private func runStep(_ index: Int, injectNonFinite: Bool) throws -> StepReport {
        let start = monotonicSeconds()
        let batch = stream.batch(step: index, batchSize: options.globalBatchSize)
        let perRank = options.globalBatchSize / mesh.shape.dp
        let mine = Array(batch[(mesh.dpRank * perRank)..<((mesh.dpRank + 1) * perRank)])
        let counted = batch.reduce(0) { $0 + $1.countedTargets }
        let tokens = batch.reduce(0) { $0 + $1.ids.count }
        let lossScale = Float(1) / Float(max(counted, 1))

        adapter.zeroGradients()
        var lossSum = 0.0
        var micro = 0
        while micro < mine.count {
            let part = mine[micro..<min(micro + options.microBatchSize, mine.count)]
            microBatch.fill(part)
            // The last micro-batch starts each layer's data-parallel reduction as soon as its
            // gradients are final, overlapping it with the backward of earlier layers.
            let last = micro + options.microBatchSize >= mine.count
            let overlap = last && options.overlapReduction && synchronizer.canOverlap
            if overlap { try synchronizer.beginOverlap() }
            let result = try model.trainStep(
                ids: microBatch.ids, labels: microBatch.labels, segments: microBatch.segments, shard: shard,
                group: group, adapters: adapter, lossScale: lossScale,
                dropout: LoRADropoutKey(seed: options.seed, step: index, sampleIndices: microBatch.samples),
                workspace: workspace, layerGradientsReady: overlap ? { [synchronizer] l in try synchronizer.layerReady(l) } : nil)
            lossSum += result.lossSum
            micro += options.microBatchSize
        }
        if injectNonFinite { lossSum = .nan }
        let syncStart = monotonicSeconds()
        try StepProfile.measure(.communication) { try synchronizer.synchronize() }
        let syncSeconds = monotonicSeconds() - syncStart
        let (norm, totalLoss) = try StepProfile.measure(.communication) { [lossSum] in
            (try synchronizer.globalNorm(),
             mesh.dataParallel.size > 1 ? try mesh.dataParallel.allReduce([lossSum], .sum)[0] : lossSum)
        }
        let loss = totalLoss / Double(max(counted, 1))
        guard loss.isFinite, norm.isFinite else {
            adapter.zeroGradients()
            throw TrainingError.nonFinite(step: index + 1, what: loss.isFinite ? "gradient norm" : "loss")
        }
        let lr = schedule.learningRate(base: options.learningRate, atStep: index)
        StepProfile.measure(.optimizer) {
            if let maxNorm = options.maxGradNorm {
                let coefficient = GradientClipping.clipCoefficient(totalNorm: norm, maxNorm: maxNorm)
                if coefficient < 1 { GradientClipping.scale(synchronizer.gradientBuffers, by: coefficient) }
            }
            optimizer.hyperparameters.learningRate = lr
            optimizer.step()
        }
        var report = StepReport(step: index + 1, loss: loss, learningRate: lr, gradNorm: norm, tokens: tokens,
                                countedTargets: counted, seconds: monotonicSeconds() - start,
                                epoch: stream.epochProgress(steps: index + 1, batchSize: options.globalBatchSize))
        report.synchronizationSeconds = syncSeconds
        return report
    }

    /// Mean loss of `sequences` with the current adapter (no dropout), the same on every rank:
    /// DP ranks split the sequences, TP ranks compute together.
    public func evaluate(_ sequences: [PackedSequence]) throws -> (loss: Double, counted: Int) {
        try context.bind { try runEvaluation(sequences) }
    }

    private func runEvaluation(_ sequences: [PackedSequence]) throws -> (loss: Double, counted: Int) {
        var lossSum = 0.0, counted = 0
        // The same chunk as a training micro-batch, which is what the workspace is sized for.
        let chunk = min(options.microBatchSize, options.globalBatchSize / mesh.shape.dp)
        var index = mesh.dpRank * chunk
        while index < sequences.count {
            let part = sequences[index..<min(index + chunk, sequences.count)]
            microBatch.fill(part)
            let (ids, labels, segments) = (microBatch.ids, microBatch.labels, microBatch.segments)
            let result = try model.evaluateLoss(ids: ids, labels: labels, segments: segments, shard: shard,
                                                group: group, adapters: adapter, workspace: workspace)
            lossSum += result.lossSum
            counted += result.counted
            index += chunk * mesh.shape.dp
        }
        if mesh.dataParallel.size > 1 {
            lossSum = try mesh.dataParallel.allReduce([lossSum], .sum)[0]
            counted = Int(try mesh.dataParallel.allReduce([Int64(counted)], .sum)[0])
        }
        return (lossSum / Double(max(counted, 1)), counted)
    }

    /// The trained adapter in the full PEFT layout, on every rank (collective over the TP group).
    public func gatherAdapter(into full: LoRAAdapter) throws {
        try adapter.gather(into: full, group: mesh.tensorParallel)
    }
}
