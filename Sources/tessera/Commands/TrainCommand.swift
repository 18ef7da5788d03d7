import ArgumentParser
import Collectives
import Foundation
import Kernels
import LlamaModel
import LoRA
import Parallelism
import Tokenization
import Training

/// `tessera train`: LoRA/QLoRA fine-tuning across the ranks of an `mpirun` job.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a LoRA adapter on a frozen (NF4) base model, across MPI ranks.",
        discussion: """
            Launch with mpirun for several processes: --tp ranks share one copy of the model \
            (tensor parallel) and the remaining factor splits each batch (data parallel).
            Example: mpirun -np 2 tessera train --data train.jsonl --steps 100 --out out
            """)

    @OptionGroup var modelOption: ModelOption
    @OptionGroup var baseQuant: BaseQuantOption
    @OptionGroup var templateOption: ChatTemplateOption
    @Option(help: "Training data (JSONL: messages, prompt/completion, text or input_ids rows).") var data: String
    @Option(help: "Optimizer steps.") var steps = 100
    @Option(help: "Sequences per optimizer step, over all data-parallel ranks.") var batchSize = 8
    @Option(help: "Sequences per forward/backward on a rank (the rest is gradient accumulation).") var microBatchSize: Int?
    @Option(help: "Tokens per sequence.") var maxSeqLen = 512
    @Flag(inversion: .prefixedNo, help: "Pack several examples into one sequence.") var packing = true
    @Flag(inversion: .prefixedNo, help: "Count only assistant turns and completions in the loss.") var maskPrompt = true
    @Option(help: "Peak learning rate.") var lr = 2e-4
    @Option(help: "Learning-rate schedule: constant, linear or cosine.") var schedule: ScheduleKind = .cosine
    @Option(help: "Warm-up steps.") var warmup = 0
    @Option(help: "AdamW weight decay.") var weightDecay = 0.0
    @Option(help: "AdamW beta1.") var adamBeta1 = 0.9
    @Option(help: "AdamW beta2.") var adamBeta2 = 0.999
    @Option(help: "AdamW epsilon.") var adamEps = 1e-8
    @Option(help: "Global gradient-norm clipping (0 disables).") var maxGradNorm = 1.0
    @OptionGroup var lora: LoRAOptions
    @Option(help: "Random seed (adapter init, data order, dropout).") var seed: UInt64 = 0
    @Option(help: "Tensor-parallel ranks per model copy.") var tp = 1
    @Flag(inversion: .prefixedNo, help: "Recompute activations per layer in the backward (saves memory).") var activationCheckpointing = true
    @Option(help: "Output directory (the adapter goes to OUT/adapter).") var out = "out"
    @Option(help: "Write one JSON line per step to this file (default OUT/metrics.jsonl).") var metrics: String?
    @Flag(help: "Replace an existing adapter in the output directory.") var overwrite = false

    enum ScheduleKind: String, ExpressibleByArgument, CaseIterable {
        case constant, linear, cosine
        var kind: LearningRateSchedule.Kind {
            switch self {
            case .constant: return .constant
            case .linear: return .linear
            case .cosine: return .cosine
            }
        }
    }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            let started = monotonicSeconds()
            // Everything a rank can get wrong on its own is checked in one agreed phase, so a bad
            // file on one host ends the job cleanly on every rank.
            let setup = try MPISession.agreed(world) { try prepare(world: world) }
            let (trainer, fullAdapter, mesh) = (setup.trainer, setup.adapter, setup.mesh)
            if world.isRoot {
                Console.print("mesh: \(mesh.shape); this shard: \(trainer.shard)")
                Console.print("model: \(setup.modelDescription)")
                Console.print("data: \(setup.examples) examples → \(trainer.stream.sequencesPerEpoch) sequences of ≤ \(maxSeqLen) tokens per epoch\(setup.truncated > 0 ? " (\(setup.truncated) truncated)" : "")")
                Console.print(String(format: "LoRA: %@; memory per rank: activations %.0f MB, peak RSS so far %.0f MB; set-up %.1f s",
                                     fullAdapter.trainableParametersLine(totalBaseParameters: setup.baseParameters),
                                     Double(trainer.workspaceBytes) / 1e6, Double(ProcessMemory.peakResidentBytes()) / 1e6,
                                     monotonicSeconds() - started))
            }
            let metricsPath = metrics ?? (out as NSString).appendingPathComponent("metrics.jsonl")
            let metricsFile = world.isRoot ? try MetricsWriter(path: metricsPath) : nil
            let fault = FaultInjection.fromEnvironment
            for index in 0..<steps {
                try fault?.check(rank: world.rank, step: index + 1)
                let report = try trainer.step(index)
                if world.isRoot {
                    try metricsFile?.write(report)
                    Console.print(String(format: "step %d/%d  loss %.4f  lr %.2e  grad_norm %.3f  %.0f tokens/s  epoch %.2f",
                                         report.step, steps, report.loss, report.learningRate, report.gradNorm,
                                         report.tokensPerSecond, report.epoch))
                }
            }
            try trainer.gatherAdapter(into: fullAdapter)
            if world.isRoot {
                let directory = URL(fileURLWithPath: out).appendingPathComponent("adapter")
                try fullAdapter.save(to: directory)
                Console.print("saved \(directory.path) (adapter_config.json, adapter_model.safetensors); metrics in \(metricsPath)")
                Console.print(String(format: "done in %.1f s, peak RSS %.0f MB on rank 0", monotonicSeconds() - started,
                                     Double(ProcessMemory.peakResidentBytes()) / 1e6))
            }
        }
    }

    struct Setup {
        let trainer: Trainer
        let adapter: LoRAAdapter
        let mesh: ProcessMesh
        let examples: Int
        let truncated: Int
        let baseParameters: Int
        let modelDescription: String
    }

    private func prepare(world: Communicator) throws -> Setup {
        let mesh = try ProcessMesh(world: world, tp: tp)
        let path = try ModelPath(modelOption.resolved)
        let tokenizer = try BPETokenizer(path.tokenizerDefinition())
        // Mapped only (nothing expanded): the config and the stored block sizes the plan needs.
        let stored = try path.load(maxPositions: maxSeqLen)
        // FFN bounds must fall on NF4 blocks (64) and on the stored blocks of the down projection,
        // whose column slices are cut from the file's rows.
        let storedBlock = stored.weights.layers.map { $0.down.type?.blockElements ?? 1 }.max() ?? 1
        let alignment = storedBlock % 64 == 0 ? storedBlock : (64 % storedBlock == 0 ? 64 : 64 * storedBlock)
        let shards = try ShardPlanner.plan(stored.config, tp: tp, columnAlignment: alignment)
        // Each TP rank maps the file and keeps only its slice (NF4 bytes equal to one rank's).
        let model = try path.load(maxPositions: maxSeqLen, baseQuantization: baseQuant.resolved,
                                  shard: shards[mesh.tpRank], group: MPITensorParallelGroup(mesh.tensorParallel))
        let encoder = ExampleEncoder(tokenizer: tokenizer, template: try templateOption.resolve(for: tokenizer), maskPrompt: maskPrompt)
        let file = try JSONLFile(path: data)
        var examples: [TokenizedExample] = []
        for (line, row) in file.rows {
            do { examples.append(try encoder.encode(row)) } catch {
                throw DataError.invalidRow(file: data, line: line, detail: error.description)
            }
        }
        let stream = try TrainingStream(examples: examples, maxSeqLen: maxSeqLen, packing: packing, seed: seed)
        let adapter = try LoRAAdapter(config: lora.config(baseModel: modelOption.resolved), model: model.config, seed: seed)
        let options = TrainerOptions(
            steps: steps, globalBatchSize: batchSize, microBatchSize: microBatchSize, maxSeqLen: maxSeqLen,
            packing: packing, learningRate: lr, schedule: schedule.kind, warmupSteps: warmup,
            beta1: adamBeta1, beta2: adamBeta2, epsilon: adamEps,
            weightDecay: weightDecay, maxGradNorm: maxGradNorm > 0 ? maxGradNorm : nil, seed: seed,
            activationCheckpointing: activationCheckpointing)
        let trainer = try Trainer(model: model, shards: shards, mesh: mesh, adapter: adapter, stream: stream, options: options)
        let adapterDirectory = URL(fileURLWithPath: out).appendingPathComponent("adapter")
        if !overwrite, FileManager.default.fileExists(atPath: adapterDirectory.appendingPathComponent("adapter_model.safetensors").path) {
            throw ValidationError("\(adapterDirectory.path) already holds an adapter; pass --overwrite or choose another --out")
        }
        let summary = "\(model.config.modelType), \(model.config.numHiddenLayers) layers, base \(baseQuant.resolved)"
        return Setup(trainer: trainer, adapter: adapter, mesh: mesh, examples: examples.count,
                     truncated: stream.truncatedPerEpoch.first ?? 0,
                     baseParameters: try ModelSummary(path: path).parameterCount, modelDescription: summary)
    }
}

/// Appends one JSON object per step to the metrics file.
final class MetricsWriter {
    private let handle: FileHandle

    init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot write the metrics file \(path)")
        }
        self.handle = handle
    }

    func write(_ report: StepReport) throws {
        let object: [String: Any] = [
            "step": report.step, "loss": report.loss, "lr": report.learningRate, "grad_norm": report.gradNorm,
            "tokens": report.tokens, "counted_tokens": report.countedTargets, "tokens_per_s": report.tokensPerSecond,
            "seconds": report.seconds, "epoch": report.epoch,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        handle.write(data + Data("\n".utf8))
    }
}
