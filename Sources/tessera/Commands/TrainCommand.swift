import ArgumentParser
import CSignals
import Collectives
import Foundation
import ProcessGroups
import Kernels
import LlamaModel
import ModelIO
import LoRA
import Parallelism
import Tokenization
import Training

/// `tessera train`: LoRA/QLoRA fine-tuning across the ranks of an `mpirun` job. Settings come
/// from `--config FILE.yaml` (TrainConfig's keys) and flags, flags winning; set-up and resume
/// are in TrainCommand+Setup.swift, checkpoints and metrics in TrainCommand+Output.swift.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a LoRA adapter on a frozen (NF4) base model, across MPI ranks.",
        discussion: """
            Launch with mpirun for several processes: --tp ranks share one copy of the model \
            (tensor parallel) and the remaining factor splits each batch (data parallel).
            Example: mpirun -np 2 tessera train --config examples/support.yaml

            A YAML config holds the same settings as the flags, in snake_case (model, data: {train, \
            valid, format}, max_seq_len, packing, mask_prompt, lora: {r, alpha, dropout, targets, \
            rslora, init}, optimizer: {lr, betas, weight_decay, eps}, schedule: {type, warmup}, \
            batch_size, micro_batch_size or grad_accumulation, steps or epochs, eval_every, \
            save_every, keep_last, log_every, seed, tp, base_quant, double_quant, \
            activation_checkpointing, output_dir, max_grad_norm); a flag overrides its key. The \
            resolved settings are written to OUT/config.yaml.

            Checkpoints go to OUT/checkpoints/step-NNNNNN every --save-every steps and at the end \
            (adapter in PEFT layout, AdamW moments per tensor-parallel rank, step and seed, a \
            manifest with SHA-256 checksums); the last --keep-last are kept. --resume continues \
            from the latest one (--resume-from a given one): with the same mesh every later step's \
            loss equals the uninterrupted run's bit for bit; with another number of data-parallel \
            ranks (same tp, same global batch) the per-step losses agree within 1e-5 (sums are \
            reduced in another order). --stop-after N ends after N steps as if interrupted, keeping \
            the full run's schedule.

            SIGTERM, SIGINT or SIGUSR1 to any rank (or SIGUSR1 to mpirun, which forwards it) stops \
            every rank after the current step: that step is saved as a checkpoint, rank 0 prints \
            "stopped at step N, checkpoint PATH" and the exit code is 0 (--exit-code-on-signal: \
            128 + signal). A second signal exits at once with 128 + signal; the previous \
            checkpoint stays intact. A checkpoint write that fails (disk full) stops every rank \
            with exit 1, or warns and retries at the next save with --on-save-error continue. \
            --resume skips damaged checkpoints (SHA-256 manifest), saying so. See \
            docs/preemption.md.
            """)

    @Option(help: "YAML training config (flags override its keys).") var config: String?
    @OptionGroup var modelOption: ModelOption
    @OptionGroup var baseQuant: BaseQuantOption
    @OptionGroup var templateOption: ChatTemplateOption
    @Option(help: "Training data (JSONL: messages, prompt/completion, text or input_ids rows).") var data: String?
    @Option(help: "Validation data (default: a seeded 5% of the training rows when --eval-every is set).") var valid: String?
    @Option(help: "Optimizer steps (default 100).") var steps: Int?
    @Option(help: "Passes over the training data, instead of --steps.") var epochs: Double?
    @Option(help: "Sequences per optimizer step, over all data-parallel ranks (default 8).") var batchSize: Int?
    @Option(help: "Sequences per forward/backward on a rank (the rest is gradient accumulation).") var microBatchSize: Int?
    @Option(help: "Micro-batches per step on a rank (instead of --micro-batch-size).") var gradAccumulation: Int?
    @Option(help: "Tokens per sequence (default 512).") var maxSeqLen: Int?
    @Flag(inversion: .prefixedNo, help: "Pack several examples into one sequence (default on).") var packing: Bool?
    @Flag(inversion: .prefixedNo, help: "Count only assistant turns and completions in the loss (default on).") var maskPrompt: Bool?
    @Option(help: "Peak learning rate (default 2e-4).") var lr: Double?
    @Option(help: "Learning-rate schedule: constant, linear or cosine (default cosine).") var schedule: TrainConfig.ScheduleType?
    @Option(help: "Warm-up steps.") var warmup: Int?
    @Option(help: "AdamW weight decay.") var weightDecay: Double?
    @Option(help: "AdamW beta1 (default 0.9).") var adamBeta1: Double?
    @Option(help: "AdamW beta2 (default 0.999).") var adamBeta2: Double?
    @Option(help: "AdamW epsilon (default 1e-8).") var adamEps: Double?
    @Option(help: "Global gradient-norm clipping, 0 disables (default 1).") var maxGradNorm: Double?
    @OptionGroup var lora: LoRAOptions
    @Option(help: "Random seed (adapter init, data order, dropout, validation split).") var seed: UInt64?
    @Option(help: "Tensor-parallel ranks per model copy.") var tp: Int?
    @OptionGroup var checkpointing: CheckpointingOption
    @OptionGroup var computeOption: ComputeOption
    @Option(help: "Output directory (default out): adapter, checkpoints, metrics.jsonl, config.yaml.") var out: String?
    @Option(help: "Write one JSON line per step to this file (default OUT/metrics.jsonl).") var metrics: String?
    @Option(help: "Also report metrics to: tensorboard (event files in OUT/tensorboard; `tensorboard --logdir OUT`) or none.")
    var reportTo: [ReportTarget] = [.tensorboard]
    @Option(help: "Evaluate the validation loss every N steps and at the end (0: at the end, with --valid only).") var evalEvery: Int?
    @Option(help: "Checkpoint every N steps (0: only at the end).") var saveEvery: Int?
    @Option(help: "Checkpoints to keep (default 3).") var keepLast: Int?
    @Option(help: "Progress line every N steps when stdout is not a terminal (default ~5% of the run).") var logEvery: Int?
    @Option(help: "Progress display on rank 0: bar (one live line), log (plain lines) or auto (bar on a terminal; mpirun gives ranks a terminal even when its own output is a file, so pass log there).")
    var progress: ProgressStyle = .auto
    @Flag(help: "Continue from the latest checkpoint in OUT/checkpoints.") var resume = false
    @Option(help: "Continue from this checkpoint directory.") var resumeFrom: String?
    @Option(help: "End after N steps of this invocation as if interrupted (checkpoint saved, full schedule kept).") var stopAfter: Int?
    @Flag(help: "Replace a run already in the output directory (its checkpoints are removed).") var overwrite = false
    @Flag(help: "Skip data lines that are invalid or cannot be encoded (counted and reported) instead of stopping.") var skipInvalid = false
    @Flag(help: "After a graceful stop on a signal, exit with 128 + the signal number instead of 0.") var exitCodeOnSignal = false
    @Option(help: "When a checkpoint write fails (disk full, quota, I/O error): stop (exit 1 on every rank) or continue (warn and retry at the next save; the final save must succeed).")
    var onSaveError: SaveErrorPolicy = .stop
    @Option(help: "Skip up to N steps whose loss or gradient is NaN/Inf (no update; counted and reported) instead of stopping at the first.") var skipNonfinite = 0
    @Flag(help: "Skip the memory check: without it a job whose estimated memory per rank (tessera plan's formula) exceeds the host's memory (cgroup limit or MemAvailable) divided by its ranks is refused before the model is loaded.")
    var force = false

    func validate() throws {
        if let stopAfter, stopAfter < 1 { throw ValidationError("--stop-after must be at least 1") }
        if skipNonfinite < 0 { throw ValidationError("--skip-nonfinite must be 0 or more") }
        if resume && resumeFrom != nil { throw ValidationError("give --resume or --resume-from PATH, not both") }
        if (resume || resumeFrom != nil) && overwrite { throw ValidationError("--overwrite starts a new run; it cannot be combined with --resume") }
    }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            let started = monotonicSeconds()
            // Everything a rank can get wrong on its own is checked in one agreed phase, so a bad
            // file on one host ends the job cleanly on every rank.
            try checkRanksAgree(world)
            // From here a signal asks for a stop at the next step boundary (docs/preemption.md).
            try world.agreed { try GracefulStop.install() }
            // Before the model is loaded, on every rank (hosts differ), refused on one line.
            let memoryLine = try world.agreed { try checkMemory(world: world) }
            let setup = try world.agreed { try prepare(world: world) }
            let config = setup.config
            // Every rank chose its checkpoint itself; on storage that hosts see differently they
            // could disagree, and ranks at different steps would train garbage or hang.
            let startSteps = try world.allReduce([Int64(setup.startStep), -Int64(setup.startStep)], .max)
            if startSteps[0] != -startSteps[1] {
                throw AgreedFailure(message: "the ranks would resume from different steps (\(-startSteps[1]) to \(startSteps[0])): every rank must see the same OUT/checkpoints; use --resume-from PATH on a shared file system")
            }
            if world.isRoot { printSummary(setup, memoryLine: memoryLine, started: started) }
            var metricsFile = try world.agreed { world.isRoot ? try startOutput(setup) : nil }
            let progress = world.isRoot ? TrainProgress(totalSteps: setup.steps, startStep: setup.startStep, logEvery: config.logEvery,
                                                            isTerminal: progress.isTerminal) : nil
            let end = stopAfter.map { min(setup.steps, setup.startStep + $0) } ?? setup.steps
            let fault = FaultInjection.fromEnvironment
            let nonFinite = NonFiniteSteps(limit: skipNonfinite, injected: NonFiniteInjection.fromEnvironment)
            let policy = CheckpointPolicy(store: CheckpointStore(outputDirectory: URL(fileURLWithPath: config.outputDir)),
                                          every: config.saveEvery, keepLast: config.keepLast, continueOnFailure: onSaveError == .continue,
                                          configIdentity: setup.configIdentity, modelIdentity: setup.modelIdentity)
            let run = TrainingRun(startStep: setup.startStep, endStep: end, evalEvery: config.evalEvery, validation: setup.validSequences,
                                  checkpoints: policy, resumedFrom: setup.resumedFrom, nonFinite: nonFinite)
            var signal: Int32 = 0
            let outcome = try setup.session.run(run, boundary: { index in
                // Step boundary: stop here, all ranks together, if any rank got a signal.
                signal = try GracefulStop.agreedSignal(world)
                if signal == 0 { try fault?.check(rank: world.rank, step: index + 1) }
                return signal != 0
            }, events: { event in
                switch event {
                case .step(let report, let evalLoss):
                    guard world.isRoot else { return }
                    if let file = metricsFile {
                        // Metrics are a record, not state: a full disk must not end the run here
                        // (the checkpoint write reports it); say so once and stop writing them.
                        do { try file.write(report, evalLoss: evalLoss) } catch {
                            Console.error("warning: cannot write \(file.path): \(error.localizedDescription); metrics.jsonl stops at step \(report.step - 1), training continues")
                            metricsFile = nil
                        }
                    }
                    progress?.step(report, evalLoss: evalLoss)
                case .skipped(_, let note):
                    progress?.note(note)
                case .saved(_, let directory):
                    progress?.note("checkpoint: \(directory.path)")
                case .saveFailed(let message, let next):
                    if world.isRoot {
                        Console.error("warning: \(message); training continues (--on-save-error continue), next save at step \(next)")
                    }
                }
            })
            progress?.finish()
            let lastCheckpoint: URL?
            switch outcome {
            case .stopped(let step, let checkpoint):
                reportStop(after: step, signal: signal, checkpoint: checkpoint, config: config, world: world)
                throw SessionExit(code: exitCodeOnSignal ? 128 + signal : 0)
            case .finished(let checkpoint):
                lastCheckpoint = checkpoint
            }
            if world.isRoot, let summary = nonFinite.summary { Console.print(summary) }
            guard end == setup.steps else {
                if world.isRoot {
                    Console.print("stopped after step \(end) of \(setup.steps) (--stop-after); continue with: tessera train --resume (same config and --out \(config.outputDir))")
                }
                return
            }
            let directory = URL(fileURLWithPath: config.outputDir).appendingPathComponent("adapter")
            // Agreed, so a full disk on rank 0 ends every rank with one message.
            try setup.session.saveAdapter(to: directory, lastCheckpoint: lastCheckpoint)
            // Every rank's peak: ranks differ (rank 0 holds the data, tp shards differ).
            let peaks = try world.allGather([Int64(ProcessMemory.peakResidentBytes())])
            if world.isRoot {
                Console.print("saved \(directory.path) (adapter_config.json, adapter_model.safetensors); metrics in \(metricsPath(config))")
                Console.print(String(format: "done in %.1f s, peak RSS per rank: %@", monotonicSeconds() - started,
                                     peaks.map { String(format: "%.0f MB", Double($0) / 1e6) }.joined(separator: ", ")))
            }
        }
    }

    /// Rank 0's line for a graceful stop after `step` steps (the session saved the step as a
    /// checkpoint unless one held it already); every rank then ends with exit 0 (128 + signal
    /// with --exit-code-on-signal).
    private func reportStop(after step: Int, signal: Int32, checkpoint: URL?, config: TrainConfig, world: Communicator) {
        guard world.isRoot else { return }
        let since = ts_stop_seconds_since_signal()
        let received = since >= 0 ? "received \(GracefulStop.name(signal)) " + String(format: "%.1f s ago", since)
            : "\(GracefulStop.name(signal)) on another rank"
        if let checkpoint {
            Console.print("stopped at step \(step), checkpoint \(checkpoint.path) (\(received); continue with: tessera train --resume, same config and --out \(config.outputDir))")
        } else {
            Console.print("stopped at step 0, no checkpoint (\(received), before the first step)")
        }
    }

    private func printSummary(_ setup: Setup, memoryLine: String?, started: Double) {
        let trainer = setup.session.trainer
        Console.print("mesh: \(setup.session.mesh.shape); this shard: \(trainer.shard)")
        Console.print("model: \(setup.modelDescription)")
        Console.print("frozen linears: \(computeOption.description)")
        let truncated = setup.truncated > 0 ? " (\(setup.truncated) truncated)" : ""
        Console.print("data: \(setup.examples) examples → \(trainer.stream.sequencesPerEpoch) sequences of ≤ \(setup.config.maxSeqLen) tokens per epoch\(truncated); \(setup.steps) steps of \(setup.config.batchSize) sequences")
        if !setup.validSequences.isEmpty {
            Console.print("validation: \(setup.validDescription), \(setup.validSequences.count) sequences")
        }
        if let note = setup.resumeNote { Console.print("warning: \(note)") }
        if let resumed = setup.resumedFrom {
            Console.print("resuming from \(resumed.path) at step \(setup.startStep)")
        }
        if let memoryLine { Console.print(memoryLine) }
        Console.print(String(format: "LoRA: %@; memory per rank: activations %.0f MB, peak RSS so far %.0f MB; set-up %.1f s",
                             setup.session.adapter.trainableParametersLine(totalBaseParameters: setup.baseParameters),
                             Double(trainer.workspaceBytes) / 1e6, Double(ProcessMemory.peakResidentBytes()) / 1e6,
                             monotonicSeconds() - started))
    }

    /// `--metrics`, else OUT/metrics.jsonl.
    func metricsPath(_ config: TrainConfig) -> String {
        metrics ?? (config.outputDir as NSString).appendingPathComponent("metrics.jsonl")
    }

    /// True when `flag` (`--name`) was typed, for options whose default cannot be told apart from
    /// an explicit value (shared option groups with non-optional defaults).
    static func given(_ flags: String...) -> Bool {
        CommandLine.arguments.dropFirst().contains { argument in
            flags.contains { argument == $0 || argument.hasPrefix($0 + "=") }
        }
    }
}

extension TrainConfig.ScheduleType: ExpressibleByArgument {}

/// `--progress`.
enum ProgressStyle: String, ExpressibleByArgument, CaseIterable {
    case auto, bar, log
    var isTerminal: Bool {
        switch self {
        case .auto: return isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TESSERA_PROGRESS"] != "log"
        case .bar: return true
        case .log: return false
        }
    }
}
