// The LoRA factors one tensor-parallel rank trains (docs/architecture.md §5.2, PEFT placement):
//   column-parallel q, k, v, gate, up: A [r, C] replicated, B [O_local, r] = rows of B;
//   row-parallel o, down:              A [r, I_local] = columns of A, B [C, r] replicated.
// Built by slicing a full adapter (which every rank initialises identically from the seed and
// each tensor's name, never from its rank), and gathered back into the full PEFT layout for
// saving. Which gradients are partial over the TP group: A of column-parallel modules (every
// rank sees the whole input but only its rows of the output), and the k/v B rows of a KV head
// two ranks share (each computes that head's k, v but back-propagates only its own query
// heads); everything else is exact. Shared rows are counted, saved and gathered once, from the
// lowest TP rank that holds them (`bRowsOwned`).
// Legend: r = LoRA rank, C = hidden, O/I = out/in features, *_local = this rank's slice.
import Kernels
import LlamaModel
import LoRA
import ProcessGroups

/// One module's local factors and where they sit in the full tensors.
public struct LocalLoRAFactors: Sendable {
    public let target: LoRATarget
    /// `[r, I_local]` (I_local = I unless row-parallel).
    public let a: FloatBuffer
    /// `[O_local, r]` (O_local = O unless column-parallel).
    public let b: FloatBuffer
    public let gradA: FloatBuffer
    public let gradB: FloatBuffer
    /// Columns of the full A held (all of them for column-parallel modules).
    public let aColumns: Range<Int>
    /// Rows of the full B held (all of them for row-parallel modules).
    public let bRows: Range<Int>
    /// The part of `bRows` no lower TP rank holds: what this rank counts in the gradient norm
    /// and contributes to a gather (all of `bRows` on TP rank 0 and without shared KV heads).
    public let bRowsOwned: Range<Int>
    /// True when some rows of B are held by two TP ranks (k, v of a KV head split between
    /// ranks): their `gradB` rows are partial sums over the TP group. The same on every rank.
    public let gradBIsPartial: Bool
    /// True when `gradA` is a partial sum over the TP group (column-parallel modules).
    public var gradAIsPartial: Bool { !target.module.isRowParallel }
}

/// This rank's slice of a LoRA adapter, usable by the model's training step.
public final class ShardedLoRAAdapter: LowRankAdapters, @unchecked Sendable {
    public let rank: Int
    public let scaling: Float
    public let dropout: Float
    public let factors: [LocalLoRAFactors]
    /// Every tensor this rank trains with its placement, per target A then B (PEFT order): what
    /// the synchronizer, the norm, the optimizer, the checkpoints and the gather iterate.
    public let tensors: [TrainableTensor]
    private let index: [String: Int]
    /// Every rank's shard, in TP rank order (to compute gather counts).
    public let shards: [LlamaShard]
    public let tpRank: Int

    /// Slices `full` for TP rank `tpRank` of `shards`.
    public init(slicing full: LoRAAdapter, shards: [LlamaShard], tpRank: Int) {
        precondition(shards.indices.contains(tpRank), "ShardedLoRAAdapter: tp rank outside the shard list")
        let shard = shards[tpRank]
        let r = full.rank
        rank = r
        scaling = Float(full.scaling)
        dropout = Float(full.config.loraDropout)
        self.shards = shards
        self.tpRank = tpRank
        var factors: [LocalLoRAFactors] = []
        var index: [String: Int] = [:]
        for source in full.factors {
            let target = source.target
            let (aColumns, bRows) = Self.slices(target.module, shard: shard, target: target)
            let (owned, shared) = Self.ownership(target, shards: shards, tpRank: tpRank)
            let b = FloatBuffer(count: bRows.count * r)
            b.pointer.update(from: source.b.pointer + bRows.lowerBound * r, count: bRows.count * r)
            let a: FloatBuffer, gradA: FloatBuffer
            if target.sharesA, let first = factors.last(where: { $0.target.layer == target.layer && $0.target.fused == target.fused }) {
                // A later part of a fused module (column-parallel, A whole): the first part's A.
                (a, gradA) = (first.a, first.gradA)
            } else {
                a = FloatBuffer(count: r * aColumns.count)
                gradA = FloatBuffer(count: a.count)
                for i in 0..<r {   // A [r, I] → columns aColumns
                    (a.pointer + i * aColumns.count).update(from: source.a.pointer + i * target.inFeatures + aColumns.lowerBound,
                                                             count: aColumns.count)
                }
            }
            index["\(target.layer).\(target.module.rawValue)"] = factors.count
            factors.append(LocalLoRAFactors(target: target, a: a, b: b, gradA: gradA,
                                            gradB: FloatBuffer(count: b.count), aColumns: aColumns, bRows: bRows,
                                            bRowsOwned: owned, gradBIsPartial: shared))
        }
        self.factors = factors
        self.index = index
        tensors = factors.flatMap { f in
            let target = f.target, module = target.module
            let held = shards.map { Self.slices(module, shard: $0, target: target) }
            let owned = shards.indices.map { Self.ownership(target, shards: shards, tpRank: $0).owned }
            // A fused module's later parts: their A is the first part's tensor.
            return (target.sharesA ? [] : [
                // A [r, I]: split by columns (row-parallel), else replicated with a partial gradient.
                TrainableTensor(name: target.loraAName, layer: target.layer, value: f.a, gradient: f.gradA,
                                fullShape: [r, target.inFeatures], splitDimension: 1, heldByRank: held.map(\.0),
                                ownedByRank: held.map(\.0), tpRank: tpRank, replicated: !module.isRowParallel,
                                gradientIsPartial: f.gradAIsPartial),
            ]) + [
                // B [O, r]: split by rows (column-parallel; shared KV rows partial), else replicated.
                TrainableTensor(name: target.trainableBName, layer: target.layer, value: f.b, gradient: f.gradB,
                                fullShape: [target.outFeatures, r], splitDimension: 0, heldByRank: held.map(\.1),
                                ownedByRank: owned, tpRank: tpRank, replicated: module.isRowParallel,
                                gradientIsPartial: f.gradBIsPartial),
            ]
        }
    }

    /// The columns of A and rows of B that `shard` holds for `module`.
    static func slices(_ module: LinearModule, shard: LlamaShard, target: LoRATarget) -> (Range<Int>, Range<Int>) {
        let allIn = 0..<target.inFeatures, allOut = 0..<target.outFeatures
        switch module {
        case .qProj: return (allIn, shard.queryRows)
        case .kProj, .vProj: return (allIn, shard.keyValueRows)
        case .gateProj, .upProj: return (allIn, shard.ffnColumns)
        case .oProj: return (shard.queryRows, allOut)
        case .downProj: return (shard.ffnColumns, allOut)
        }
    }

    /// The rows of B `shards[tpRank]` owns (holds and no lower rank does), and whether any two
    /// shards hold a common row of B.
    static func ownership(_ target: LoRATarget, shards: [LlamaShard], tpRank: Int) -> (owned: Range<Int>, shared: Bool) {
        let rows = shards.map { slices(target.module, shard: $0, target: target).1 }
        var covered = 0, shared = false
        var owned = rows[tpRank]
        for (r, held) in rows.enumerated() {
            if held.lowerBound < covered && !held.isEmpty && !target.module.isRowParallel { shared = true }
            if r == tpRank { owned = min(max(held.lowerBound, covered), held.upperBound)..<held.upperBound }
            covered = max(covered, held.upperBound)
        }
        return target.module.isRowParallel ? (rows[tpRank], false) : (owned, shared)
    }

    public func factors(layer: Int, module: LinearModule) -> LowRankFactors? {
        guard let position = index["\(layer).\(module.rawValue)"] else { return nil }
        let f = factors[position]
        return LowRankFactors(a: f.a.pointer, b: f.b.pointer, gradA: f.gradA.pointer, gradB: f.gradB.pointer,
                              rank: rank, scaling: scaling, dropout: dropout)
    }

    /// Sets every gradient to zero.
    public func zeroGradients() {
        for f in factors {
            f.gradA.zero()
            f.gradB.zero()
        }
    }

    /// Gathers every rank's slices into `full` on every rank of `group` (collective over the TP
    /// group; a group of one just copies).
    public func gather(into full: LoRAAdapter, group: any ProcessGroup) throws {
        for (local, target) in zip(tensors, full.tensors) {
            precondition(local.name == target.name, "ShardedLoRAAdapter.gather: \(local.name) vs \(target.name)")
            if local.replicated || group.size == 1 {
                target.value.pointer.update(from: local.value.pointer, count: local.value.count)
            } else if local.splitDimension == 0 {
                // Rows: each rank's owned rows, concatenated in rank order.
                let width = local.fullShape[1]
                let counts = local.ownedByRank.map { $0.count * width }
                let mine = UnsafeBufferPointer(start: local.value.pointer + (local.owned.lowerBound - local.held.lowerBound) * width,
                                               count: local.owned.count * width)
                try group.allGatherV(mine, counts: counts, into: target.value.buffer)
            } else {
                // Columns: gathered blocks, re-interleaved per row.
                let rows = local.fullShape[0], columnsTotal = local.fullShape[1]
                let counts = local.heldByRank.map { $0.count * rows }
                var blocks = [Float](repeating: 0, count: counts.reduce(0, +))
                try blocks.withUnsafeMutableBufferPointer { destination in
                    try group.allGatherV(UnsafeBufferPointer(local.value.buffer), counts: counts, into: destination)
                }
                var offset = 0
                for columns in local.heldByRank {
                    for i in 0..<rows {
                        for (j, column) in columns.enumerated() {
                            target.value.pointer[i * columnsTotal + column] = blocks[offset + i * columns.count + j]
                        }
                    }
                    offset += columns.count * rows
                }
            }
        }
    }
}
