// A training run of one rank, outside any command line (docs/architecture.md §4): the shard plan
// of the mesh (one alignment rule, ModelSource.shardColumnAlignment), this rank's sharded load,
// the trainer, and the run itself: steps, evaluation and checkpoints on schedule, a checkpoint
// when a stop is requested, the non-finite policy, all reported as events. `tessera train` and
// `tessera bench train` map their options onto it and render its events; the tests run it on
// threads (TrainingSessionTests). Every rank of the mesh runs the same calls in the same order.
import Foundation
import Kernels
import LlamaModel
import LoRA
import ModelIO
import Parallelism
import ProcessGroups

/// What a session reports while it runs, on every rank (the command line renders rank 0's).
public enum TrainingEvent {
    /// A step finished; `evalLoss` on the steps that evaluated.
    case step(StepReport, evalLoss: Double?)
    /// A step's loss or gradient was not finite and it made no update (`note` says so).
    case skipped(step: Int, note: String)
    /// The checkpoint of `step` was published.
    case saved(step: Int, directory: URL)
    /// A checkpoint write failed and the run goes on (`CheckpointPolicy.continueOnFailure`).
    case saveFailed(message: String, nextSave: Int)
}

/// How `TrainingSession.run` ended.
public enum TrainingOutcome: Equatable, Sendable {
    /// Every step up to the run's end was taken; the newest checkpoint of the run, if any.
    case finished(lastCheckpoint: URL?)
    /// A stop was asked for after `afterStep` steps; the checkpoint holding that step (nil when
    /// no step was taken or the run keeps no checkpoints).
    case stopped(afterStep: Int, checkpoint: URL?)
}

/// Where and how often a run saves checkpoints (docs/preemption.md).
public struct CheckpointPolicy: Sendable {
    public var store: CheckpointStore
    /// Save every N steps (0: only at the end of the run and on a stop).
    public var every: Int
    public var keepLast: Int
    /// A failed write warns (`TrainingEvent.saveFailed`) and is retried at the next save instead
    /// of ending the run; the run's last save must succeed.
    public var continueOnFailure: Bool
    /// What a resume is checked against (RunIdentity).
    public var configIdentity: [String: String]
    public var modelIdentity: String

    public init(store: CheckpointStore, every: Int, keepLast: Int, continueOnFailure: Bool = false,
                configIdentity: [String: String] = [:], modelIdentity: String = "") {
        self.store = store
        self.every = every
        self.keepLast = keepLast
        self.continueOnFailure = continueOnFailure
        self.configIdentity = configIdentity
        self.modelIdentity = modelIdentity
    }
}

/// The steps of one invocation and what happens around them.
public struct TrainingRun {
    /// Steps already taken (0, or the resumed checkpoint's step); the run takes steps
    /// `startStep ..< endStep` (0-based indices) of the schedule.
    public var startStep: Int
    public var endStep: Int
    /// Evaluate `validation` every N steps and at the schedule's last step (0: only there).
    public var evalEvery: Int
    public var validation: [PackedSequence]
    /// Nil: no checkpoints.
    public var checkpoints: CheckpointPolicy?
    /// The checkpoint this run resumed from (it holds `startStep`, so a stop there saves nothing).
    public var resumedFrom: URL?
    public var nonFinite: NonFiniteSteps

    public init(startStep: Int = 0, endStep: Int, evalEvery: Int = 0, validation: [PackedSequence] = [],
                checkpoints: CheckpointPolicy? = nil, resumedFrom: URL? = nil,
                nonFinite: NonFiniteSteps = NonFiniteSteps(limit: 0)) {
        self.startStep = startStep
        self.endStep = endStep
        self.evalEvery = evalEvery
        self.validation = validation
        self.checkpoints = checkpoints
        self.resumedFrom = resumedFrom
        self.nonFinite = nonFinite
    }
}

public final class TrainingSession {
    public let mesh: ProcessMesh
    /// Every TP rank's shard; `shards[mesh.tpRank]` is this rank's.
    public let shards: [LlamaShard]
    public let trainer: Trainer
    /// The full adapter, which checkpoints and the final save gather into.
    public let adapter: LoRAAdapter
    public var model: Llama { trainer.model }

    /// Plans the shards of `source` over `mesh`, loads this rank's slice with the frozen linears
    /// as `baseQuantization` (random weights seeded by `weightSeed` for a preset or a config),
    /// and builds the trainer around the adapter `makeAdapter` returns for the model's config
    /// (initialised identically on every rank, or read from a checkpoint). Collective.
    public init(source: ModelSource, mesh: ProcessMesh, baseQuantization: BaseQuantization, weightSeed: UInt64 = 0,
                stream: TrainingStream, options: TrainerOptions,
                adapter makeAdapter: (LlamaConfig) throws -> LoRAAdapter) throws {
        self.mesh = mesh
        shards = try ShardPlanner.plan(try source.config(), tp: mesh.shape.tp, columnAlignment: try source.shardColumnAlignment())
        // Each TP rank maps the file and keeps only its slice (NF4 bytes equal to one rank's).
        let model = try source.load(maxPositions: options.maxSeqLen, baseQuantization: baseQuantization,
                                    shard: shards[mesh.tpRank], group: mesh.tensorParallel, seed: weightSeed)
        adapter = try makeAdapter(model.config)
        trainer = try Trainer(model: model, shards: shards, mesh: mesh, adapter: adapter, stream: stream, options: options)
    }

    /// Takes the run's steps. Before each, `boundary(index)` (collective: the same answer on every
    /// rank) may ask for a stop: the steps taken so far are then saved as a checkpoint, unless
    /// one holds them already, and the run returns `.stopped`. Errors of a step end the run;
    /// every failure of a checkpoint write is agreed by all ranks (`SaveFailure`).
    public func run(_ run: TrainingRun, boundary: (_ index: Int) throws -> Bool = { _ in false },
                    events: (TrainingEvent) throws -> Void) throws -> TrainingOutcome {
        var lastSaved: (step: Int, directory: URL)? = run.resumedFrom.map { (run.startStep, $0) }
        for index in run.startStep..<run.endStep {
            if try boundary(index) {
                if let lastSaved, lastSaved.step == index { return .stopped(afterStep: index, checkpoint: lastSaved.directory) }
                guard index > 0, let policy = run.checkpoints else { return .stopped(afterStep: index, checkpoint: nil) }
                return .stopped(afterStep: index, checkpoint: try saveCheckpoint(step: index, policy: policy))
            }
            let report = try run.nonFinite.run(index) { try trainer.step(index, injectNonFinite: $0) }
            let step = index + 1
            let evaluate = !run.validation.isEmpty
                && ((run.evalEvery > 0 && step % run.evalEvery == 0) || step == trainer.options.steps)
            let evalLoss = evaluate ? try trainer.evaluate(run.validation).loss : nil
            if let report {
                try events(.step(report, evalLoss: evalLoss))
            } else if let note = run.nonFinite.lastSkipNote {
                try events(.skipped(step: step, note: note))
            }
            guard let policy = run.checkpoints, (policy.every > 0 && step % policy.every == 0) || step == run.endStep else { continue }
            do {
                let directory = try saveCheckpoint(step: step, policy: policy)
                lastSaved = (step, directory)
                try events(.saved(step: step, directory: directory))
            } catch let failure as SaveFailure where policy.continueOnFailure && step < run.endStep {
                // Every rank caught the same agreed failure, so all go on together.
                let next = policy.every > 0 ? min(run.endStep, (step / policy.every + 1) * policy.every) : run.endStep
                try events(.saveFailed(message: failure.message, nextSave: next))
            }
        }
        return .finished(lastCheckpoint: lastSaved?.directory)
    }
}
