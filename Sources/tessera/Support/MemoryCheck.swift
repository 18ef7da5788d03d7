// The memory guard as `train` and `bench train` run it: on every rank (hosts differ), in its own
// agreed phase before the model is loaded. A refusal is the library's one-line MemoryGuardError,
// printed once by rank 0 through the agreed-failure path (every rank exits 1).
import Foundation
import LlamaModel
import ModelIO
import Parallelism

enum MemoryCheck {
    /// Ranks of this job on this host: OpenMPI's local size (1 without a launcher).
    static var ranksOnHost: Int {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
    }

    /// Checks `memoryGuard`'s job against this host (unless `force`) and returns the summary line
    /// (estimate and budget); nil for a job the trainer refuses later with its own message (a
    /// batch that does not split over dp).
    static func run(_ memoryGuard: MemoryGuard, force: Bool) throws -> String? {
        guard let estimate = try? memoryGuard.estimate(tp: memoryGuard.tp, microBatchSize: memoryGuard.job.microBatchSize)
        else { return nil }
        let needed = String(format: "memory per rank: estimate %.2f GB (tessera plan's formula)", estimate.totalBytes / 1e9)
        if force { return needed + "; check skipped (--force)" }
        guard let host = try HostMemory.probe() else { return needed + "; check skipped (no cgroup limit or MemAvailable readable)" }
        let verdict = try memoryGuard.check(host)
        let share = verdict.ranksOnHost > 1 ? " / \(verdict.ranksOnHost) ranks on this host" : ""
        return needed + String(format: ", budget %.2f GB (%.2f GB %@%@)", verdict.budgetPerRankBytes / 1e9,
                               Double(host.bytes) / 1e9, host.description, share)
    }
}
