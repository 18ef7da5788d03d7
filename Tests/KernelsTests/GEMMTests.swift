import Testing
@testable import Kernels

/// sgemm under the kernels OpenBLAS chose, held to a naive fp64 product on odd shapes.
@Suite struct GEMMTests {
    private func reference(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int,
                           a: [Float], b: [Float], alpha: Double, beta: Double, c: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = ta == .none ? a[i * k + p] : a[p * m + i]
                    let bv = tb == .none ? b[p * n + j] : b[j * k + p]
                    sum += Double(av) * Double(bv)
                }
                out[i * n + j] = alpha * sum + beta * Double(c[i * n + j])
            }
        }
        return out
    }

    @Test(arguments: [(Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed)])
    func matchesFp64Reference(_ ta: Transpose, _ tb: Transpose) {
        var rng = SplitMix64(seed: 7)
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (127, 61, 250), (576, 9, 577)] {
            let a = (0..<(m * k)).map { _ in rng.nextFloat() }
            let b = (0..<(k * n)).map { _ in rng.nextFloat() }
            let c0 = (0..<(m * n)).map { _ in rng.nextFloat() }
            var c = c0
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        sgemm(ta, tb, m: m, n: n, k: k, alpha: 0.75, a: ap.baseAddress!, b: bp.baseAddress!,
                              beta: 0.5, c: cp.baseAddress!)
                    }
                }
            }
            let expected = reference(ta, tb, m: m, n: n, k: k, a: a, b: b, alpha: 0.75, beta: 0.5, c: c0)
            for i in 0..<(m * n) {
                // fp32 accumulation over k terms of magnitude <= 1: error grows like sqrt(k)·eps.
                let tolerance = 1e-5 * Double(k).squareRoot() * 4 + 1e-6
                #expect(abs(Double(c[i]) - expected[i]) <= tolerance, "m=\(m) n=\(n) k=\(k) i=\(i) core=\(BLAS.coreName)")
            }
        }
    }
}

/// Deterministic generator for test data.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
