// The LoRA linear of PEFT over one frozen weight slice, forward and backward side by side:
//   y = x·Wᵀ (+ b) + scaling · (drop(x)·Aᵀ)·Bᵀ,   u = drop(x)·Aᵀ [N, r] kept for the backward.
// Legend: N = tokens, I = local in features, O = local out features, r = LoRA rank.
//
// Tensor parallelism (docs/architecture.md §5.2), one code path for any group size:
// - Column-parallel (q, k, v, gate, up): W and B hold this rank's output rows, A is replicated.
//   The forward is local. The backward writes a PARTIAL input gradient (base + LoRA parts): the
//   caller allReduces the summed dx of all modules sharing the input once (the conjugate of the
//   forward's copy). dB is exact; dA = duᵀ·drop(x) is a PARTIAL sum over ranks (du = dy·B only
//   sees local outputs) and is left for the trainer to allReduce once per step
//   (`LinearModule.loraGradientAIsTensorParallelPartial`). du is NOT reduced here, so its Aᵀ
//   contribution reaches dx exactly once, through the caller's dx allReduce.
// - Row-parallel (o, down): W and A hold this rank's input columns, B is replicated. Choice:
//   the tiny u_partial [N, r] is allReduced first, then the base partial [N, C]; scaling·u·Bᵀ is
//   added AFTER the reduction on every rank, so it is counted once. dB = scaling·dyᵀ·u is then
//   exact and identical on every rank, dA_local exact, dx_local exact: no collective in the
//   backward (dy is replicated: the conjugate of the forward's allReduce is a copy).
// Both reductions are `TensorParallelMapping.reduceFromRegion`'s forward; the caller runs the
// column-parallel side's `copyToRegion`. For a group of one every reduction is the identity and
// this is plain PEFT LoRA.
//
// Dropout (PEFT: on the LoRA branch input only) draws each element from a counter-based hash of
// (seed, step, global sample, position in sample, layer, module, GLOBAL input column), so the
// mask never depends on the rank or the mesh: a row-parallel slice sees exactly the columns of
// the tp = 1 mask.

import Kernels
import ProcessGroups

/// Which dropout mask a training step uses: the same key gives the same masks on any mesh.
public struct LoRADropoutKey: Sendable, Equatable {
    /// Run seed.
    public var seed: UInt64
    /// Optimizer step (masks differ per step).
    public var step: Int
    /// Global index in the data set (or global batch) of each segment's sample, one per segment;
    /// nil: the segment index.
    public var sampleIndices: [Int]?

    public init(seed: UInt64 = 0, step: Int = 0, sampleIndices: [Int]? = nil) {
        self.seed = seed
        self.step = step
        self.sampleIndices = sampleIndices
    }
}

extension LinearModule {
    /// True when the step leaves `gradA` of this module as a partial sum over the
    /// tensor-parallel group (column-parallel modules): allReduce it over TP once per step,
    /// before data-parallel averaging and clipping. `gradB` is never partial.
    public var loraGradientAIsTensorParallelPartial: Bool { !isRowParallel }
    /// True when this module's `B` (and its gradient, after the step) is identical on every TP
    /// rank (row-parallel); count it once in a global norm. Otherwise `B` is sliced by rows.
    public var loraBIsReplicated: Bool { isRowParallel }
    /// True when `A` (and its gradient, once reduced) is identical on every TP rank
    /// (column-parallel); count it once in a global norm. Otherwise `A` is sliced by columns.
    public var loraAIsReplicated: Bool { !isRowParallel }
}

/// splitmix64's finaliser: a bijective 64-bit mix.
@inline(__always)
func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The dropout mask of one module of one layer: keep/drop per (token, global column).
struct DropoutMask {
    let tokenKeys: UnsafePointer<UInt64>    // [N]
    let moduleKey: UInt64
    /// Global input column of local column 0 (row-parallel slices).
    let columnOffset: Int
    /// An element is dropped when its 24-bit draw is below this.
    let threshold: UInt64
    /// `1 / (1 - p)`.
    let keepScale: Float

    init?(probability p: Float, tokenKeys: UnsafePointer<UInt64>, layer: Int, module: LinearModule, columnOffset: Int) {
        guard p > 0 else { return nil }
        self.tokenKeys = tokenKeys
        moduleKey = mix64(UInt64(layer) &* 0x1_0000 &+ UInt64(module.order) &+ 0xD1B5_4A32_D192_ED03)
        self.columnOffset = columnOffset
        threshold = UInt64((Double(p) * Double(1 << 24)).rounded())
        keepScale = 1 / (1 - p)
    }

    /// Key of one token from (seed, step, sample, position in sample).
    static func tokenKey(seed: UInt64, step: Int, sample: Int, position: Int) -> UInt64 {
        var key = mix64(seed &+ 0x9E37_79B9_7F4A_7C15)
        key = mix64(key ^ UInt64(bitPattern: Int64(step)))
        key = mix64(key ^ UInt64(bitPattern: Int64(sample)) &* 0xC2B2_AE3D_27D4_EB4F)
        return mix64(key ^ UInt64(bitPattern: Int64(position)) &* 0x1656_67B1_9E37_79F9)
    }

    @inline(__always)
    func keeps(token n: Int, column i: Int) -> Bool {
        let h = mix64((tokenKeys[n] ^ moduleKey) &+ UInt64(columnOffset + i) &* 0x9E37_79B9_7F4A_7C15)
        return (h >> 40) >= threshold
    }

    /// `out = inp ⊙ mask / (1 - p)`, `[N, I]`; `dx += t ⊙ mask / (1 - p)` when `accumulate`.
    func apply(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, tokens: Int, columns: Int, accumulate: Bool) {
        for n in 0..<tokens {
            let x = inp + n * columns, y = out + n * columns
            for i in 0..<columns {
                let kept: Float = keeps(token: n, column: i) ? x[i] * keepScale : 0
                if accumulate { y[i] += kept } else { y[i] = kept }
            }
        }
    }
}

/// One linear of a layer on this rank: a frozen weight slice, an optional bias (column-parallel
/// only), an optional LoRA branch and its dropout mask.
struct LoRALinear {
    let weight: FrozenMatrix            // [O, I]
    let bias: FloatBuffer?              // [O]
    let lora: LowRankFactors?
    let dropout: DropoutMask?
    let rowParallel: Bool
    /// Output features this rank computes (column-parallel k/v of a KV head another rank
    /// projects are left out); nil: all `O`.
    var outputs: Range<Int>? = nil

    /// Forward. Column-parallel: `out[N, ldOut] = x·Wᵀ + b + scaling·u·Bᵀ`, local.
    /// Row-parallel: `out[N, O]` is the FULL output on every rank: allReduce(u), allReduce(base),
    /// then `+ scaling·u·Bᵀ`.
    ///
    /// - Parameters:
    ///   - out: `[N, ldOut]`, overwritten.
    ///   - inp: `[N, I]`.
    ///   - u: `[N, r]`, written (kept for the backward) when adapted.
    ///   - loraInput: `[N, I]` scratch for `drop(x)`.
    func forward(out: UnsafeMutablePointer<Float>, ldOut: Int? = nil, inp: UnsafePointer<Float>, tokens n: Int,
                 u: UnsafeMutablePointer<Float>, loraInput: UnsafeMutablePointer<Float>,
                 scratch: UnsafeMutablePointer<Float>, group: ProcessGroup) throws {
        let i = weight.columns, ld = ldOut ?? weight.rows
        let span = outputs ?? 0..<weight.rows, o = span.count, j0 = span.lowerBound
        precondition(!rowParallel || o == weight.rows, "LoRALinear: a row-parallel linear computes every output")
        if o == 0 { return }   // a rank that projects none of its KV heads
        // y [N, O] = x [N, I] · Wᵀ (partial sum over ranks when row-parallel)
        try weight.linearForward(out: out, ldOut: ld, inp: inp, tokens: n, scratch: scratch, outputs: span)
        if let b = bias {
            for t in 0..<n {
                let row = out + t * ld
                for j in span { row[j] += b.pointer[j] }
            }
        }
        guard let f = lora else {
            if rowParallel { try TensorParallelMapping.reduceFromRegion.forward(out, rows: n, columns: o, ld: ld, group: group) }
            return
        }
        let r = f.rank
        // u [N, r] = drop(x) [N, I] · Aᵀ [I, r]
        let xd = dropped(inp, tokens: n, into: loraInput)
        sgemm(.none, .transposed, m: n, n: r, k: i, a: xd, lda: i, b: f.a, ldb: i, beta: 0, c: u, ldc: r)
        if rowParallel {   // leaving the row-parallel region: u, y = Σ_ranks of the partial sums
            try TensorParallelMapping.reduceFromRegion.forward(u, rows: n, columns: r, group: group)
            try TensorParallelMapping.reduceFromRegion.forward(out, rows: n, columns: o, ld: ld, group: group)
        }
        // y [N, O] += scaling · u [N, r] · Bᵀ [r, O]
        sgemm(.none, .transposed, m: n, n: o, k: r, alpha: f.scaling, a: u, lda: r, b: f.b + j0 * r, ldb: r,
              beta: 1, c: out + j0, ldc: ld)
    }

    /// Only what `backward` reads of `forward` besides the input: the bottleneck
    /// `u = drop(x)·Aᵀ` (allReduced over the group when row-parallel, as `forward` does), for a
    /// recomputation whose output is known already. Nothing without LoRA.
    func recomputeBottleneck(u: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, tokens n: Int,
                             loraInput: UnsafeMutablePointer<Float>, group: ProcessGroup) throws {
        guard let f = lora else { return }
        let i = weight.columns, r = f.rank
        // u [N, r] = drop(x) [N, I] · Aᵀ [I, r]
        let xd = dropped(inp, tokens: n, into: loraInput)
        sgemm(.none, .transposed, m: n, n: r, k: i, a: xd, lda: i, b: f.a, ldb: i, beta: 0, c: u, ldc: r)
        if rowParallel { try TensorParallelMapping.reduceFromRegion.forward(u, rows: n, columns: r, group: group) }
    }

    /// Backward of `forward` (identical for both placements; see the file header for what is
    /// partial). `dinp = dy·W + (du·A) ⊙ mask/(1-p)` with `du = scaling·dy·B`;
    /// `gradB += scaling·dyᵀ·u`, `gradA += duᵀ·drop(x)`.
    ///
    /// - Parameters:
    ///   - dinp: `[N, I]`; overwritten (`beta` 0) or accumulated (`beta` 1) when several modules
    ///     share the input.
    ///   - dout: `[N, ldDout]`.
    ///   - inp, u: the forward's input and bottleneck.
    ///   - du: `[N, r]` scratch; `loraInput`, `loraDx`: `[N, I]` scratch.
    func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, ldDout: Int? = nil,
                  inp: UnsafePointer<Float>, u: UnsafePointer<Float>, tokens n: Int, beta: Float,
                  du: UnsafeMutablePointer<Float>, loraInput: UnsafeMutablePointer<Float>,
                  loraDx: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) throws {
        let i = weight.columns, ld = ldDout ?? weight.rows
        let span = outputs ?? 0..<weight.rows, o = span.count, j0 = span.lowerBound
        // y = x·Wᵀ  ⇒  dx [N, I] (+)= dy [N, O] · W [O, I]
        try weight.linearBackwardInput(dinp: dinp, dout: dout, ldDout: ld, tokens: n, scratch: scratch, beta: beta,
                                       outputs: span)
        guard let f = lora, o > 0 else { return }
        let r = f.rank
        // y += scaling · u·Bᵀ  ⇒  dB [O, r] += scaling · dyᵀ [O, N] · u [N, r]
        sgemm(.transposed, .none, m: o, n: r, k: n, alpha: f.scaling, a: dout + j0, lda: ld, b: u, ldb: r,
              beta: 1, c: f.gradB + j0 * r, ldc: r)
        //                     ⇒  du [N, r] = scaling · dy [N, O] · B [O, r]
        sgemm(.none, .none, m: n, n: r, k: o, alpha: f.scaling, a: dout + j0, lda: ld, b: f.b + j0 * r, ldb: r,
              beta: 0, c: du, ldc: r)
        // u = drop(x)·Aᵀ  ⇒  dA [r, I] += duᵀ [r, N] · drop(x) [N, I]
        let xd = dropped(inp, tokens: n, into: loraInput)
        sgemm(.transposed, .none, m: r, n: i, k: n, a: du, lda: r, b: xd, ldb: i, beta: 1, c: f.gradA, ldc: i)
        //                 ⇒  dx [N, I] += (du [N, r] · A [r, I]) ⊙ mask / (1 - p)
        if let mask = dropout {
            sgemm(.none, .none, m: n, n: i, k: r, a: du, lda: r, b: f.a, ldb: i, beta: 0, c: loraDx, ldc: i)
            mask.apply(out: dinp, inp: loraDx, tokens: n, columns: i, accumulate: true)
        } else {
            sgemm(.none, .none, m: n, n: i, k: r, a: du, lda: r, b: f.a, ldb: i, beta: 1, c: dinp, ldc: i)
        }
    }

    /// `drop(x)` in `scratch`, or `x` itself without dropout.
    private func dropped(_ x: UnsafePointer<Float>, tokens n: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        guard let mask = dropout else { return x }
        mask.apply(out: scratch, inp: x, tokens: n, columns: weight.columns, accumulate: false)
        return UnsafePointer(scratch)
    }
}
