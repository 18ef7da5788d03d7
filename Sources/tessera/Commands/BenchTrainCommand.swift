import ArgumentParser
import Collectives
import Foundation
import Kernels
import LlamaModel
import ModelIO
import LoRA
import ProcessGroups
import Parallelism
import Training

/// `tessera bench train`: training throughput under any mesh, on random token ids (or a data
/// file), with model-FLOPs utilisation against the GEMM peak measured at start.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training tokens/s, MFU and peak memory per rank (any mesh, under mpirun).",
        discussion: """
            MFU counts the model FLOPs of a LoRA step on a frozen base per token: forward \
            2·(P_linear + V·C) + backward input gradients 2·(P_linear + V·C) + attention 6·T·H·D·L \
            (causal: forward 2·T·H·D, backward 4·T·H·D per layer) + LoRA 6·P_lora; activation \
            recomputation is not counted. The peak is the best GFLOP/s of one rank at the layer's \
            shapes in the frozen linears' precision (sgemm for fp32; the bf16 products, AMX where \
            present, for bf16), measured at start on every rank at once, times the ranks.

            The time breakdown is wall time per step: dequantize (NF4/GGML tiles to fp32, or NF4 straight to AMX's bf16 layout), gemm \
            (every sgemm outside attention: frozen linears, LoRA, head), attention (its matrix \
            products and softmax), elementwise (norms, RoPE, SwiGLU, residual adds, loss \
            exp/max passes, embedding), communication (TP allReduces, gradient reduction, norm \
            and loss sums), optimizer (clipping and AdamW), other (the rest: batching, dropout \
            masks, biases, timers).
            """)

    @Option(help: "A .gguf file or Hugging Face directory (default: \(ModelOption.defaultRelativePath)), or a preset (\(ModelPreset.names.joined(separator: ", "))) or a config.json, run on seeded random weights generated slice by slice.")
    var model: String?
    @Option(help: "Seed of the random weights of a preset or config.json.") var weightSeed: UInt64 = 0
    @OptionGroup var baseQuant: BaseQuantOption
    @OptionGroup var lora: LoRAOptions
    @Option(help: "Timed optimizer steps (after one warm-up step).") var steps = 3
    @Option(help: "Sequences per step, over all data-parallel ranks.") var batchSize = 4
    @Option(help: "Tokens per sequence.") var seqLen = 256
    @Option(help: "Sequences per forward/backward on a rank.") var microBatchSize: Int?
    @Option(help: "Tensor-parallel ranks per model copy.") var tp = 1
    @OptionGroup var checkpointing: CheckpointingOption
    @OptionGroup var computeOption: ComputeOption
    @Flag(inversion: .prefixedNo, help: "Overlap the data-parallel gradient allReduce with the backward.")
    var overlapReduction = true
    @Option(help: "Seconds of sgemm timing per shape for the peak.") var peakSeconds = 0.2
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Skip the memory check (a job whose estimated memory per rank exceeds the host's memory divided by its ranks is refused before loading).")
    var force = false

    /// Full unless the flags say otherwise.
    var checkpointingMode: ActivationCheckpointing { checkpointing.chosen ?? .full }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            // Before the model is loaded, on every rank (hosts differ), refused on one line.
            let memoryLine = try world.agreed { try checkMemory(world: world) }
            let setup = try world.agreed { () throws -> (TrainingSession, Double, String) in
                let mesh = try ProcessMesh(world: world, tp: tp)
                let source = try ModelSource(ModelOption.resolve(model))
                let config = try source.config()
                // The sgemm peak before any weight exists: its operands (up to an [F, C] matrix per
                // shape) are freed before the load, so they stay out of the job's peak RSS.
                let shapes = GEMMShape.transformerLayer(tokens: min(seqLen * batchSize, 512), hidden: config.hiddenSize,
                                                        kvDim: config.keyValueWidth, ffn: config.intermediateSize,
                                                        vocabChunk: 8192)
                try world.barrier()
                let peak = GEMMBenchmark.run(shapes, secondsPerShape: peakSeconds, precision: computeOption.compute).map(\.gflops).max() ?? 0
                ProcessMemory.releaseFreedHeap()
                // Random ids, every token counted: the cost of a step does not depend on the text.
                var state: UInt64 = 0x2545_F491_4F6C_DD1D
                let examples = (0..<max(batchSize * 2, 8)).map { _ -> TokenizedExample in
                    let ids = (0..<seqLen).map { _ -> Int in
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        return Int(state >> 33) % config.vocabSize
                    }
                    return TokenizedExample(inputIDs: ids, labels: ids)
                }
                let stream = try TrainingStream(examples: examples, maxSeqLen: seqLen, packing: false, seed: 0)
                let options = TrainerOptions(steps: steps + 1, globalBatchSize: batchSize, microBatchSize: microBatchSize,
                                             maxSeqLen: seqLen, packing: false, schedule: .constant,
                                             activationCheckpointing: checkpointingMode, overlapReduction: overlapReduction,
                                             compute: computeOption.compute)
                let session = try TrainingSession(source: source, mesh: mesh, baseQuantization: baseQuant.resolved,
                                                  weightSeed: weightSeed, stream: stream, options: options) { model in
                    try LoRAAdapter(config: lora.config(baseModel: nil), model: model, seed: 0)
                }
                return (session, peak, source.hasWeights ? source.name : "\(source.name) (random weights, seed \(weightSeed))")
            }
            let (session, localPeak, modelName) = setup
            let trainer = session.trainer
            let loraParameters = session.adapter.trainableParameterCount
            let peakPerRank = try world.allReduce([localPeak], .sum)[0] / Double(world.size)
            // Warm-up (page faults, OpenBLAS buffers), then the timed steps with their profile.
            _ = try session.run(TrainingRun(endStep: 1)) { _ in }
            var seconds = 0.0, tokens = 0, syncSeconds = 0.0
            let profile = StepProfile()
            trainer.profile = profile
            _ = try session.run(TrainingRun(startStep: 1, endStep: steps + 1)) { event in
                guard case .step(let report, _) = event else { return }
                seconds += report.seconds
                tokens += report.tokens
                syncSeconds += report.synchronizationSeconds
            }
            trainer.profile = nil
            let rss = try world.allGather([Int64(ProcessMemory.peakResidentBytes())]).map { Int($0) }
            // Seconds per step of each phase, and of the rest ("other"), averaged over the ranks.
            let local = StepProfile.Phase.allCases.map { profile[$0] / Double(steps) } + [(seconds - profile.total) / Double(steps)]
            let gathered = try world.allGather(local)   // [ranks × phases]
            let phases = local.count
            let perRank = (0..<world.size).map { Array(gathered[($0 * phases)..<(($0 + 1) * phases)]) }
            let breakdown = (0..<phases).map { p in perRank.reduce(0) { $0 + $1[p] } / Double(world.size) }
            let phaseNames = StepProfile.Phase.allCases.map(\.name) + ["other"]
            guard world.isRoot else { return }
            let c = trainer.model.config
            let linear = Double(c.numHiddenLayers * (2 * c.hiddenSize * c.queryWidth + 2 * c.hiddenSize * c.keyValueWidth
                + 3 * c.hiddenSize * c.intermediateSize))
            let head = Double(c.vocabSize * c.hiddenSize)
            let attention = 6.0 * Double(seqLen * c.queryWidth * c.numHiddenLayers)
            let flopsPerToken = 4 * (linear + head) + attention + 6 * Double(loraParameters)
            let tokensPerSecond = Double(tokens) / seconds
            let mfu = tokensPerSecond * flopsPerToken / (peakPerRank * 1e9 * Double(world.size))
            if json {
                Console.print(Console.json([
                    "model": modelName, "ranks": world.size, "tp": tp, "dp": world.size / tp, "batch_size": batchSize, "seq_len": seqLen,
                    "steps": steps, "tokens_per_s": tokensPerSecond, "seconds_per_step": seconds / Double(steps),
                    "mfu": mfu, "model_flops_per_token": flopsPerToken, "peak_gflops_per_rank": peakPerRank,
                    "peak_rss_bytes_per_rank": rss, "memory_check": memoryLine ?? NSNull(), "base": baseQuant.resolved.description,
                    "activation_checkpointing": checkpointingMode.rawValue, "workspace_bytes": trainer.workspaceBytes,
                    "blas_core": BLAS.coreName, "gradient_sync_seconds_per_step": syncSeconds / Double(steps),
                    "overlap_reduction": overlapReduction,
                    "kernels": VectorMath.kernelPath, "compute": computeOption.compute.rawValue, "compute_kernel": LinearCompute.kernelDescription(computeOption.compute),
                    "cpu": BLASCoreSelection.cpuModelName(),
                    "seconds_per_step_by_phase": Dictionary(uniqueKeysWithValues: zip(phaseNames, breakdown)),
                    "seconds_per_step_by_phase_per_rank": perRank.map { Dictionary(uniqueKeysWithValues: zip(phaseNames, $0)) },
                ] as [String: Any]))
            } else {
                Console.print("bench train: \(modelName), \(world.size) rank(s) = tp \(tp) × dp \(world.size / tp), batch \(batchSize) × \(seqLen) tokens, base \(baseQuant.resolved), checkpointing \(checkpointingMode.rawValue), kernels \(VectorMath.kernelPath), OpenBLAS \(BLAS.coreName)")
                Console.print("cpu: \(BLASCoreSelection.cpuModelName())")
                Console.print("frozen linears: \(computeOption.description)")
                Console.print(String(format: "%.0f tokens/s, %.2f s/step, MFU %.1f%% (%.2f GFLOP/token vs %.0f GFLOP/s %@ peak per rank)",
                                     tokensPerSecond, seconds / Double(steps), 100 * mfu, flopsPerToken / 1e9, peakPerRank,
                                     computeOption.compute == .bf16 ? "bf16 GEMM" : "sgemm"))
                Console.print(String(format: "gradient reduction left after the backward (TP partial + DP allReduce, %@): %.2f ms/step, %.3f%% of the step",
                                     overlapReduction ? "overlapped per layer" : "one fused call",
                                     1000 * syncSeconds / Double(steps), 100 * syncSeconds / seconds))
                Console.print("peak RSS per rank: " + rss.map { String(format: "%.0f MB", Double($0) / 1e6) }.joined(separator: ", "))
                if let memoryLine { Console.print(memoryLine) }
                // Mean over the ranks, then each rank (up to 8) to show imbalance.
                let shown = min(world.size, 8)
                let rankColumns = world.size > 1 ? (0..<shown).map { "  rank \($0)".padding(toLength: 9, withPad: " ", startingAt: 0) }.joined() : ""
                Console.print("time per step         mean" + rankColumns)
                let stepSeconds = seconds / Double(steps)
                for (p, name) in phaseNames.enumerated() {
                    let label = name.padding(toLength: 14, withPad: " ", startingAt: 0)
                    let ranks = world.size > 1 ? (0..<shown).map { String(format: "%9.3f", perRank[$0][p]) }.joined() : ""
                    Console.print("  " + label + String(format: "%7.3f s %5.1f%%", breakdown[p], 100 * breakdown[p] / stepSeconds) + ranks)
                }
            }
        }
    }
}

extension BenchTrainCommand {
    /// The memory guard for this benchmark on this rank's host: the summary line, or a
    /// `MemoryGuardError` refusing it; nil when the model cannot be read (set-up reports that).
    func checkMemory(world: Communicator) throws -> String? {
        guard let source = try? ModelSource(ModelOption.resolve(model)), let config = try? source.config(),
              let targets = try? lora.config(baseModel: nil).targets(for: config) else { return nil }
        let job = PlannedJob(globalBatchSize: batchSize, seqLen: seqLen, loraRank: lora.config(baseModel: nil).r,
                             targets: targets, microBatchSize: microBatchSize, checkpointing: checkpointingMode)
        let memoryGuard = MemoryGuard(config: config, job: job, tp: tp, worldSize: world.size,
                                      ranksOnHost: MemoryCheck.ranksOnHost,
                                      embeddingBytesPerParameter: ((try? source.embeddingBytesPerParameter()) ?? nil) ?? 2,
                                      baseQuantization: baseQuant.resolved,
                                      linearBytesPerParameter: (try? source.linearBytesPerParameter()) ?? 2)
        return try MemoryCheck.run(memoryGuard, force: force)
    }
}
