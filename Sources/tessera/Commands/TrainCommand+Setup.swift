// Set-up of `tessera train`: the resolved config (file, then flags), the model shard, the data
// with its validation split, the output-directory checks and, with --resume, the checkpoint's
// adapter and optimizer state. Runs on every rank inside one agreed phase.
import ArgumentParser
import Collectives
import Foundation
import LlamaModel
import ModelIO
import LoRA
import ProcessGroups
import Parallelism
import Tokenization
import Training

extension TrainCommand {
    struct Setup {
        /// Mesh, shards, the loaded slice, the trainer and the full adapter.
        let session: TrainingSession
        /// Resolved settings; `steps` is set, `epochs` cleared.
        let config: TrainConfig
        let steps: Int
        /// Steps already done (0, or the checkpoint's step).
        let startStep: Int
        let resumedFrom: URL?
        /// A line saying which damaged checkpoints --resume skipped; nil when none.
        let resumeNote: String?
        let validSequences: [PackedSequence]
        let validDescription: String
        let examples: Int
        let truncated: Int
        let baseParameters: Int
        let modelDescription: String
        let configIdentity: [String: String]
        let modelIdentity: String
    }

    /// The config file's settings with every given flag applied on top.
    func resolvedConfig() throws -> TrainConfig {
        var c = try config.map { try TrainConfigFile.load($0) } ?? TrainConfig()
        c.model = modelOption.model ?? c.model ?? modelOption.resolved
        if Self.given("--base-quant") { c.baseQuant = baseQuant.baseQuant }
        if Self.given("--double-quant", "--no-double-quant") { c.doubleQuant = baseQuant.doubleQuant }
        if let data { c.data.train = data }
        if let valid { c.data.valid = valid }
        if let steps { (c.steps, c.epochs) = (steps, nil) }
        if let epochs { (c.epochs, c.steps) = (epochs, nil) }
        if let batchSize { c.batchSize = batchSize }
        if let microBatchSize { (c.microBatchSize, c.gradAccumulation) = (microBatchSize, nil) }
        if let gradAccumulation { (c.gradAccumulation, c.microBatchSize) = (gradAccumulation, nil) }
        if let maxSeqLen { c.maxSeqLen = maxSeqLen }
        if let packing { c.packing = packing }
        if let maskPrompt { c.maskPrompt = maskPrompt }
        if let lr { c.optimizer.lr = lr }
        if let schedule { c.schedule.type = schedule }
        if let warmup { c.schedule.warmup = warmup }
        if let weightDecay { c.optimizer.weightDecay = weightDecay }
        if let adamBeta1, !c.optimizer.betas.isEmpty { c.optimizer.betas[0] = adamBeta1 }
        if let adamBeta2, c.optimizer.betas.count == 2 { c.optimizer.betas[1] = adamBeta2 }
        if let adamEps { c.optimizer.eps = adamEps }
        if let maxGradNorm { c.maxGradNorm = maxGradNorm }
        if let r = lora.loraR { c.lora.r = r }
        if let alpha = lora.loraAlpha { c.lora.alpha = alpha }
        if Self.given("--lora-dropout") { c.lora.dropout = lora.loraDropout }
        if let targets = lora.loraTargets {
            let isRegex = targets.contains(where: { "^$*+?()[]{}|\\".contains($0) })
            c.lora.targets = isRegex ? [targets] : targets.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        if Self.given("--rslora") { c.lora.rslora = lora.rslora }
        if let seed { c.seed = seed }
        if let tp { c.tp = tp }
        if let mode = checkpointing.chosen { c.activationCheckpointing = mode }
        if let out { c.outputDir = out }
        if let evalEvery { c.evalEvery = evalEvery }
        if let saveEvery { c.saveEvery = saveEvery }
        if let keepLast { c.keepLast = keepLast }
        if let logEvery { c.logEvery = logEvery }
        try c.validate()
        return c
    }

    /// The memory guard for this job on this rank's host (docs/preemption.md): the line for the
    /// set-up summary, or a `MemoryGuardError` refusing the job. Reads only the model's header.
    /// Any other error returns nil: `prepare` reports it with its usual message.
    func checkMemory(world: Communicator) throws -> String? {
        guard let config = try? resolvedConfig(), let path = try? ModelPath(config.model ?? modelOption.resolved),
              let summary = try? ModelSummary(path: path),
              let targets = try? config.loraConfig(baseModel: nil).targets(for: summary.config),
              let shape = try? MeshShape(world: world.size, tp: config.tp) else { return nil }
        let job = PlannedJob(globalBatchSize: config.batchSize, seqLen: config.maxSeqLen, loraRank: config.lora.r,
                             targets: targets, microBatchSize: config.resolvedMicroBatchSize(dataParallel: shape.dp),
                             checkpointing: config.activationCheckpointing)
        let memoryGuard = MemoryGuard(config: summary.config, job: job, tp: config.tp, worldSize: world.size,
                                      ranksOnHost: MemoryCheck.ranksOnHost,
                                      embeddingBytesPerParameter: summary.embeddingBytesPerParameter,
                                      baseQuantization: config.baseQuantization,
                                      linearBytesPerParameter: summary.linearBytesPerParameter)
        return try MemoryCheck.run(memoryGuard, force: force)
    }

    func prepare(world: Communicator) throws -> Setup {
        var config = try resolvedConfig()
        let mesh = try ProcessMesh(world: world, tp: config.tp)
        let modelPath = config.model ?? modelOption.resolved
        let path = try ModelPath(modelPath)
        let tokenizer = try BPETokenizer(path.tokenizerDefinition())
        let encoder = ExampleEncoder(tokenizer: tokenizer, template: try templateOption.resolve(for: tokenizer), maskPrompt: config.maskPrompt)

        guard let trainPath = config.data.train else { throw TrainConfigError.invalidValue(key: "data.train", detail: "no training data") }
        var examples = try encodeRows(trainPath, encoder: encoder, format: config.data.format)
        var validExamples: [TokenizedExample] = []
        var validDescription = ""
        if let validPath = config.data.valid {
            validExamples = try encodeRows(validPath, encoder: encoder, format: config.data.format)
            validDescription = "\(validExamples.count) examples from \(validPath)"
        } else if config.holdsOutValidation {
            let split = ValidationSplit.holdOut(rowCount: examples.count, seed: config.seed)
            validExamples = split.valid.map { examples[$0] }
            examples = split.train.map { examples[$0] }
            validDescription = "\(validExamples.count) training examples held out (seeded \(Int(ValidationSplit.fraction * 100))%)"
        }
        let validSequences = SequencePacker.pack(validExamples, order: Array(validExamples.indices),
                                                 maxSeqLen: config.maxSeqLen, packing: config.packing).sequences
        let stream = try TrainingStream(examples: examples, maxSeqLen: config.maxSeqLen, packing: config.packing, seed: config.seed)
        let steps = config.resolvedSteps(sequencesPerEpoch: stream.sequencesPerEpoch)
        (config.steps, config.epochs) = (steps, nil)

        let digests = (train: try RunIdentity.file(trainPath), valid: try config.data.valid.map { path throws(CheckpointError) in try RunIdentity.file(path) })
        let configIdentity = config.resumeIdentity(steps: steps, dataDigests: digests)
        let modelIdentity = try RunIdentity.model(modelPath)
        let resumePoint = try checkpointToResume(config: config, steps: steps, configIdentity: configIdentity, modelIdentity: modelIdentity)
        let checkpoint = resumePoint?.checkpoint

        var options = config.trainerOptions(steps: steps, dataParallel: mesh.shape.dp)
        options.compute = computeOption.compute
        let session = try TrainingSession(source: .weights(path), mesh: mesh, baseQuantization: config.baseQuantization,
                                          stream: stream, options: options) { model in
            try checkpoint.map { try LoRAAdapter.load(from: $0.adapterDirectory, model: model) }
                ?? LoRAAdapter(config: config.loraConfig(baseModel: modelPath), model: model, seed: config.seed)
        }
        if let checkpoint { try session.restoreOptimizer(from: checkpoint) }
        let model = session.model
        let summary = "\(model.config.modelType), \(model.config.numHiddenLayers) layers, base \(config.baseQuantization)"
        return Setup(session: session, config: config, steps: steps,
                     startStep: checkpoint?.state.step ?? 0, resumedFrom: checkpoint?.directory, resumeNote: resumePoint?.note,
                     validSequences: validSequences, validDescription: validDescription, examples: examples.count,
                     truncated: stream.truncatedPerEpoch.first ?? 0,
                     baseParameters: try ModelSummary(path: path).parameterCount, modelDescription: summary,
                     configIdentity: configIdentity, modelIdentity: modelIdentity)
    }

    /// The checkpoint --resume / --resume-from names, checked against this run; nil for a new
    /// run, which must not land in a directory that holds another run unless --overwrite.
    private func checkpointToResume(config: TrainConfig, steps: Int, configIdentity: [String: String],
                                    modelIdentity: String) throws -> (checkpoint: Checkpoint, note: String?)? {
        let outputDirectory = URL(fileURLWithPath: config.outputDir)
        let store = CheckpointStore(outputDirectory: outputDirectory)
        guard resume || resumeFrom != nil else {
            let marks = ["config.yaml", "adapter/adapter_model.safetensors"].filter {
                FileManager.default.fileExists(atPath: outputDirectory.appendingPathComponent($0).path)
            }
            if !overwrite, !marks.isEmpty || !store.completed().isEmpty {
                throw ValidationError("\(outputDirectory.path) already holds a training run (\((marks + (store.completed().isEmpty ? [] : ["checkpoints"])).joined(separator: ", "))); pass --resume to continue it, --overwrite to replace it, or choose another --out")
            }
            return nil
        }
        let checkpoint: Checkpoint
        var note: String?
        if let resumeFrom {
            // A checkpoint named explicitly is used as it is or refused; no fallback.
            checkpoint = try Checkpoint(directory: URL(fileURLWithPath: resumeFrom))
        } else {
            // The newest checkpoint that verifies; damaged newer ones are named, never used.
            let point = store.newestVerified()
            guard let latest = point.checkpoint else {
                if let fallback = point.fallbackNote {
                    throw ValidationError("--resume: \(fallback); start again with --overwrite or name a checkpoint with --resume-from PATH")
                }
                throw ValidationError("--resume: \(store.root.path) holds no finished checkpoint; start without --resume or name one with --resume-from PATH")
            }
            checkpoint = latest
            note = point.fallbackNote
        }
        try checkpoint.state.checkCompatible(configIdentity: configIdentity, modelIdentity: modelIdentity, tp: config.tp)
        guard checkpoint.state.step < steps else {
            throw ValidationError("\(checkpoint.directory.path) is the end of the run (step \(checkpoint.state.step) of \(steps)); nothing to resume")
        }
        return (checkpoint, note)
    }

    /// Tokenized rows of a JSONL file; a row of the wrong format or that cannot be encoded is an
    /// error naming file:line.
    private func encodeRows(_ path: String, encoder: ExampleEncoder, format: TrainConfig.DataFormat) throws -> [TokenizedExample] {
        let file = try JSONLFile(path: path, skipInvalid: skipInvalid)
        var examples: [TokenizedExample] = []
        var skipped = file.skipped.count
        for (line, row) in file.rows {
            let kind: TrainConfig.DataFormat
            switch row {
            case .chat: kind = .chat
            case .promptCompletion: kind = .completion
            case .text: kind = .text
            case .tokens: kind = .tokens
            }
            guard format == .auto || format == kind else {
                throw DataError.invalidRow(file: path, line: line, detail: "a \(kind.rawValue) row, but data.format is \(format.rawValue)")
            }
            do { examples.append(try encoder.encode(row)) } catch {
                if skipInvalid { skipped += 1; continue }
                throw DataError.invalidRow(file: path, line: line, detail: error.description)
            }
        }
        if skipped > 0 {
            FileHandle.standardError.write(Data("warning: \(path): skipped \(skipped) invalid line(s) (--skip-invalid)\n".utf8))
        }
        return examples
    }
}
