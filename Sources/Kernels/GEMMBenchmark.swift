// sgemm throughput at the shapes a transformer layer uses. Its best number is the peak that
// model-FLOPs utilisation is reported against.

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
    /// Measures each shape for about `secondsPerShape` (best of several timed runs).
    public static func run(_ shapes: [GEMMShape], secondsPerShape: Double = 0.5) -> [GEMMMeasurement] {
        shapes.map { shape in
            let aCount = shape.m * shape.k, bCount = shape.k * shape.n
            let a = FloatBuffer(count: aCount), b = FloatBuffer(count: bCount), c = FloatBuffer(count: shape.m * shape.n)
            for i in 0..<aCount { a[i] = Float(i % 17) * 0.01 - 0.08 }
            for i in 0..<bCount { b[i] = Float(i % 13) * 0.01 - 0.06 }
            func call() {
                sgemm(shape.transA, shape.transB, m: shape.m, n: shape.n, k: shape.k,
                      a: a.pointer, b: b.pointer, c: c.pointer)
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
