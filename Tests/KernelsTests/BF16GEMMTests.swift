import Testing
@testable import Kernels

@Suite(.enabled(if: LinearCompute.bf16Available, "needs a CPU with AVX512-BF16 (and the AVX-512 kernel path)")) struct BF16GEMMTests {
    /// bf16 rounding, nearest even, the way the kernel packs its inputs.
    private func bf16(_ x: Float) -> Double {
        let u = x.bitPattern
        return Double(Float(bitPattern: ((u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16) << 16))
    }

    /// Both layouts of B, odd K (a padded pair), tails in M and N, beta 0 and 1, leading dimensions
    /// wider than the data: fp64 sums of the bf16-rounded inputs, to fp32 accumulation accuracy.
    @Test(arguments: [(7, 37, 19, true), (5, 33, 64, false), (1, 16, 1, true), (9, 70, 130, false)])
    func matchesRoundedReference(_ m: Int, _ n: Int, _ k: Int, _ transposed: Bool) {
        var rng = SplitMix64(seed: UInt64(m * 1000 + n))
        let lda = k + 2, ldw = (transposed ? k : n) + 3, ldc = n + 1
        let a = rng.floats(m * lda), w = rng.floats((transposed ? n : k) * ldw)
        for beta: Float in [0, 1] {
            let initial = rng.floats(m * ldc)
            var c = initial
            bf16gemm(m: m, n: n, k: k, a: a, lda: lda, w: w, ldw: ldw, transposedW: transposed, c: &c, ldc: ldc, beta: beta)
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var sum = beta == 1 ? Double(initial[i * ldc + j]) : 0
                    for p in 0..<k {
                        let b = transposed ? w[j * ldw + p] : w[p * ldw + j]
                        sum += bf16(a[i * lda + p]) * bf16(b)
                    }
                    worst = max(worst, abs(Double(c[i * ldc + j]) - sum) / max(1, abs(sum)))
                }
                #expect(c[i * ldc + n] == initial[i * ldc + n], "column n is outside C and stays")
            }
            #expect(worst < 1e-5, "m \(m) n \(n) k \(k) beta \(beta): \(worst)")
        }
    }
}
