// A training run as a value: what `tessera train --config FILE.yaml` reads, what its flags
// override, and what the run writes back as OUT/config.yaml. Every field starts at the CLI's
// default, so a config file only names what it changes. Keys are snake_case (the YAML and the
// written file use the same names); decoding with unknown-key and type checks lives in
// TrainConfig+Decoding.swift, the resume identity in TrainConfig+Identity.swift.

import LoRA
import LlamaModel

/// Every setting of a training run.
public struct TrainConfig: Sendable, Equatable {
    /// Where the examples come from.
    public struct DataPaths: Sendable, Equatable {
        /// Training JSONL.
        public var train: String?
        /// Validation JSONL; without it a seeded 5% of `train` is held out when evaluating.
        public var valid: String?
        /// Expected row format; `auto` accepts every format row by row.
        public var format: DataFormat = .auto
        public init(train: String? = nil, valid: String? = nil, format: DataFormat = .auto) {
            self.train = train
            self.valid = valid
            self.format = format
        }
    }

    /// Row formats of training JSONL (docs/architecture.md §10).
    public enum DataFormat: String, Sendable, Equatable, CaseIterable, Codable {
        case auto, chat, completion, text, tokens
    }

    /// PEFT's LoRA settings.
    public struct LoRASection: Sendable, Equatable {
        public var r = 16
        /// `lora_alpha`; nil means 2·r.
        public var alpha: Double?
        public var dropout = 0.0
        /// Module names, `all-linear`, or one regular expression.
        public var targets: [String] = ["q_proj", "v_proj"]
        public var rslora = false
        public var initialization: LoRAInitialization = .kaimingUniform
        public init() {}
    }

    /// AdamW hyper-parameters.
    public struct OptimizerSection: Sendable, Equatable {
        public var lr = 2e-4
        public var betas: [Double] = [0.9, 0.999]
        public var weightDecay = 0.0
        public var eps = 1e-8
        public init() {}
    }

    /// Learning-rate schedule kinds.
    public enum ScheduleType: String, Sendable, Equatable, CaseIterable, Codable {
        case constant, linear, cosine
        /// The schedule's library value.
        public var kind: LearningRateSchedule.Kind {
            switch self {
            case .constant: return .constant
            case .linear: return .linear
            case .cosine: return .cosine
            }
        }
    }

    /// Learning-rate schedule.
    public struct ScheduleSection: Sendable, Equatable {
        public var type: ScheduleType = .cosine
        /// Linear warm-up steps.
        public var warmup = 0
        public init() {}
    }

    /// How the frozen base weights are held.
    public enum BaseQuant: String, Sendable, Equatable, CaseIterable, Codable {
        case nf4, none, stored

        /// The library value; `doubleQuantization` matters for NF4 only.
        public func quantization(doubleQuantization: Bool) -> BaseQuantization {
            switch self {
            case .nf4: return .nf4(doubleQuantization: doubleQuantization)
            case .none: return .none
            case .stored: return .stored
            }
        }
    }

    /// A .gguf file or Hugging Face directory; nil: the default model.
    public var model: String?
    public var data = DataPaths()
    public var maxSeqLen = 512
    public var packing = true
    public var maskPrompt = true
    public var lora = LoRASection()
    public var optimizer = OptimizerSection()
    public var schedule = ScheduleSection()
    /// Sequences per optimizer step over all data-parallel ranks.
    public var batchSize = 8
    /// Sequences per forward on a rank; nil: from `gradAccumulation`, else the rank's whole share.
    public var microBatchSize: Int?
    /// Micro-batches per step on a rank (the other way to give `microBatchSize`).
    public var gradAccumulation: Int?
    /// Optimizer steps; nil: from `epochs`, else 100.
    public var steps: Int?
    /// Passes over the training sequences (converted to steps once the data is packed).
    public var epochs: Double?
    /// Evaluate every N steps and at the end; 0: only at the end when `data.valid` is given.
    public var evalEvery = 0
    /// Checkpoint every N steps; 0: only at the end.
    public var saveEvery = 0
    /// Checkpoints kept (oldest removed first).
    public var keepLast = 3
    /// Plain progress line every N steps when stdout is not a terminal; nil: about 5% of the run.
    public var logEvery: Int?
    public var seed: UInt64 = 0
    public var tp = 1
    public var baseQuant: BaseQuant = .nf4
    public var doubleQuant = true
    public var activationCheckpointing = ActivationCheckpointing.full
    public var outputDir = "out"
    /// Global gradient-norm clipping; 0 disables it.
    public var maxGradNorm = 1.0

    /// The defaults of `tessera train`.
    public init() {}

    /// The default number of steps when neither `steps` nor `epochs` is given.
    public static let defaultSteps = 100

    /// Checks values that do not depend on the data or the mesh; messages name the key.
    public func validate() throws(TrainConfigError) {
        func require(_ ok: Bool, _ key: String, _ detail: String) throws(TrainConfigError) {
            if !ok { throw .invalidValue(key: key, detail: detail) }
        }
        try require(data.train != nil, "data.train", "no training data: set data.train in the config or pass --data")
        try require(maxSeqLen >= 2, "max_seq_len", "must be at least 2, got \(maxSeqLen)")
        try require(lora.r >= 1, "lora.r", "must be at least 1, got \(lora.r)")
        try require(lora.dropout >= 0 && lora.dropout < 1, "lora.dropout", "must be in [0, 1), got \(lora.dropout)")
        try require(!lora.targets.isEmpty, "lora.targets", "name at least one module (e.g. [q_proj, v_proj] or all-linear)")
        try require(optimizer.lr > 0 && optimizer.lr.isFinite, "optimizer.lr", "must be positive, got \(optimizer.lr)")
        try require(optimizer.betas.count == 2 && optimizer.betas.allSatisfy { $0 >= 0 && $0 < 1 }, "optimizer.betas",
                    "must be two numbers in [0, 1), got \(optimizer.betas)")
        try require(optimizer.eps > 0, "optimizer.eps", "must be positive, got \(optimizer.eps)")
        try require(optimizer.weightDecay >= 0, "optimizer.weight_decay", "must not be negative, got \(optimizer.weightDecay)")
        try require(schedule.warmup >= 0, "schedule.warmup", "must not be negative, got \(schedule.warmup)")
        try require(batchSize >= 1, "batch_size", "must be at least 1, got \(batchSize)")
        try require(microBatchSize == nil || gradAccumulation == nil, "micro_batch_size",
                    "give micro_batch_size or grad_accumulation, not both")
        try require((microBatchSize ?? 1) >= 1, "micro_batch_size", "must be at least 1")
        try require((gradAccumulation ?? 1) >= 1, "grad_accumulation", "must be at least 1")
        try require(steps == nil || epochs == nil, "steps", "give steps or epochs, not both")
        try require((steps ?? 1) >= 1, "steps", "must be at least 1, got \(steps ?? 0)")
        try require(epochs.map { $0 > 0 && $0.isFinite } ?? true, "epochs", "must be positive")
        try require(evalEvery >= 0, "eval_every", "must not be negative (0: evaluate at the end only)")
        try require(saveEvery >= 0, "save_every", "must not be negative (0: checkpoint at the end only)")
        try require(keepLast >= 1, "keep_last", "must be at least 1, got \(keepLast)")
        try require((logEvery ?? 1) >= 1, "log_every", "must be at least 1")
        try require(tp >= 1, "tp", "must be at least 1, got \(tp)")
        try require(maxGradNorm >= 0, "max_grad_norm", "must not be negative (0 disables clipping)")
    }

    /// PEFT's target specification for `lora.targets`.
    public var targetModules: TargetModules {
        if lora.targets == ["all-linear"] { return .allLinear }
        if lora.targets.count == 1, lora.targets[0].contains(where: { "^$*+?()[]{}|\\".contains($0) }) {
            return .regex(lora.targets[0])
        }
        return .names(lora.targets)
    }

    /// The PEFT configuration of the adapter this run trains.
    public func loraConfig(baseModel: String?) -> LoRAConfig {
        LoRAConfig(r: lora.r, loraAlpha: lora.alpha ?? Double(2 * lora.r), loraDropout: lora.dropout,
                   targetModules: targetModules, useRSLoRA: lora.rslora, initLoRAWeights: lora.initialization,
                   baseModelNameOrPath: baseModel)
    }

    /// The frozen-weight representation.
    public var baseQuantization: BaseQuantization { baseQuant.quantization(doubleQuantization: doubleQuant) }

    /// Optimizer steps once the data is known: `steps`, else `epochs` over `sequencesPerEpoch`.
    public func resolvedSteps(sequencesPerEpoch: Int) -> Int {
        if let steps { return steps }
        guard let epochs else { return Self.defaultSteps }
        let sequences = (epochs * Double(sequencesPerEpoch)).rounded(.up)
        return max(1, Int(sequences) / batchSize + (Int(sequences) % batchSize == 0 ? 0 : 1))
    }

    /// Micro-batch size on each of `dataParallel` ranks (nil: the rank's whole share).
    public func resolvedMicroBatchSize(dataParallel: Int) -> Int? {
        if let microBatchSize { return microBatchSize }
        guard let gradAccumulation else { return nil }
        let share = max(1, batchSize / max(dataParallel, 1))
        return max(1, share / gradAccumulation)
    }

    /// The step loop's options for a run of `steps` steps on `dataParallel` ranks.
    public func trainerOptions(steps: Int, dataParallel: Int) -> TrainerOptions {
        TrainerOptions(steps: steps, globalBatchSize: batchSize, microBatchSize: resolvedMicroBatchSize(dataParallel: dataParallel),
                       maxSeqLen: maxSeqLen, packing: packing, learningRate: optimizer.lr, schedule: schedule.type.kind,
                       warmupSteps: schedule.warmup, beta1: optimizer.betas.first ?? 0.9, beta2: optimizer.betas.last ?? 0.999,
                       epsilon: optimizer.eps, weightDecay: optimizer.weightDecay,
                       maxGradNorm: maxGradNorm > 0 ? maxGradNorm : nil, seed: seed,
                       activationCheckpointing: activationCheckpointing)
    }
}
