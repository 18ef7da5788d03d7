// Parameter placement as data (docs/architecture.md §6): every tensor a rank trains is one value
// saying what it is (PEFT name, layer, value, gradient), how the tensor-parallel group holds it
// (replicated, or a slice of rows or columns, and which part this rank owns) and whether the
// step leaves its gradient a partial sum over the group. The gradient synchronizer, the global
// norm, AdamW, the checkpoints' optimizer slices and the adapter gather all iterate one list of
// these, so a new adapter kind (DoRA's magnitude vector) is one more entry plus its math.
// Legend: TP = the tensor-parallel group; a tensor is 2-D [rows, columns] in its full shape.

import Kernels

/// One trainable tensor on this rank.
public struct TrainableTensor: Sendable {
    /// The full tensor's name (the PEFT key, e.g. `...q_proj.lora_A.weight`).
    public let name: String
    /// Decoder layer (gradients of a layer are reduced together when overlapping).
    public let layer: Int
    /// This rank's part, `[localRows, localColumns]`, and its gradient (same layout).
    public let value: FloatBuffer
    public let gradient: FloatBuffer
    /// `[rows, columns]` of the whole tensor.
    public let fullShape: [Int]
    /// The dimension the tensor is split along over TP (0 rows, 1 columns), even when it is not.
    public let splitDimension: Int
    /// The range of `splitDimension` each TP rank holds, in TP rank order (all of it when
    /// replicated), and the part of it each owns: held by no lower TP rank. A rank counts and
    /// gathers only what it owns.
    public let heldByRank: [Range<Int>]
    public let ownedByRank: [Range<Int>]
    /// This rank's index in `heldByRank`.
    public let tpRank: Int
    /// Every TP rank holds the whole tensor, identical after each step.
    public let replicated: Bool
    /// The step leaves the gradient a partial sum over TP: of the whole tensor when replicated,
    /// of the rows two ranks hold otherwise. Reduce it once per optimizer step.
    public let gradientIsPartial: Bool

    public init(name: String, layer: Int, value: FloatBuffer, gradient: FloatBuffer, fullShape: [Int],
                splitDimension: Int, heldByRank: [Range<Int>], ownedByRank: [Range<Int>], tpRank: Int,
                replicated: Bool, gradientIsPartial: Bool) {
        precondition(fullShape.count == 2 && (0...1).contains(splitDimension), "TrainableTensor: a 2-D tensor split along 0 or 1")
        precondition(heldByRank.indices.contains(tpRank) && heldByRank.count == ownedByRank.count, "TrainableTensor: bad rank lists")
        precondition(splitDimension == 0 || ownedByRank == heldByRank, "TrainableTensor: column slices cannot overlap")
        self.name = name
        self.layer = layer
        self.value = value
        self.gradient = gradient
        self.fullShape = fullShape
        self.splitDimension = splitDimension
        self.heldByRank = heldByRank
        self.ownedByRank = ownedByRank
        self.tpRank = tpRank
        self.replicated = replicated
        self.gradientIsPartial = gradientIsPartial
        precondition(value.count == localShape[0] * localShape[1] && gradient.count == value.count,
                     "TrainableTensor: \(name) holds \(value.count) values for the local shape \(localShape)")
    }

    /// A tensor one rank holds whole (tp = 1, or an unsharded adapter).
    public init(name: String, layer: Int, value: FloatBuffer, gradient: FloatBuffer, fullShape: [Int], splitDimension: Int) {
        let all = 0..<fullShape[splitDimension]
        self.init(name: name, layer: layer, value: value, gradient: gradient, fullShape: fullShape,
                  splitDimension: splitDimension, heldByRank: [all], ownedByRank: [all], tpRank: 0,
                  replicated: true, gradientIsPartial: false)
    }

    /// The range of `splitDimension` held here, and the part owned here.
    public var held: Range<Int> { heldByRank[tpRank] }
    public var owned: Range<Int> { ownedByRank[tpRank] }

    /// `[rows, columns]` of this rank's part.
    public var localShape: [Int] {
        splitDimension == 0 ? [held.count, fullShape[1]] : [fullShape[0], held.count]
    }

    /// Elements of one index of `splitDimension` (a row's width when split by rows).
    var stride: Int { splitDimension == 0 ? fullShape[1] : 1 }

    /// The slice held, as "dimension:lower:upper" of the full tensor (checkpoint metadata).
    public var sliceDescription: String { "\(splitDimension):\(held.lowerBound):\(held.upperBound)" }

    /// Σ gradient² over what this rank counts in a global norm: a replicated tensor on TP rank
    /// 0 only, a slice over the part this rank owns.
    public func squaredGradientNormCounted() -> Double {
        if replicated { return tpRank == 0 ? squaredNorm(from: 0, count: gradient.count) : 0 }
        if splitDimension == 1 { return squaredNorm(from: 0, count: gradient.count) }
        return squaredNorm(from: (owned.lowerBound - held.lowerBound) * stride, count: owned.count * stride)
    }

    private func squaredNorm(from start: Int, count: Int) -> Double {
        var sum = 0.0
        let p = gradient.pointer + start
        for i in 0..<count { sum += Double(p[i]) * Double(p[i]) }
        return sum
    }
}
