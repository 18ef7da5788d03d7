// Refuses a training job that would not fit in memory before it loads the model, instead of
// letting the kernel's OOM killer end a rank minutes later. The estimate per rank is
// `CapacityPlanner`'s (the formula `tessera plan` prints: base slice + LoRA state + the
// TrainingWorkspace + runtime overhead); the budget per rank is the host's memory (HostMemory)
// divided by the ranks on the host. No margin: the formula already counts the runtime overhead,
// and a cgroup limit is the hard edge itself.
import LlamaModel

/// The estimate for one job against one host's memory.
public struct MemoryVerdict: Sendable, Equatable {
    public let estimate: RankMemory
    public let host: HostMemory
    public let ranksOnHost: Int

    /// The host's memory divided by its ranks.
    public var budgetPerRankBytes: Double { Double(host.bytes) / Double(max(ranksOnHost, 1)) }
    public var fits: Bool { estimate.totalBytes <= budgetPerRankBytes }
}

/// One job as `tessera train` and `bench train` will run it.
public struct MemoryGuard: Sendable {
    public var config: LlamaConfig
    public var job: PlannedJob
    public var tp: Int
    public var worldSize: Int
    public var ranksOnHost: Int
    public var cost: CostModel

    /// `embeddingBytesPerParameter`: the file's (`ModelSummary.embeddingBytesPerParameter`);
    /// `baseQuantization`: how the linears are held (`--base-quant`); `linearBytesPerParameter`:
    /// the file's bytes per linear weight value (`ModelSummary.linearBytesPerParameter`), which
    /// `stored` holds.
    public init(config: LlamaConfig, job: PlannedJob, tp: Int, worldSize: Int, ranksOnHost: Int,
                embeddingBytesPerParameter: Double, baseQuantization: BaseQuantization,
                linearBytesPerParameter: Double = 2) {
        self.config = config
        self.job = job
        self.tp = tp
        self.worldSize = worldSize
        self.ranksOnHost = max(ranksOnHost, 1)
        // Only the memory half of the plan is used; the speed assumptions do not matter here.
        cost = CostModel(gflopsPerCore: 1, embeddingBytesPerParameter: embeddingBytesPerParameter,
                         baseQuantization: baseQuantization, linearBytesPerParameter: linearBytesPerParameter)
    }

    /// Bytes of the largest rank at `tp` with micro-batches of `microBatchSize` sequences (nil:
    /// the rank's whole share, as `tessera train` does without --micro-batch-size).
    public func estimate(tp: Int, microBatchSize: Int?) throws(ParallelismError) -> RankMemory {
        var job = self.job
        job.microBatchSize = microBatchSize
        // One node of all the ranks: the per-rank figure does not depend on the node layout.
        let cluster = ClusterSpec(nodes: 1, ranksPerNode: worldSize, coresPerRank: 1, memoryPerNodeGB: 1,
                                  networkGbps: 1, latencyMicroseconds: 0)
        return try CapacityPlanner.plan(config, cluster: cluster, job: job, cost: cost, tp: tp).memory
    }

    /// The verdict for `host`; throws `.doesNotFit` with the nearest settings that fit.
    public func check(_ host: HostMemory) throws(MemoryGuardError) -> MemoryVerdict {
        let estimate: RankMemory
        do { estimate = try self.estimate(tp: tp, microBatchSize: job.microBatchSize) } catch { throw .cannotEstimate(error) }
        let verdict = MemoryVerdict(estimate: estimate, host: host, ranksOnHost: ranksOnHost)
        guard verdict.fits else {
            throw .doesNotFit(neededBytes: estimate.totalBytes, host: host, ranksOnHost: ranksOnHost,
                              remedy: remedy(budget: verdict.budgetPerRankBytes))
        }
        return verdict
    }

    /// The smallest larger tp with the same micro-batch, the largest smaller micro-batch at this
    /// tp; if neither fits alone, the smallest tp with the largest micro-batch that fits there.
    func remedy(budget: Double) -> MemoryGuardError.Remedy {
        func fits(_ tp: Int, _ micro: Int?) -> Bool {
            (try? estimate(tp: tp, microBatchSize: micro)).map { $0.totalBytes <= budget } ?? false
        }
        let cluster = ClusterSpec(nodes: 1, ranksPerNode: worldSize, coresPerRank: 1, memoryPerNodeGB: 1,
                                  networkGbps: 1, latencyMicroseconds: 0)
        let largerTPs = CapacityPlanner.candidateTPs(config, cluster: cluster, job: job).filter { $0 > tp }
        let share = job.globalBatchSize / max(worldSize / tp, 1)
        let micro = min(job.microBatchSize ?? share, max(share, 1))
        let betterTP = largerTPs.first { fits($0, job.microBatchSize) }
        let betterMicro = micro > 1 ? (1..<micro).reversed().first { fits(tp, $0) } : nil
        if betterTP != nil || betterMicro != nil { return .init(tp: betterTP, microBatchSize: betterMicro) }
        for t in largerTPs {
            let tShare = job.globalBatchSize / max(worldSize / t, 1)
            if let m = (1...max(min(micro, tShare), 1)).reversed().first(where: { fits(t, $0) }) {
                return .init(tp: t, microBatchSize: m, combined: true)
            }
        }
        return .init()
    }
}
