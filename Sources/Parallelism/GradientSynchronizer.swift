// After the backward of a step, the LoRA gradients of every rank are turned into the gradient
// of the global batch (docs/architecture.md §6). It reads only the adapter's list of
// `TrainableTensor`s (placement as data), never the kind of adapter:
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
import LoRA
import ProcessGroups

public final class GradientSynchronizer: @unchecked Sendable {
    public let adapter: ShardedLoRAAdapter
    public let tensorParallel: any ProcessGroup
    public let dataParallel: any ProcessGroup
    /// The tensors whose gradients are reduced, in fused order.
    private let tensors: [TrainableTensor]
    private let fused: FloatBuffer
    /// The replicated tensors' partial gradients, fused for one TP allReduce.
    private let partial: FloatBuffer
    /// A full-size buffer for the widest sliced tensor with a partial gradient (shared rows).
    private let sharedRows: FloatBuffer
    /// Per layer: its tensors' indices and its segment of `fused`.
    private let layerSegments: [Int: (tensors: [Int], start: Int, count: Int)]
    /// Reductions started by `layerReady` in this step, and the layers they cover.
    private var inFlight: [(layer: Int, reduction: any PendingReduction)] = []
    private var overlapping = false

    public init(adapter: ShardedLoRAAdapter, tensorParallel: any ProcessGroup, dataParallel: any ProcessGroup) {
        self.adapter = adapter
        self.tensorParallel = tensorParallel
        self.dataParallel = dataParallel
        tensors = adapter.tensors
        fused = FloatBuffer(count: tensors.reduce(0) { $0 + $1.gradient.count })
        partial = FloatBuffer(count: tensors.filter { $0.gradientIsPartial && $0.replicated }.reduce(0) { $0 + $1.gradient.count })
        sharedRows = FloatBuffer(count: tensors.filter { $0.gradientIsPartial && !$0.replicated }
            .map { $0.fullShape[0] * $0.fullShape[1] }.max() ?? 0)
        var segments: [Int: (tensors: [Int], start: Int, count: Int)] = [:]
        var offset = 0
        for (i, t) in tensors.enumerated() {
            let size = t.gradient.count
            if let s = segments[t.layer], s.start + s.count == offset {
                segments[t.layer] = (s.tensors + [i], s.start, s.count + size)
            } else {
                precondition(segments[t.layer] == nil, "GradientSynchronizer: a layer's tensors must be consecutive")
                segments[t.layer] = ([i], offset, size)
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

    private func startLayer(_ l: Int, _ segment: (tensors: [Int], start: Int, count: Int)) throws {
        var offset = segment.start
        for i in segment.tensors {
            let t = tensors[i]
            try reducePartialOverTensorParallel(t)
            (fused.pointer + offset).update(from: t.gradient.pointer, count: t.gradient.count)
            offset += t.gradient.count
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
            copyOut(tensors: layerSegments[layer]?.tensors ?? [], from: layerSegments[layer]?.start ?? 0)
        }
        precondition(inFlight.count == layerSegments.count, "GradientSynchronizer: layerReady missed an adapted layer")
        inFlight.removeAll(keepingCapacity: true)
    }

    /// Copies the reduced fused values from `start` back into the gradients of `indices`.
    private func copyOut(tensors indices: [Int], from start: Int) {
        var offset = start
        for i in indices {
            let g = tensors[i].gradient
            g.pointer.update(from: fused.pointer + offset, count: g.count)
            offset += g.count
        }
    }

    /// One TP reduction of the replicated partial gradients, the shared rows, then one fused
    /// DP allReduce.
    private func synchronizeBlocking() throws {
        if tensorParallel.size > 1, partial.count > 0 {
            var offset = 0
            for t in tensors where t.gradientIsPartial && t.replicated {
                (partial.pointer + offset).update(from: t.gradient.pointer, count: t.gradient.count)
                offset += t.gradient.count
            }
            try tensorParallel.allReduce(partial.buffer, .sum)
            offset = 0
            for t in tensors where t.gradientIsPartial && t.replicated {
                t.gradient.pointer.update(from: partial.pointer + offset, count: t.gradient.count)
                offset += t.gradient.count
            }
        }
        for t in tensors where !t.replicated { try reducePartialOverTensorParallel(t) }
        guard dataParallel.size > 1 else { return }
        var offset = 0
        for t in tensors {
            (fused.pointer + offset).update(from: t.gradient.pointer, count: t.gradient.count)
            offset += t.gradient.count
        }
        try dataParallel.allReduce(fused.buffer, .sum)
        copyOut(tensors: Array(tensors.indices), from: 0)
    }

    /// Sums a partial gradient over TP: a replicated tensor's in place; a slice's by placing its
    /// rows in a zeroed full-size buffer (rows two ranks hold add up, the others pass through).
    private func reducePartialOverTensorParallel(_ t: TrainableTensor) throws {
        guard tensorParallel.size > 1, t.gradientIsPartial else { return }
        if t.replicated { return try tensorParallel.allReduce(t.gradient.buffer, .sum) }
        precondition(t.splitDimension == 0, "GradientSynchronizer: a column slice cannot be partial")
        let width = t.fullShape[1], count = t.fullShape[0] * width
        let full = UnsafeMutableBufferPointer(start: sharedRows.pointer, count: count)
        full.update(repeating: 0)
        (sharedRows.pointer + t.held.lowerBound * width).update(from: t.gradient.pointer, count: t.gradient.count)
        try tensorParallel.allReduce(full, .sum)
        t.gradient.pointer.update(from: sharedRows.pointer + t.held.lowerBound * width, count: t.gradient.count)
    }

    /// The L2 norm of the whole (unsharded) gradient, the same on every rank: each element
    /// counted once (`TrainableTensor.squaredGradientNormCounted`). Call after `synchronize()`.
    public func globalNorm() throws -> Double {
        var local = 0.0
        for t in tensors { local += t.squaredGradientNormCounted() }
        if tensorParallel.size > 1 { local = try tensorParallel.allReduce([local], .sum)[0] }
        return local.squareRoot()
    }

    /// Every local gradient buffer (for clipping).
    public var gradientBuffers: [FloatBuffer] { tensors.map(\.gradient) }
}
