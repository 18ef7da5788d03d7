// "Will this model fit on my nodes, and how fast will it train?" — docs/architecture.md §9's memory
// formula and a compute + communication step-time model, evaluated from shapes alone (no weights,
// no MPI).
//
// Memory per rank (the largest rank of the TP group; shards can be uneven):
//   base   = Σ_layers Σ_7 linears NF4+DQ bytes of the local [out_l, in_l] slice   (≈ 4.127 bit/param)
//          + V_local·C·e (embedding) + V_local·C·e (head, unless tied)           (e = stored bytes/param)
//          + (2L + 1)·C·4 (RMSNorm weights, fp32, replicated)
//   lora   = 4 copies (weights, gradients, AdamW m and v; fp32) of the local factors
//            (docs/architecture.md §5.2): column-parallel A [r, I] + B [O_local, r];
//            row-parallel A [r, I_local] + B [O, r]
//   acts   = TrainingWorkspace.byteCount(config, shard, N = micro-batch·T, r, checkpointing)
//   total  = base + lora + acts + runtime overhead; fits when ranksPerNode·total ≤ (1 − margin)·node.
//
// Step time per rank (compute and communication NOT overlapped; an upper bound):
//   FLOPs per micro-batch (frozen base: no weight gradients, so not 6·P·T):
//     linears   (2 fwd + 2 bwd dx + 2 recompute)·P_local·N per module + 4·P_head_local·N
//     LoRA      (2 fwd + 4 bwd + 2 recompute)·r·(I_A + O_B) per token per targeted module
//     attention causal, per sequence and layer: (2 fwd + 5 bwd + 2 recompute)·T²·H_local·D
//     recompute: every module but down_proj (its output is kept) and the attention with full
//     checkpointing; q_proj, up_proj (and the attention when o_proj is adapted) with selective; nothing
//     without checkpointing.
//   compute = FLOPs / (cores per rank · GFLOP/s per core · efficiency)
//   ring allReduce of b bytes over p ranks: 2(p−1)·α + 2(p−1)/p · b / β
//   TP per micro-batch: (2 + 4L (+L full recompute: o_proj)) allReduces of N·C floats, N·r per targeted row-parallel
//   module, two per loss chunk (Llama.trainingLogitRows rows); per step: the partial gradA of column-parallel modules.
//   DP per step: the allReduce of the local LoRA gradients (modelled as one fused call; the trainer
//   overlaps it per layer with the backward).
// Element-wise ops, NF4 dequantization and the optimizer are not counted as FLOPs: the efficiency
// factor (measured MFU) absorbs them.
// Legend: C = hidden, L = layers, D = head dim, V = vocabulary, T = sequence length,
// N = tokens of one micro-batch, r = LoRA rank, α = latency, β = bandwidth, *_local = this rank.
import LlamaModel
import LoRA

/// The machines: nodes of equal ranks, each rank with its cores, and the links between them.
public struct ClusterSpec: Sendable, Equatable {
    public var nodes: Int
    public var ranksPerNode: Int
    public var coresPerRank: Int
    public var memoryPerNodeBytes: Double
    /// Inter-node network bandwidth, bytes per second.
    public var networkBytesPerSecond: Double
    public var networkLatencySeconds: Double
    /// Within one node MPI copies through shared memory: assumed faster than the network.
    public var intraNodeBytesPerSecond: Double
    public var intraNodeLatencySeconds: Double

    public var worldSize: Int { nodes * ranksPerNode }

    public init(nodes: Int, ranksPerNode: Int, coresPerRank: Int, memoryPerNodeGB: Double, networkGbps: Double,
                latencyMicroseconds: Double, intraNodeGbps: Double = 80, intraNodeLatencyMicroseconds: Double = 1) {
        self.nodes = nodes
        self.ranksPerNode = ranksPerNode
        self.coresPerRank = coresPerRank
        memoryPerNodeBytes = memoryPerNodeGB * 1e9
        networkBytesPerSecond = networkGbps * 1e9 / 8
        networkLatencySeconds = latencyMicroseconds * 1e-6
        intraNodeBytesPerSecond = intraNodeGbps * 1e9 / 8
        intraNodeLatencySeconds = intraNodeLatencyMicroseconds * 1e-6
    }
}

/// One optimizer step of a LoRA fine-tuning job.
public struct PlannedJob: Sendable, Equatable {
    /// Sequences per optimizer step over all data-parallel ranks.
    public var globalBatchSize: Int
    /// Tokens per sequence (packed sequences are full).
    public var seqLen: Int
    public var loraRank: Int
    /// The adapted modules (`LoRAConfig.targets(for:)`).
    public var targets: [LoRATarget]
    /// Sequences per forward/backward on one rank; nil: the rank's whole share at once.
    public var microBatchSize: Int?
    public var checkpointing: ActivationCheckpointing

    public init(globalBatchSize: Int, seqLen: Int, loraRank: Int, targets: [LoRATarget], microBatchSize: Int? = nil,
                checkpointing: ActivationCheckpointing = .full) {
        self.globalBatchSize = globalBatchSize
        self.seqLen = seqLen
        self.loraRank = loraRank
        self.targets = targets
        self.microBatchSize = microBatchSize
        self.checkpointing = checkpointing
    }

    /// `modules` adapted in every layer of `config` (PEFT's `target_modules` as a list of names).
    public static func targets(_ modules: [LinearModule], in config: LlamaConfig) -> [LoRATarget] {
        (0..<config.numHiddenLayers).flatMap { layer in
            LinearModule.allCases.filter(modules.contains).map { module in
                let (i, o) = module.features(in: config)
                return LoRATarget(layer: layer, module: module, inFeatures: i, outFeatures: o,
                                  fused: config.architecture.fusedProjections ? module.fusedProjection : nil)
            }
        }
    }
}

/// The assumptions the estimate rests on, each one a command-line option.
public struct CostModel: Sendable, Equatable {
    /// Peak sgemm GFLOP/s of one core (`GEMMBenchmark`).
    public var gflopsPerCore: Double
    /// Fraction of that peak the counted FLOPs reach (recompute included, so a little above the
    /// model-FLOPs utilisation `tessera bench train` reports with checkpointing on).
    public var efficiency: Double
    /// Stored bytes per embedding/head parameter (2 for bf16; QLoRA keeps them as stored).
    public var embeddingBytesPerParameter: Double
    /// Per rank: Swift runtime, OpenBLAS thread buffers, MPI shared-memory segments, tokenizer,
    /// data, the trainer's own copies. Measured 0.04 GB at start and 0.07 GB in all for
    /// `tessera bench train --model llama3.2-1b` (docs/scaling.md): the default is 0.1 GB.
    public var runtimeOverheadBytes: Double
    /// Fraction of node memory kept free (OS, page cache of the memory-mapped source file).
    public var memoryMargin: Double
    /// How the frozen linears are held (`--base-quant`, `--double-quant`); QLoRA's NF4 + DQ by default.
    public var baseQuantization: BaseQuantization
    /// Stored bytes per linear weight value, for `--base-quant stored` (the file's: 2 for bf16).
    public var linearBytesPerParameter: Double

    public init(gflopsPerCore: Double, efficiency: Double = 0.5, embeddingBytesPerParameter: Double = 2,
                runtimeOverheadBytes: Double = 0.1e9, memoryMargin: Double = 0.1,
                baseQuantization: BaseQuantization = .default, linearBytesPerParameter: Double = 2) {
        self.linearBytesPerParameter = linearBytesPerParameter
        self.gflopsPerCore = gflopsPerCore
        self.efficiency = efficiency
        self.embeddingBytesPerParameter = embeddingBytesPerParameter
        self.runtimeOverheadBytes = runtimeOverheadBytes
        self.memoryMargin = memoryMargin
        self.baseQuantization = baseQuantization
    }
}

/// Bytes one rank holds, by part.
public struct RankMemory: Sendable, Equatable {
    /// NF4 + double-quantized slices of the seven linears of every layer.
    public var baseLinearBytes: Double
    /// Embedding and (untied) head rows of the local vocabulary slice, in stored precision.
    public var baseEmbeddingBytes: Double
    /// RMSNorm weights, fp32, replicated.
    public var baseNormBytes: Double
    /// LoRA factors, their gradients and two AdamW moments (fp32).
    public var loraBytes: Double
    /// The training workspace (activations, gradients of activations, logits chunk, scratch).
    public var activationBytes: Double
    public var overheadBytes: Double

    public var baseBytes: Double { baseLinearBytes + baseEmbeddingBytes + baseNormBytes }
    public var totalBytes: Double { baseBytes + loraBytes + activationBytes + overheadBytes }
}

/// Seconds of one optimizer step, by part.
public struct StepTime: Sendable, Equatable {
    /// FLOPs one rank computes per optimizer step.
    public var flopsPerRank: Double
    public var computeSeconds: Double
    /// Tensor-parallel allReduces (all micro-batches, plus the partial gradA once).
    public var tensorParallelSeconds: Double
    public var tensorParallelAllReduces: Int
    public var tensorParallelBytes: Double
    /// The data-parallel LoRA gradient allReduce.
    public var dataParallelSeconds: Double
    public var dataParallelBytes: Double

    /// Compute plus communication, not overlapped.
    public var totalSeconds: Double { computeSeconds + tensorParallelSeconds + dataParallelSeconds }
}

/// The estimate for one mesh.
public struct CapacityPlan: Sendable, Equatable {
    public var tp: Int
    public var dp: Int
    /// Sequences per micro-batch and micro-batches per optimizer step on one rank.
    public var microBatchSize: Int
    public var accumulationSteps: Int
    /// Trainable LoRA parameters of the whole adapter.
    public var loraParameters: Int
    /// The rank with the most bytes.
    public var memory: RankMemory
    /// ranksPerNode · memory.totalBytes.
    public var nodeBytes: Double
    /// (1 − margin) · memory per node.
    public var nodeBudgetBytes: Double
    public var time: StepTime
    /// Tokens per optimizer step over the whole cluster.
    public var tokensPerStep: Int

    public var fits: Bool { nodeBytes <= nodeBudgetBytes }
    public var tokensPerSecond: Double { Double(tokensPerStep) / time.totalSeconds }
}

public enum CapacityPlanner {
    /// The plan of `job` on `cluster` with `tp` ranks per TP group (dp = world / tp).
    /// Throws when tp does not divide the world, exceeds the KV heads, or the batch does not split.
    public static func plan(_ config: LlamaConfig, cluster: ClusterSpec, job: PlannedJob, cost: CostModel,
                            tp: Int) throws(ParallelismError) -> CapacityPlan {
        try check(cluster: cluster, job: job, cost: cost)
        let mesh = try MeshShape(world: cluster.worldSize, tp: tp)
        let shards = try ShardPlanner.plan(config, tp: tp)
        guard job.globalBatchSize % mesh.dp == 0 else {
            throw .invalidMesh("batch size \(job.globalBatchSize) does not split over dp \(mesh.dp); use a multiple of \(mesh.dp)")
        }
        let perRank = job.globalBatchSize / mesh.dp
        let micro = min(job.microBatchSize ?? perRank, perRank)
        let accumulation = (perRank + micro - 1) / micro
        let tokens = micro * job.seqLen

        // The binding rank: most bytes (memory) and most FLOPs (time) may differ; report each max.
        var memory: RankMemory?
        var flops = 0.0
        for (rank, shard) in shards.enumerated() {
            let keepsQuery = ShardPlanner.keepsQueries(shards, rank: rank, config)
            let m = rankMemory(config, shard: shard, job: job, cost: cost, maxTokens: tokens, keepsQuery: keepsQuery)
            if memory.map({ m.totalBytes > $0.totalBytes }) ?? true { memory = m }
            flops = max(flops, microBatchFLOPs(config, shard: shard, job: job, micro: micro, keepsQuery: keepsQuery)
                * Double(accumulation))
        }
        guard let memory else { throw .unshardable("the shard planner returned no shard for tp \(tp)") }
        let rate = Double(cluster.coresPerRank) * cost.gflopsPerCore * 1e9 * cost.efficiency
        let time = StepTime(flopsPerRank: flops, computeSeconds: flops / rate, tensorParallelSeconds: 0,
                            tensorParallelAllReduces: 0, tensorParallelBytes: 0, dataParallelSeconds: 0,
                            dataParallelBytes: 0)
        var plan = CapacityPlan(tp: tp, dp: mesh.dp, microBatchSize: micro, accumulationSteps: accumulation,
                                loraParameters: job.targets.reduce(0) { $0 + $1.parameterCount(rank: job.loraRank) },
                                memory: memory, nodeBytes: Double(cluster.ranksPerNode) * memory.totalBytes,
                                nodeBudgetBytes: (1 - cost.memoryMargin) * cluster.memoryPerNodeBytes,
                                time: time, tokensPerStep: job.globalBatchSize * job.seqLen)
        addCommunication(&plan, config, shards: shards, cluster: cluster, job: job, tokens: tokens)
        return plan
    }

    /// TP sizes worth trying: divisors of the world up to the attention heads whose dp splits
    /// the batch.
    public static func candidateTPs(_ config: LlamaConfig, cluster: ClusterSpec, job: PlannedJob) -> [Int] {
        let world = max(cluster.worldSize, 1)
        return (1...world).filter { tp in
            world % tp == 0 && tp <= config.numAttentionHeads && job.globalBatchSize % (world / tp) == 0
        }
    }

    /// The plan with the smallest tp that fits, or nil when none does.
    public static func smallestFitting(_ config: LlamaConfig, cluster: ClusterSpec, job: PlannedJob,
                                       cost: CostModel) throws(ParallelismError) -> CapacityPlan? {
        try check(cluster: cluster, job: job, cost: cost)
        for tp in candidateTPs(config, cluster: cluster, job: job) {
            let p = try plan(config, cluster: cluster, job: job, cost: cost, tp: tp)
            if p.fits { return p }
        }
        return nil
    }

    /// Every mesh of the world (tp ∈ divisors), each a plan or the reason it is refused.
    public static func compare(_ config: LlamaConfig, cluster: ClusterSpec, job: PlannedJob,
                               cost: CostModel) -> [(tp: Int, result: Result<CapacityPlan, ParallelismError>)] {
        let world = max(cluster.worldSize, 1)
        return (1...world).filter { world % $0 == 0 }.map { tp in
            (tp, Result { () throws(ParallelismError) in try plan(config, cluster: cluster, job: job, cost: cost, tp: tp) })
        }
    }

    /// Ring allReduce: 2(p−1) steps, each paying the latency and moving bytes/p each way.
    public static func ringAllReduceSeconds(bytes: Double, ranks p: Int, latency: Double, bandwidth: Double) -> Double {
        guard p > 1 else { return 0 }
        return latency * Double(2 * (p - 1)) + Double(2 * (p - 1)) / Double(p) * bytes / bandwidth
    }

    /// Frozen-base bytes of one shard: (linears held as `quantization`, embedding + head, norms).
    public static func baseBytes(_ config: LlamaConfig, shard: LlamaShard, embeddingBytesPerParameter e: Double,
                                 quantization: BaseQuantization = .default,
                                 linearBytesPerParameter stored: Double = 2) -> (linear: Double, embedding: Double, norms: Double) {
        var linear = 0
        for module in LinearModule.allCases {
            let (i, o) = shard.localFeatures(module, config)
            // NF4 blocks run over each matrix's flattened slice: count per matrix, not per model.
            linear += config.numHiddenLayers * quantization.storedBytes(elements: i * o, asStored: stored)
        }
        let tables = config.tieWordEmbeddings ? 1.0 : 2.0
        let embedding = tables * Double(shard.vocabRows.count * config.hiddenSize) * e
        let norms = Double((2 * config.numHiddenLayers + 1) * config.hiddenSize * 4)
        return (Double(linear), embedding, norms)
    }

    /// LoRA floats one shard holds (A and B slices of every target, docs/architecture.md §5.2).
    public static func loraFloats(_ config: LlamaConfig, shard: LlamaShard, job: PlannedJob) -> Int {
        job.targets.reduce(0) { sum, target in
            let (i, o) = localFactorWidths(target, config, shard: shard)
            return sum + job.loraRank * ((target.sharesA ? 0 : i) + o)   // a fused module's parts share A
        }
    }

    /// (columns of A, rows of B) held: column-parallel slices B's rows, row-parallel A's columns.
    static func localFactorWidths(_ target: LoRATarget, _ config: LlamaConfig, shard: LlamaShard) -> (Int, Int) {
        let (i, o) = shard.localFeatures(target.module, config)
        return target.module.isRowParallel ? (i, target.outFeatures) : (target.inFeatures, o)
    }

    static func rankMemory(_ config: LlamaConfig, shard: LlamaShard, job: PlannedJob, cost: CostModel,
                           maxTokens: Int, keepsQuery: Bool = false) -> RankMemory {
        let base = baseBytes(config, shard: shard, embeddingBytesPerParameter: cost.embeddingBytesPerParameter,
                             quantization: cost.baseQuantization, linearBytesPerParameter: cost.linearBytesPerParameter)
        let activations = TrainingWorkspace.byteCount(config: config, shard: shard, maxTokens: maxTokens,
                                                      maxLoRARank: job.loraRank, checkpointing: job.checkpointing,
                                                      keepQuery: keepsQuery)
        return RankMemory(baseLinearBytes: base.linear, baseEmbeddingBytes: base.embedding, baseNormBytes: base.norms,
                          loraBytes: Double(4 * 4 * loraFloats(config, shard: shard, job: job)),
                          activationBytes: Double(activations), overheadBytes: cost.runtimeOverheadBytes)
    }

    /// FLOPs of one micro-batch of `micro` sequences on `shard` (see the file header).
    static func microBatchFLOPs(_ config: LlamaConfig, shard: LlamaShard, job: PlannedJob, micro: Int,
                                keepsQuery: Bool = false) -> Double {
        let n = Double(micro * job.seqLen), t = Double(job.seqLen)
        // Recomputed in the backward: every module and the attention (full), up_proj, q_proj unless
        // the rank keeps q and — when o_proj is adapted — the attention (selective), nothing (none).
        let recomputed: (LinearModule) -> Bool = { module in
            switch job.checkpointing {
            case .full: module != .downProj   // the recompute skips down's product (output kept)
            case .selective: module == .upProj || (module == .qProj && !keepsQuery)
            case .none: false
            }
        }
        let oAdapted = job.targets.contains { $0.module == .oProj }
        let attentionRecompute = job.checkpointing == .full || (job.checkpointing == .selective && oAdapted) ? 2.0 : 0.0
        let layers = Double(config.numHiddenLayers)
        var linears = 0.0
        for module in LinearModule.allCases {
            var (i, o) = shard.localFeatures(module, config)
            // k and v: only the KV heads this rank projects (the others are handed over).
            if module == .kProj || module == .vProj { o = shard.computedKeyValueRowsLocal.count }
            linears += (recomputed(module) ? 6 : 4) * Double(i * o) * layers * n
        }
        let headParams = Double(shard.vocabRows.count * config.hiddenSize)
        linears += 4 * headParams * n
        let lora = job.targets.reduce(0.0) { sum, target in
            let (i, o) = localFactorWidths(target, config, shard: shard)
            return sum + (recomputed(target.module) ? 8 : 6) * Double(job.loraRank) * Double(i + o) * n
        }
        let attention = (7 + attentionRecompute) * t * t * Double(shard.queryWidthLocal) * layers * Double(micro)
        return linears + lora + attention
    }

    /// Adds the TP and DP allReduce times to `plan`.
    static func addCommunication(_ plan: inout CapacityPlan, _ config: LlamaConfig, shards: [LlamaShard],
                                 cluster: ClusterSpec, job: PlannedJob, tokens: Int) {
        let tp = plan.tp, dp = plan.dp, n = Double(tokens), c = Double(config.hiddenSize), r = Double(job.loraRank)
        if tp > 1 {
            // TP groups are consecutive ranks: inside a node when tp ≤ ranks per node.
            let link = self.link(groupSize: tp, stride: 1, cluster: cluster)
            let passes = job.checkpointing == .full ? 2 : 1   // forward, plus the recompute in the backward
            // The recompute reduces o's output but not down's (the layer output is kept).
            let outputReductions = job.checkpointing == .full ? 3 : 2
            let layers = config.numHiddenLayers
            let rowTargets = job.targets.filter { $0.module.isRowParallel }.count
            let rows = Llama.trainingLogitRows(tokens: tokens, vocabLocal: shards[0].vocabRows.count)
            let chunks = (tokens + rows - 1) / rows
            let chunkRows = Double(rows)
            // (count, floats) of each kind of allReduce in one micro-batch.
            let kinds: [(Int, Double)] = [
                (2 + outputReductions * layers + 2 * layers, n * c),   // embedding, o/down outputs, head dx, dx of 2 norms
                (rowTargets * passes, n * r),                    // row-parallel LoRA bottleneck u
                (chunks, chunkRows), (chunks, 2 * chunkRows),    // loss max, then (Σexp, target)
            ]
            var seconds = 0.0, bytes = 0.0, count = 0
            for (k, floats) in kinds where k > 0 {
                seconds += Double(k) * ringAllReduceSeconds(bytes: 4 * floats, ranks: tp, latency: link.latency,
                                                            bandwidth: link.bandwidth)
                bytes += Double(k) * 4 * floats
                count += k
            }
            seconds *= Double(plan.accumulationSteps)
            bytes *= Double(plan.accumulationSteps)
            count *= plan.accumulationSteps
            // Partial gradA of column-parallel targets, once per optimizer step.
            let partialA = 4 * r * Double(job.targets.filter { !$0.module.isRowParallel && !$0.sharesA }.reduce(0) { $0 + $1.inFeatures })
            if partialA > 0 {
                seconds += ringAllReduceSeconds(bytes: partialA, ranks: tp, latency: link.latency, bandwidth: link.bandwidth)
                bytes += partialA
                count += 1
            }
            plan.time.tensorParallelSeconds = seconds
            plan.time.tensorParallelBytes = bytes
            plan.time.tensorParallelAllReduces = count
        }
        if dp > 1 {
            // DP groups stride over the TP groups; all tp of them reduce at the same time.
            let link = self.link(groupSize: dp, stride: tp, cluster: cluster)
            let floats = shards.map { loraFloats(config, shard: $0, job: job) }.max() ?? 0
            let bytes = 4 * Double(floats)
            plan.time.dataParallelBytes = bytes
            plan.time.dataParallelSeconds = ringAllReduceSeconds(bytes: bytes, ranks: dp, latency: link.latency,
                                                                 bandwidth: link.bandwidth)
        }
    }

    /// The slowest hop of a ring of `groupSize` ranks spaced `stride` apart, with the network
    /// card shared by every concurrent ring that leaves the node.
    static func link(groupSize: Int, stride: Int, cluster: ClusterSpec) -> (latency: Double, bandwidth: Double) {
        let span = (groupSize - 1) * stride + 1
        guard span > cluster.ranksPerNode else {
            return (cluster.intraNodeLatencySeconds, cluster.intraNodeBytesPerSecond)
        }
        // Groups of this kind with members on one node = ranks per node / members per node.
        let membersPerNode = max(1, cluster.ranksPerNode / max(stride, 1))
        let concurrent = max(1, cluster.ranksPerNode / min(membersPerNode, groupSize))
        return (cluster.networkLatencySeconds, cluster.networkBytesPerSecond / Double(concurrent))
    }

    /// Refuses sizes that make no sense, naming the option.
    static func check(cluster: ClusterSpec, job: PlannedJob, cost: CostModel) throws(ParallelismError) {
        let positives: [(String, Double)] = [
            ("--nodes", Double(cluster.nodes)), ("--ranks-per-node", Double(cluster.ranksPerNode)),
            ("--cores-per-rank", Double(cluster.coresPerRank)), ("--memory-per-node", cluster.memoryPerNodeBytes),
            ("--network-gbps", cluster.networkBytesPerSecond), ("--intra-node-gbps", cluster.intraNodeBytesPerSecond),
            ("--batch-size", Double(job.globalBatchSize)), ("--seq-len", Double(job.seqLen)),
            ("--lora-r", Double(job.loraRank)), ("--gflops-per-core", cost.gflopsPerCore),
            ("--efficiency", cost.efficiency), ("--micro-batch-size", Double(job.microBatchSize ?? 1)),
        ]
        for (name, value) in positives where !(value > 0 && value.isFinite) {
            throw .invalidMesh("\(name) must be positive, got \(value)")
        }
        guard cost.efficiency <= 1 else { throw .invalidMesh("--efficiency is a fraction of peak (0…1], got \(cost.efficiency)") }
        guard cost.memoryMargin >= 0, cost.memoryMargin < 1 else {
            throw .invalidMesh("--memory-margin must be in [0, 1), got \(cost.memoryMargin)")
        }
        guard cluster.networkLatencySeconds >= 0, cluster.intraNodeLatencySeconds >= 0 else {
            throw .invalidMesh("latencies must not be negative")
        }
        guard !job.targets.isEmpty else { throw .invalidMesh("no LoRA target modules") }
    }
}
