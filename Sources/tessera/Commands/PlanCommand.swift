import ArgumentParser
import Foundation
import Kernels
import LlamaModel
import ModelIO
import LoRA
import Parallelism

/// `tessera plan`: will a model fit on these nodes, and how fast will it train? Evaluates
/// `CapacityPlanner` (docs/architecture.md §9 memory per rank, a compute + ring-allReduce step-time
/// model) for a model that need not be on disk.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Estimate memory per rank, fit and step time of a LoRA job on a cluster.",
        discussion: """
            Memory per rank = NF4+DQ base / tp (embedding and head in stored precision, split by vocabulary) \
            + LoRA weights, gradients and two AdamW moments (fp32) + the training workspace + runtime overhead. \
            Step time = FLOPs / (cores · GFLOP/s per core · efficiency) + TP and DP ring allReduces, \
            not overlapped with compute (an upper bound).
            Example: tessera plan --model llama2-70b --nodes 4 --ranks-per-node 8 --cores-per-rank 4 \
            --memory-per-node 256 --network-gbps 25
            """)

    @Option(help: "A preset (\(ModelPreset.names.joined(separator: ", "))), an HF config.json, an HF directory or a .gguf file.")
    var model: String

    @Option(help: "Nodes.") var nodes = 1
    @Option(help: "MPI ranks per node.") var ranksPerNode = 1
    @Option(help: "Cores (BLAS threads) per rank.") var coresPerRank = 1
    @Option(help: "Memory per node in GB (10⁹ bytes).") var memoryPerNode = 64.0
    @Option(help: "Inter-node bandwidth, Gb/s.") var networkGbps = 25.0
    @Option(help: "Inter-node latency, µs.") var latencyUs = 5.0
    @Option(help: "Shared-memory bandwidth inside a node, Gb/s (assumed).") var intraNodeGbps = 80.0
    @Option(help: "Shared-memory latency inside a node, µs (assumed).") var intraNodeLatencyUs = 1.0
    @Option(help: "Tensor-parallel size (default: the smallest that fits).") var tp: Int?
    @Option(help: "Data-parallel size (must equal ranks / tp; default ranks / tp).") var dp: Int?

    @Option(help: "Sequences per optimizer step, over all data-parallel ranks.") var batchSize = 32
    @Option(help: "Tokens per sequence.") var seqLen = 2048
    @OptionGroup(title: "LoRA (only --lora-r and --lora-targets change the estimate)") var lora: LoRAOptions
    // Default 1, not the rank's whole share (train's default): with a fixed global batch the share
    // grows with tp, which would make larger tp look worse for memory.
    @Option(help: "Sequences per forward/backward on a rank; the rest of its share is accumulated.") var microBatchSize = 1
    @OptionGroup var checkpointingOption: CheckpointingOption
    /// Full unless the flags say otherwise.
    var checkpointing: ActivationCheckpointing { checkpointingOption.chosen ?? .full }

    @Option(help: "Peak sgemm GFLOP/s of one core (default: measured now with a short sgemm benchmark).")
    var gflopsPerCore: Double?
    // Calibrated on this machine (docs/scaling.md): SmolLM2, 4 × 256 tokens, one rank reached
    // 0.77–0.79 of the sgemm peak on this FLOP count with full and with selective checkpointing.
    @Option(help: "Fraction of the sgemm peak the counted FLOPs (recompute included) reach; measured 0.78 for SmolLM2 on one AVX-512 core (docs/scaling.md). `tessera bench train` reports MFU without recompute: with full checkpointing multiply it by about 1.4.")
    var efficiency = 0.75
    @Option(help: "Stored bytes per embedding/head parameter (default 2 = bf16; read from the file for .gguf and HF weights).")
    var embeddingBytes: Double?
    // Measured: peak RSS − (base + LoRA + workspace) is 0.07 GB for bench train on llama3.2-1b (docs/scaling.md).
    @Option(help: "Runtime overhead per rank, GB (Swift, OpenBLAS and MPI buffers, tokenizer, data; measured about 0.07).") var overheadGb = 0.1
    @Option(help: "Fraction of node memory kept free.") var memoryMargin = 0.1
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard nodes >= 1, ranksPerNode >= 1, coresPerRank >= 1 else {
            throw ValidationError("--nodes, --ranks-per-node and --cores-per-rank must be at least 1")
        }
        guard batchSize >= 1, seqLen >= 2 else { throw ValidationError("--batch-size must be at least 1 and --seq-len at least 2") }
        guard microBatchSize >= 1 else { throw ValidationError("--micro-batch-size must be at least 1") }
        if let tp, tp < 1 { throw ValidationError("--tp must be at least 1") }
        if let dp, dp < 1 { throw ValidationError("--dp must be at least 1") }
        if let tp, let dp, tp * dp != nodes * ranksPerNode {
            throw ValidationError("--tp \(tp) × --dp \(dp) = \(tp * dp), but the cluster has \(nodes * ranksPerNode) ranks (nodes × ranks-per-node)")
        }
        if let dp, tp == nil, (nodes * ranksPerNode) % dp != 0 {
            throw ValidationError("--dp \(dp) does not divide the \(nodes * ranksPerNode) ranks")
        }
        guard efficiency > 0, efficiency <= 1 else { throw ValidationError("--efficiency must be in (0, 1]") }
        guard memoryMargin >= 0, memoryMargin < 1 else { throw ValidationError("--memory-margin must be in [0, 1)") }
        if let gflopsPerCore, !(gflopsPerCore > 0) { throw ValidationError("--gflops-per-core must be positive") }
        guard memoryPerNode > 0, networkGbps > 0, intraNodeGbps > 0, latencyUs >= 0, intraNodeLatencyUs >= 0, overheadGb >= 0 else {
            throw ValidationError("memory and bandwidths must be positive; latencies and overhead not negative")
        }
    }

    func run() throws {
        let (config, storedEmbeddingBytes) = try loadModel()
        let loraConfig = lora.config(baseModel: nil)
        let targets = try loraConfig.targets(for: config)   // validates r and the target names
        let job = PlannedJob(globalBatchSize: batchSize, seqLen: seqLen, loraRank: loraConfig.r, targets: targets,
                             microBatchSize: microBatchSize, checkpointing: checkpointing)
        let cluster = ClusterSpec(nodes: nodes, ranksPerNode: ranksPerNode, coresPerRank: coresPerRank,
                                  memoryPerNodeGB: memoryPerNode, networkGbps: networkGbps, latencyMicroseconds: latencyUs,
                                  intraNodeGbps: intraNodeGbps, intraNodeLatencyMicroseconds: intraNodeLatencyUs)
        let (gflops, gflopsSource) = gflopsPerCore.map { ($0, "given") } ?? (Self.measureGFLOPS(), "measured sgemm peak")
        let cost = CostModel(gflopsPerCore: gflops, efficiency: efficiency,
                             embeddingBytesPerParameter: embeddingBytes ?? storedEmbeddingBytes ?? 2,
                             runtimeOverheadBytes: overheadGb * 1e9, memoryMargin: memoryMargin)

        let meshes = CapacityPlanner.compare(config, cluster: cluster, job: job, cost: cost)
        let chosen: CapacityPlan
        let fittingTP = try CapacityPlanner.smallestFitting(config, cluster: cluster, job: job, cost: cost)?.tp
        if let asked = tp ?? dp.map({ cluster.worldSize / $0 }) {
            chosen = try CapacityPlanner.plan(config, cluster: cluster, job: job, cost: cost, tp: asked)
        } else if let fittingTP {
            chosen = try CapacityPlanner.plan(config, cluster: cluster, job: job, cost: cost, tp: fittingTP)
        } else {
            // Nothing fits: show the mesh that needs the least memory per rank.
            guard let least = meshes.compactMap({ try? $0.result.get() }).min(by: { $0.memory.totalBytes < $1.memory.totalBytes }) else {
                throw ValidationError("no mesh of \(cluster.worldSize) ranks can shard this model with batch size \(batchSize): "
                                      + meshes.map { "tp \($0.tp): \(Self.reason($0.result))" }.joined(separator: "; "))
            }
            chosen = least
        }
        let scaling = CapacityPlanner.scaling(config, cluster: cluster, job: job, cost: cost, tp: chosen.tp)
        let report = PlanReport(model: model, config: config, cluster: cluster, job: job, cost: cost,
                                gflopsSource: gflopsSource, plan: chosen, smallestFittingTP: fittingTP, meshes: meshes,
                                scaling: scaling)
        Console.print(json ? Console.json(report.jsonObject) : report.text)
    }

    /// The config and, when known (weights on disk, a preset), the embedding bytes per parameter.
    private func loadModel() throws -> (LlamaConfig, Double?) {
        let source = try ModelSource(model)
        return (try source.config(), try source.embeddingBytesPerParameter())
    }

    /// Peak single-core sgemm GFLOP/s at a layer-like shape, about half a second of timing.
    static func measureGFLOPS() -> Double {
        BLAS.setThreadCount(1)
        let shapes = [GEMMShape("x·Wᵀ", m: 256, n: 1024, k: 1024), GEMMShape("ffn", m: 256, n: 2816, k: 1024)]
        return GEMMBenchmark.run(shapes, secondsPerShape: 0.25).map(\.gflops).max() ?? 1
    }

    static func reason(_ result: Result<CapacityPlan, ParallelismError>) -> String {
        switch result {
        case .success(let plan): return plan.fits ? "fits" : "does not fit"
        case .failure(let error): return error.description
        }
    }
}

/// What `tessera plan` shows, as text or as one JSON object (GB = 10⁹ bytes throughout).
private struct PlanReport {
    let model: String
    let config: LlamaConfig
    let cluster: ClusterSpec
    let job: PlannedJob
    let cost: CostModel
    let gflopsSource: String
    let plan: CapacityPlan
    let smallestFittingTP: Int?
    let meshes: [(tp: Int, result: Result<CapacityPlan, ParallelismError>)]
    let scaling: [ScalingPoint]

    static func gb(_ bytes: Double) -> String { String(format: "%.2f GB", bytes / 1e9) }
    static func seconds(_ s: Double) -> String { s < 1 ? String(format: "%.1f ms", s * 1e3) : String(format: "%.2f s", s) }

    var modules: String {
        var names: [String] = []   // PEFT's module names (Phi-3: qkv_proj for q, k, v)
        for t in job.targets where !names.contains(t.module.moduleName(fused: t.fused != nil)) {
            names.append(t.module.moduleName(fused: t.fused != nil))
        }
        return names.joined(separator: ",")
    }

    var verdict: String {
        if plan.fits { return "fits" }
        if let smallestFittingTP { return "does NOT fit; the smallest tp that fits is \(smallestFittingTP)" }
        return "does NOT fit at any tp on this cluster (add nodes or memory, shorten --seq-len or --micro-batch-size)"
    }

    var text: String {
        let m = plan.memory, t = plan.time, c = config
        let rate = Double(cluster.coresPerRank) * cost.gflopsPerCore * cost.efficiency
        var lines = [
            "model:    \(model): \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), FFN \(c.intermediateSize), \(c.numAttentionHeads) heads / \(c.numKeyValueHeads) KV, vocab \(c.vocabSize)",
            "cluster:  \(cluster.nodes) node(s) × \(cluster.ranksPerNode) rank(s) × \(cluster.coresPerRank) core(s) = \(cluster.worldSize) ranks; "
                + String(format: "%.0f GB/node, %.0f Gb/s, %.0f µs", cluster.memoryPerNodeBytes / 1e9, cluster.networkBytesPerSecond * 8 / 1e9,
                         cluster.networkLatencySeconds * 1e6),
            "job:      \(job.globalBatchSize) sequences × \(job.seqLen) tokens per step; micro-batch \(plan.microBatchSize) × \(plan.accumulationSteps) accumulation; "
                + "LoRA r \(job.loraRank) on \(modules) (\(plan.loraParameters.formatted()) parameters); checkpointing \(job.checkpointing.rawValue)",
            "mesh:     tp \(plan.tp) × dp \(plan.dp)" + (smallestFittingTP == plan.tp ? " (smallest tp that fits)" : ""),
            "",
            "memory per rank (the largest rank of the TP group)",
            Console.table(header: ["part", "size"], rows: [
                ["base linears, NF4 + double quant (4.127 bit/param) / tp", Self.gb(m.baseLinearBytes)],
                [String(format: "embedding%@ (%.3g bytes/param), vocab / tp", c.tieWordEmbeddings ? " (tied head)" : " + head",
                        cost.embeddingBytesPerParameter), Self.gb(m.baseEmbeddingBytes)],
                ["norms (fp32)", Self.gb(m.baseNormBytes)],
                ["LoRA weights + grads + AdamW m, v (fp32, local slices)", Self.gb(m.loraBytes)],
                ["activations (TrainingWorkspace, \(plan.microBatchSize * job.seqLen) tokens)", Self.gb(m.activationBytes)],
                ["runtime overhead", Self.gb(m.overheadBytes)],
                ["total", Self.gb(m.totalBytes)],
            ]),
            "per node: \(cluster.ranksPerNode) × \(Self.gb(m.totalBytes)) = \(Self.gb(plan.nodeBytes)) of \(Self.gb(plan.nodeBudgetBytes)) usable "
                + String(format: "(%.0f%% margin): ", cost.memoryMargin * 100) + verdict,
            "",
            "step time (compute and communication NOT overlapped: an upper bound)",
            Console.table(header: ["part", "time", "model"], rows: [
                ["compute", Self.seconds(t.computeSeconds),
                 String(format: "%.3g TFLOP per rank / (%d cores × %.1f GFLOP/s (%@) × %.2f efficiency = %.1f GFLOP/s)",
                        t.flopsPerRank / 1e12, cluster.coresPerRank, cost.gflopsPerCore, gflopsSource, cost.efficiency, rate)],
                ["TP allReduces", Self.seconds(t.tensorParallelSeconds),
                 "\(t.tensorParallelAllReduces) per step, \(Self.gb(t.tensorParallelBytes)), ring over \(plan.tp) ranks"],
                ["DP allReduce", Self.seconds(t.dataParallelSeconds),
                 "LoRA gradients \(Self.gb(t.dataParallelBytes)), ring over \(plan.dp) ranks"],
                ["step", Self.seconds(t.totalSeconds), String(format: "%.0f tokens/s", plan.tokensPerSecond)],
            ]),
            "",
            "meshes for the same job",
        ]
        lines.append(Console.table(header: ["tp", "dp", "memory/rank", "per node", "fits", "step", "tokens/s"], rows: meshes.map { row in
            let dp = cluster.worldSize / row.tp
            switch row.result {
            case .success(let p):
                return [String(p.tp), String(p.dp), Self.gb(p.memory.totalBytes), Self.gb(p.nodeBytes), p.fits ? "yes" : "no",
                        Self.seconds(p.time.totalSeconds), String(format: "%.0f", p.tokensPerSecond)]
            case .failure(let error):
                return [String(row.tp), String(dp), "-", "-", "refused", "-", error.description]
            }
        }))
        lines += ["", scalingText]
        return lines.joined(separator: "\n")
    }

    /// Strong and weak scaling from 1 to 64 nodes at the plan's tp.
    var scalingText: String {
        let base = scaling.first
        func cells(_ result: Result<CapacityPlan, ParallelismError>, reference: Result<CapacityPlan, ParallelismError>?,
                   nodes: Int) -> [String] {
            guard case .success(let p) = result else { return ["-", "-", "-", "-", "-"] }
            var speedup = "-", efficiency = "-"
            if case .success(let r)? = reference {
                let s = p.tokensPerSecond / r.tokensPerSecond
                speedup = String(format: "%.1f×", s)
                efficiency = String(format: "%.0f%%", 100 * s / Double(nodes))
            }
            return [String(p.tokensPerStep / max(job.seqLen, 1)), String(format: "%.0f", p.tokensPerSecond),
                    speedup, efficiency, p.fits ? "yes" : "no"]
        }
        let rows = scaling.map { point -> [String] in
            [String(point.nodes), String(point.nodes * cluster.ranksPerNode), String(point.dp)]
                + cells(point.strong, reference: base?.strong, nodes: point.nodes)
                + cells(point.weak, reference: base?.weak, nodes: point.nodes)
        }
        return "scaling at tp \(plan.tp) (strong: global batch \(job.globalBatchSize); weak: batch per model copy fixed; "
            + "speed-up and efficiency against 1 node; compute and communication not overlapped)\n"
            + Console.table(header: ["nodes", "ranks", "dp", "strong batch", "tokens/s", "speed-up", "efficiency", "fits",
                                     "weak batch", "tokens/s", "speed-up", "efficiency", "fits"], rows: rows)
    }

    var jsonObject: [String: Any] {
        func planObject(_ p: CapacityPlan) -> [String: Any] {
            let m = p.memory, t = p.time
            return [
                "tp": p.tp, "dp": p.dp, "micro_batch_size": p.microBatchSize, "accumulation_steps": p.accumulationSteps,
                "lora_parameters": p.loraParameters, "fits": p.fits,
                "memory_per_rank_bytes": [
                    "base_linear": m.baseLinearBytes, "base_embedding": m.baseEmbeddingBytes, "base_norms": m.baseNormBytes,
                    "base": m.baseBytes, "lora": m.loraBytes, "activations": m.activationBytes,
                    "overhead": m.overheadBytes, "total": m.totalBytes,
                ] as [String: Any],
                "node_bytes": p.nodeBytes, "node_budget_bytes": p.nodeBudgetBytes,
                "step": [
                    "flops_per_rank": t.flopsPerRank, "compute_seconds": t.computeSeconds,
                    "tp_seconds": t.tensorParallelSeconds, "tp_allreduces": t.tensorParallelAllReduces,
                    "tp_bytes": t.tensorParallelBytes, "dp_seconds": t.dataParallelSeconds, "dp_bytes": t.dataParallelBytes,
                    "total_seconds": t.totalSeconds, "overlapped": false,
                ] as [String: Any],
                "tokens_per_step": p.tokensPerStep, "tokens_per_second": p.tokensPerSecond,
            ]
        }
        return [
            "model": model,
            "config": ["layers": config.numHiddenLayers, "hidden_size": config.hiddenSize,
                       "intermediate_size": config.intermediateSize, "attention_heads": config.numAttentionHeads,
                       "key_value_heads": config.numKeyValueHeads, "vocab_size": config.vocabSize,
                       "tied_embeddings": config.tieWordEmbeddings] as [String: Any],
            "cluster": ["nodes": cluster.nodes, "ranks_per_node": cluster.ranksPerNode, "cores_per_rank": cluster.coresPerRank,
                        "world_size": cluster.worldSize, "memory_per_node_bytes": cluster.memoryPerNodeBytes,
                        "network_gbps": cluster.networkBytesPerSecond * 8 / 1e9,
                        "latency_us": cluster.networkLatencySeconds * 1e6] as [String: Any],
            "job": ["batch_size": job.globalBatchSize, "seq_len": job.seqLen, "lora_r": job.loraRank,
                    "lora_targets": modules, "checkpointing": job.checkpointing.rawValue] as [String: Any],
            "assumptions": ["gflops_per_core": cost.gflopsPerCore, "gflops_source": gflopsSource,
                            "efficiency": cost.efficiency, "embedding_bytes_per_parameter": cost.embeddingBytesPerParameter,
                            "runtime_overhead_bytes": cost.runtimeOverheadBytes, "memory_margin": cost.memoryMargin,
                            "compute_communication_overlap": false] as [String: Any],
            "plan": planObject(plan),
            "fits": plan.fits,
            "smallest_fitting_tp": smallestFittingTP.map { $0 as Any } ?? NSNull(),
            "scaling": scaling.map { point -> [String: Any] in
                func entry(_ result: Result<CapacityPlan, ParallelismError>) -> Any {
                    switch result {
                    case .success(let p):
                        return ["batch_size": p.tokensPerStep / max(job.seqLen, 1), "tokens_per_second": p.tokensPerSecond,
                                "step_seconds": p.time.totalSeconds, "memory_per_rank_bytes": p.memory.totalBytes,
                                "fits": p.fits] as [String: Any]
                    case .failure(let error): return ["refused": error.description]
                    }
                }
                return ["nodes": point.nodes, "ranks": point.nodes * cluster.ranksPerNode, "tp": plan.tp, "dp": point.dp,
                        "strong": entry(point.strong), "weak": entry(point.weak)]
            },
            "meshes": meshes.map { row -> [String: Any] in
                switch row.result {
                case .success(let p): return planObject(p)
                case .failure(let error): return ["tp": row.tp, "dp": cluster.worldSize / row.tp, "refused": error.description]
                }
            },
        ]
    }
}
