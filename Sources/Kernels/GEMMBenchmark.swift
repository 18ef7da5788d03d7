// GEMM throughput at the shapes a transformer layer uses, in fp32 (OpenBLAS sgemm) or in the bf16
// products of the frozen linears (AMX or AVX512-BF16). Its best number is the peak that
// model-FLOPs utilisation is reported against.

import CKernels

/// One measured GEMM shape.
public struct GEMMMeasurement: Sendable {
    public let label: String
    public let m: Int, n: Int, k: Int
    public let transA: Transpose, transB: Transpose
    /// Best-of-runs throughput in GFLOP/s (2·m·n·k flops per call).
    public let gflops: Double
    public let secondsPerCall: Double
}

/// A GEMM shape to measure.
public struct GEMMShape: Sendable {
    public let label: String
    public let m: Int, n: Int, k: Int
    public let transA: Transpose, transB: Transpose

    public init(_ label: String, m: Int, n: Int, k: Int, _ transA: Transpose = .none, _ transB: Transpose = .transposed) {
        self.label = label
        self.m = m; self.n = n; self.k = k
        self.transA = transA; self.transB = transB
    }

    /// The products of one Llama layer for `tokens` tokens, forward (x·Wᵀ) and backward
    /// (dx = dy·W, and the weight-shaped dyᵀ·x used by LoRA factors), plus a vocabulary chunk.
    public static func transformerLayer(tokens t: Int, hidden c: Int, kvDim: Int, ffn f: Int, vocabChunk v: Int) -> [GEMMShape] {
        [
            GEMMShape("q/o proj   x·Wᵀ", m: t, n: c, k: c),
            GEMMShape("k/v proj   x·Wᵀ", m: t, n: kvDim, k: c),
            GEMMShape("gate/up    x·Wᵀ", m: t, n: f, k: c),
            GEMMShape("down       x·Wᵀ", m: t, n: c, k: f),
            GEMMShape("down  dx = dy·W", m: t, n: f, k: c, .none, .none),
            GEMMShape("gate  dWᵀ= dyᵀ·x", m: f, n: c, k: t, .transposed, .none),
            GEMMShape("head chunk x·Eᵀ", m: 64, n: v, k: c),
        ]
    }
}

public enum GEMMBenchmark {
    /// Measures each shape for about `secondsPerShape` (best of several timed runs). In bf16 only
    /// the shapes the frozen linears run (A not transposed) are measured; on AMX the weight is
    /// packed once beforehand, as a step packs each weight tile once for all its tokens.
    public static func run(_ shapes: [GEMMShape], secondsPerShape: Double = 0.5,
                           precision: ComputePrecision = .fp32) -> [GEMMMeasurement] {
        let measured = precision == .fp32 ? shapes : shapes.filter { $0.transA == .none }
        return measured.map { shape in
            let aCount = shape.m * shape.k, bCount = shape.k * shape.n
            let a = FloatBuffer(count: aCount), b = FloatBuffer(count: bCount), c = FloatBuffer(count: shape.m * shape.n)
            for i in 0..<aCount { a[i] = Float(i % 17) * 0.01 - 0.08 }
            for i in 0..<bCount { b[i] = Float(i % 13) * 0.01 - 0.06 }
            let transposedW = shape.transB == .transposed
            let amx = precision == .bf16 && LinearCompute.amxAvailable
            let panel = FloatBuffer(count: amx ? tk_amx_b_panel_count(shape.n, shape.k) : 0)
            panel.pointer.withMemoryRebound(to: UInt32.self, capacity: max(panel.count, 1)) { packed in
                if amx {
                    tk_amx_pack_b_f32(shape.n, shape.k, b.pointer, transposedW ? shape.k : shape.n, transposedW ? 1 : 0, packed)
                }
            }
            func call() {
                switch precision {
                case .fp32:
                    sgemm(shape.transA, shape.transB, m: shape.m, n: shape.n, k: shape.k,
                          a: a.pointer, b: b.pointer, c: c.pointer)
                case .bf16 where amx:
                    panel.pointer.withMemoryRebound(to: UInt32.self, capacity: panel.count) { packed in
                        amxGemm(m: shape.m, n: shape.n, k: shape.k, a: a.pointer, lda: shape.k, packedB: packed,
                                c: c.pointer, ldc: shape.n, beta: 0)
                    }
                case .bf16:
                    bf16gemm(m: shape.m, n: shape.n, k: shape.k, a: a.pointer, lda: shape.k, w: b.pointer,
                             ldw: transposedW ? shape.k : shape.n, transposedW: transposedW, c: c.pointer, ldc: shape.n, beta: 0)
                }
            }
            call()  // warm-up: page faults, OpenBLAS buffers
            var best = Double.infinity
            let deadline = monotonicSeconds() + secondsPerShape
            repeat {
                let start = monotonicSeconds()
                call()
                best = min(best, monotonicSeconds() - start)
            } while monotonicSeconds() < deadline
            let flops = 2.0 * Double(shape.m) * Double(shape.n) * Double(shape.k)
            return GEMMMeasurement(label: shape.label, m: shape.m, n: shape.n, k: shape.k,
                                   transA: shape.transA, transB: shape.transB,
                                   gflops: flops / best / 1e9, secondsPerCall: best)
        }
    }
}
