// After the backward of a step, the LoRA gradients of every rank are turned into the gradient
// of the global batch (docs/architecture.md §6):
//   1. column-parallel gradA is a partial sum over the TP group → allReduce over TP; so are
//      the k/v gradB rows of a KV head two ranks share → each rank places its rows in a
//      zeroed full-size buffer and allReduces that over TP (unshared rows pass through exactly);
//   2. every gradient covers only this DP rank's batch shard → one fused allReduce (sum) over
//      the DP group. The loss was already scaled by 1 / (counted targets of the global batch),
//      so the sum is the mean gradient.
//   3. the global L2 norm for clipping counts each parameter once: sliced factors on every TP
//      rank (shared B rows on the lowest rank holding them), replicated ones on TP rank 0 only,
//      summed over the TP group.
// The fused buffer is allocated once; copying in and out is cheap next to the reduction.
// Overlap (docs/architecture.md §6): during the backward of a step's last micro-batch,
// `layerReady(l)` is called as soon as layer l's gradients are final. It reduces the layer's
// partial gradA over TP (blocking, small), copies the layer into its segment of the fused buffer
// and starts a nonblocking allReduce of that segment over DP, while the backward goes on with
// earlier layers; each call also tests the reductions in flight so MPI progresses them.
// `synchronize()` then only waits for what is still in flight.
// Both groups are process groups (ProcessGroups): MPI communicators under mpirun, threads in the
// tests (DataParallelTrainerTests).
import Kernels
import LlamaModel
import ProcessGroups

public final class GradientSynchronizer: @unchecked Sendable {
    public let adapter: ShardedLoRAAdapter
    public let tensorParallel: any ProcessGroup
    public let dataParallel: any ProcessGroup
    private let fused: FloatBuffer
    private let partial: FloatBuffer
    /// A full-size `[O, r]` B of the widest factor whose B rows are shared between TP ranks.
    private let sharedRows: FloatBuffer
    /// Per layer: its factors' indices and its segment of `fused` (factors in fused order).
    private let layerSegments: [Int: (factors: [Int], start: Int, count: Int)]
    /// Reductions started by `layerReady` in this step, and the layers they cover.
    private var inFlight: [(layer: Int, reduction: any PendingReduction)] = []
    private var overlapping = false

    public init(adapter: ShardedLoRAAdapter, tensorParallel: any ProcessGroup, dataParallel: any ProcessGroup) {
        self.adapter = adapter
        self.tensorParallel = tensorParallel
        self.dataParallel = dataParallel
        fused = FloatBuffer(count: adapter.factors.reduce(0) { $0 + $1.gradA.count + $1.gradB.count })
        partial = FloatBuffer(count: adapter.factors.filter(\.gradAIsPartial).reduce(0) { $0 + $1.gradA.count })
        sharedRows = FloatBuffer(count: adapter.factors.filter(\.gradBIsPartial)
            .map { $0.target.outFeatures * adapter.rank }.max() ?? 0)
        var segments: [Int: (factors: [Int], start: Int, count: Int)] = [:]
        var offset = 0
        for (i, f) in adapter.factors.enumerated() {
            let size = f.gradA.count + f.gradB.count
            let layer = f.target.layer
            if let s = segments[layer], s.start + s.count == offset {
                segments[layer] = (s.factors + [i], s.start, s.count + size)
            } else {
                precondition(segments[layer] == nil, "GradientSynchronizer: a layer's factors must be consecutive")
                segments[layer] = ([i], offset, size)
            }
            offset += size
        }
        layerSegments = segments
        inFlight.reserveCapacity(segments.count)
    }

    /// Whether overlapping pays: there is a data-parallel group to reduce over.
    public var canOverlap: Bool { dataParallel.size > 1 }

    /// Call before the backward of a step's last micro-batch whose `layerGradientsReady` calls
    /// `layerReady`; `synchronize()` then finishes what they started.
    public func beginOverlap() throws {
        // A step that failed mid-backward may have left reductions in flight: finish them.
        for (_, reduction) in inFlight { try reduction.wait() }
        inFlight.removeAll(keepingCapacity: true)
        overlapping = canOverlap
    }

    /// Layer `l`'s gradients are final for the step: reduce them over TP, start their DP
    /// reduction, and progress the ones in flight.
    public func layerReady(_ l: Int) throws {
        guard overlapping, let segment = layerSegments[l] else { return }
        try StepProfile.measure(.communication) { try startLayer(l, segment) }
    }

    private func startLayer(_ l: Int, _ segment: (factors: [Int], start: Int, count: Int)) throws {
        var offset = segment.start
        for i in segment.factors {
            let f = adapter.factors[i]
            if tensorParallel.size > 1, f.gradAIsPartial { try tensorParallel.allReduce(f.gradA.buffer, .sum) }
            try reduceSharedRows(f)
            (fused.pointer + offset).update(from: f.gradA.pointer, count: f.gradA.count)
            offset += f.gradA.count
            (fused.pointer + offset).update(from: f.gradB.pointer, count: f.gradB.count)
            offset += f.gradB.count
        }
        let slice = UnsafeMutableBufferPointer(start: fused.pointer + segment.start, count: segment.count)
        inFlight.append((l, try dataParallel.startAllReduce(slice, .sum)))
        for (_, reduction) in inFlight { _ = try reduction.test() }
    }

    /// Reduces the gradients over TP (partial ones) and DP (all), in place; after an overlapped
    /// backward, waits for the reductions `layerReady` started and reduces any layer it missed.
    public func synchronize() throws {
        guard overlapping else { return try synchronizeBlocking() }
        overlapping = false
        for (layer, reduction) in inFlight {
            try reduction.wait()
            copyOut(layer: layer)
        }
        precondition(inFlight.count == layerSegments.count, "GradientSynchronizer: layerReady missed an adapted layer")
        inFlight.removeAll(keepingCapacity: true)
    }

    /// Copies layer `l`'s reduced segment back into its gradients.
    private func copyOut(layer l: Int) {
        guard let segment = layerSegments[l] else { return }
        var offset = segment.start
        for i in segment.factors {
            let f = adapter.factors[i]
            f.gradA.pointer.update(from: fused.pointer + offset, count: f.gradA.count)
            offset += f.gradA.count
            f.gradB.pointer.update(from: fused.pointer + offset, count: f.gradB.count)
            offset += f.gradB.count
        }
    }

    /// One TP reduction of the partial gradients, then one fused DP allReduce.
    private func synchronizeBlocking() throws {
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
        for f in adapter.factors { try reduceSharedRows(f) }
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

    /// Sums `f.gradB` over the TP group when some of its rows are shared (see the header).
    private func reduceSharedRows(_ f: LocalLoRAFactors) throws {
        guard tensorParallel.size > 1, f.gradBIsPartial else { return }
        let r = adapter.rank, count = f.target.outFeatures * r
        let full = UnsafeMutableBufferPointer(start: sharedRows.pointer, count: count)
        full.update(repeating: 0)
        (sharedRows.pointer + f.bRows.lowerBound * r).update(from: f.gradB.pointer, count: f.gradB.count)
        try tensorParallel.allReduce(full, .sum)
        f.gradB.pointer.update(from: sharedRows.pointer + f.bRows.lowerBound * r, count: f.gradB.count)
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
            if aReplicated {
                let r = adapter.rank, skipped = (f.bRowsOwned.lowerBound - f.bRows.lowerBound) * r
                local += squaredNorm(f.gradB, from: skipped, count: f.bRowsOwned.count * r)
            } else if countReplicated {
                local += squaredNorm(f.gradB)
            }
        }
        if tensorParallel.size > 1 { local = try tensorParallel.allReduce([local], .sum)[0] }
        return local.squareRoot()
    }

    /// Every local gradient buffer (for clipping).
    public var gradientBuffers: [FloatBuffer] { adapter.factors.flatMap { [$0.gradA, $0.gradB] } }

    private func squaredNorm(_ buffer: FloatBuffer, from start: Int = 0, count: Int? = nil) -> Double {
        var sum = 0.0
        let p = buffer.pointer + start
        for i in 0..<(count ?? buffer.count - start) { sum += Double(p[i]) * Double(p[i]) }
        return sum
    }
}
