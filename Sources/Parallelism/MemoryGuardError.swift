// Why `tessera train` (or `bench train`) refuses a job before loading the model: one line with
// the estimate, the limit, the share per rank and what would fit (docs/preemption.md).
import Foundation

public enum MemoryGuardError: Error, Equatable, CustomStringConvertible {
    /// The estimate per rank exceeds the host's memory divided by the ranks on the host.
    case doesNotFit(neededBytes: Double, host: HostMemory, ranksOnHost: Int, remedy: Remedy)
    /// The memory formula cannot be evaluated for this job (a mesh or batch the trainer will
    /// refuse with its own message).
    case cannotEstimate(ParallelismError)
    /// `TESSERA_MEMORY_LIMIT_BYTES` is not a positive number of bytes.
    case invalidOverride(variable: String, value: String)

    /// The nearest settings that fit, each alone or together; both nil when none does.
    public struct Remedy: Sendable, Equatable {
        /// The smallest larger tp (same ranks, smaller dp) that fits with the same micro-batch.
        public var tp: Int?
        /// The largest smaller micro-batch size that fits at this tp (or at `tp`, if `combined`).
        public var microBatchSize: Int?
        /// Only tp and micro-batch size together fit.
        public var combined: Bool

        public init(tp: Int? = nil, microBatchSize: Int? = nil, combined: Bool = false) {
            self.tp = tp
            self.microBatchSize = microBatchSize
            self.combined = combined
        }

        var text: String {
            switch (tp, microBatchSize) {
            case let (tp?, micro?): return combined ? "use --tp \(tp) with --micro-batch-size \(micro)"
                                                    : "use --tp \(tp) or --micro-batch-size \(micro)"
            case let (tp?, nil): return "use --tp \(tp)"
            case let (nil, micro?): return "use --micro-batch-size \(micro)"
            case (nil, nil): return "no tp of these ranks and no micro-batch size fits: run fewer ranks per host or shorter sequences"
            }
        }
    }

    /// GB (10⁹ bytes) with two significant decimals below 10 GB.
    static func gigabytes(_ bytes: Double) -> String {
        let gb = bytes / 1e9
        return String(format: gb >= 10 ? "%.0f GB" : (gb >= 1 ? "%.1f GB" : "%.2f GB"), gb)
    }

    public var description: String {
        switch self {
        case let .doesNotFit(needed, host, ranks, remedy):
            let share = ranks > 1
                ? "\(ranks) ranks on this host share \(Self.gigabytes(Double(host.bytes))) (\(host)) = \(Self.gigabytes(Double(host.bytes) / Double(ranks))) each"
                : "this host has \(Self.gigabytes(Double(host.bytes))) (\(host))"
            return "the job needs about \(Self.gigabytes(needed)) per rank, but \(share); \(remedy.text), or --force to try anyway"
        case .cannotEstimate(let error):
            return "cannot estimate the memory of this job: \(error)"
        case let .invalidOverride(variable, value):
            return "\(variable) must be a positive number of bytes, got '\(value)'; unset it to use the cgroup limit and MemAvailable"
        }
    }
}
