// Predicted strong and weak scaling of a job from 1 to 64 nodes (`tessera plan`), with the plan's
// tp kept (TP groups stay inside a node) and dp = ranks / tp growing with the nodes:
//   strong  the global batch stays the job's; a node count whose dp does not divide it is skipped;
//   weak    the batch per model copy stays the job's at the requested cluster (global = that × dp).
// Speed-up is tokens/s over the 1-node prediction, efficiency = speed-up / nodes.
import LlamaModel

/// One node count of a predicted scaling table.
public struct ScalingPoint: Sendable {
    public let nodes: Int
    public let dp: Int
    /// Strong scaling (global batch fixed); nil with the reason when the batch does not split.
    public let strong: Result<CapacityPlan, ParallelismError>
    /// Weak scaling (batch per model copy fixed).
    public let weak: Result<CapacityPlan, ParallelismError>
}

extension CapacityPlanner {
    /// Node counts of the scaling table: powers of two up to 64.
    public static let scalingNodeCounts = [1, 2, 4, 8, 16, 32, 64]

    /// `job` on 1 … 64 nodes of `cluster`'s kind at tensor-parallel size `tp`.
    public static func scaling(_ config: LlamaConfig, cluster: ClusterSpec, job: PlannedJob, cost: CostModel,
                               tp: Int, nodeCounts: [Int] = scalingNodeCounts) -> [ScalingPoint] {
        let perCopy = max(1, job.globalBatchSize / max(1, cluster.worldSize / max(tp, 1)))
        return nodeCounts.map { nodes in
            var scaled = cluster
            scaled.nodes = nodes
            let dp = max(1, scaled.worldSize / max(tp, 1))
            var weakJob = job
            weakJob.globalBatchSize = perCopy * dp
            return ScalingPoint(
                nodes: nodes, dp: dp,
                strong: Result { () throws(ParallelismError) in try plan(config, cluster: scaled, job: job, cost: cost, tp: tp) },
                weak: Result { () throws(ParallelismError) in try plan(config, cluster: scaled, job: weakJob, cost: cost, tp: tp) })
        }
    }
}
