// After the backward of a step, the LoRA gradients of every rank are turned into the gradient
// of the global batch (DESIGN §3.6–7):
//   1. column-parallel gradA is a partial sum over the TP group → allReduce over TP;
//   2. every gradient covers only this DP rank's batch shard → one fused allReduce (sum) over
//      the DP group. The loss was already scaled by 1 / (counted targets of the global batch),
//      so the sum is the mean gradient.
//   3. the global L2 norm for clipping counts each parameter once: sliced factors on every TP
//      rank, replicated ones on TP rank 0 only, summed over the TP group.
// The fused buffer is allocated once; copying in and out is cheap next to the reduction.
import Collectives
import Kernels
import LlamaModel

public final class GradientSynchronizer: @unchecked Sendable {
    public let adapter: ShardedLoRAAdapter
    public let tensorParallel: Communicator
    public let dataParallel: Communicator
    private let fused: FloatBuffer
    private let partial: FloatBuffer

    public init(adapter: ShardedLoRAAdapter, tensorParallel: Communicator, dataParallel: Communicator) {
        self.adapter = adapter
        self.tensorParallel = tensorParallel
        self.dataParallel = dataParallel
        fused = FloatBuffer(count: adapter.factors.reduce(0) { $0 + $1.gradA.count + $1.gradB.count })
        partial = FloatBuffer(count: adapter.factors.filter(\.gradAIsPartial).reduce(0) { $0 + $1.gradA.count })
    }

    /// Reduces the gradients over TP (partial ones) and DP (all), in place.
    public func synchronize() throws {
        if tensorParallel.size > 1, partial.count > 0 {
            var offset = 0
            for f in adapter.factors where f.gradAIsPartial {
                (partial.pointer + offset).update(from: f.gradA.pointer, count: f.gradA.count)
                offset += f.gradA.count
            }
            try tensorParallel.allReduce(partial.buffer, .sum)
            offset = 0
            for f in adapter.factors where f.gradAIsPartial {
                f.gradA.pointer.update(from: partial.pointer + offset, count: f.gradA.count)
                offset += f.gradA.count
            }
        }
        guard dataParallel.size > 1 else { return }
        var offset = 0
        for f in adapter.factors {
            (fused.pointer + offset).update(from: f.gradA.pointer, count: f.gradA.count)
            offset += f.gradA.count
            (fused.pointer + offset).update(from: f.gradB.pointer, count: f.gradB.count)
            offset += f.gradB.count
        }
        try dataParallel.allReduce(fused.buffer, .sum)
        offset = 0
        for f in adapter.factors {
            f.gradA.pointer.update(from: fused.pointer + offset, count: f.gradA.count)
            offset += f.gradA.count
            f.gradB.pointer.update(from: fused.pointer + offset, count: f.gradB.count)
            offset += f.gradB.count
        }
    }

    /// The L2 norm of the whole (unsharded) gradient, the same on every rank. Call after
    /// `synchronize()`.
    public func globalNorm() throws -> Double {
        var local = 0.0
        let countReplicated = tensorParallel.rank == 0
        for f in adapter.factors {
            // Column-parallel: A replicated, B sliced. Row-parallel: A sliced, B replicated.
            let aReplicated = !f.target.module.isRowParallel
            if !aReplicated || countReplicated { local += squaredNorm(f.gradA) }
            if aReplicated || countReplicated { local += squaredNorm(f.gradB) }
        }
        if tensorParallel.size > 1 { local = try tensorParallel.allReduce([local], .sum)[0] }
        return local.squareRoot()
    }

    /// Every local gradient buffer (for clipping).
    public var gradientBuffers: [FloatBuffer] { adapter.factors.flatMap { [$0.gradA, $0.gradB] } }

    private func squaredNorm(_ buffer: FloatBuffer) -> Double {
        var sum = 0.0
        let p = buffer.pointer
        for i in 0..<buffer.count { sum += Double(p[i]) * Double(p[i]) }
        return sum
    }
}
