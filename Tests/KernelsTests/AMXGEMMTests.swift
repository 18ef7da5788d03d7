import CKernels
import Testing
@testable import Kernels

/// bf16 of a float as the AMX packers round it: nearest even, denormals to a signed zero.
func bf16Bits(_ x: Float) -> UInt32 {
    let u = x.bitPattern
    if u & 0x7F80_0000 == 0 { return (u >> 16) & 0x8000 }
    return (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16
}

/// The packed B of `tk_amx_pack_b_*`, element by element: panel n/16, pair row p, column n%16, the
/// even K in the low half; zeros in the padding (N and K rounded up to 32).
func referencePanel(n: Int, k: Int, transposed: Bool, value: (Int, Int) -> Float) -> [UInt32] {
    let kp = (k + 31) / 32 * 16, np = (n + 31) / 32 * 32
    var out = [UInt32](repeating: 0, count: np * kp)
    for j in 0..<n {
        for p in 0..<(k + 1) / 2 {
            func b(_ kk: Int) -> UInt32 { kk < k ? bf16Bits(transposed ? value(j, kk) : value(kk, j)) : 0 }
            out[((j / 16) * kp + p) * 16 + j % 16] = b(2 * p) | (b(2 * p + 1) << 16)
        }
    }
    return out
}

/// The packing runs wherever AVX512-BF16 or plain C does; the products need AMX.
@Suite struct AMXPackingTests {
    /// Vector blocks (16 × 32) and every kind of tail, both layouts, wider leading dimensions, and
    /// inputs that are denormal, negative zero or a rounding tie.
    @Test(arguments: [(48, 96, true), (37, 70, true), (16, 33, true), (32, 64, false), (37, 71, false), (3, 1, false)])
    func f32PanelMatchesReference(_ n: Int, _ k: Int, _ transposed: Bool) {
        var rng = SplitMix64(seed: UInt64(n * 131 + k))
        let ldw = (transposed ? k : n) + 5
        var w = rng.floats((transposed ? n : k) * ldw)
        w[0] = Float(bitPattern: 0x0000_1234)   // denormal
        w[1] = -0.0
        w[2] = Float(bitPattern: 0x3F80_8000)   // a tie: rounds to even (down)
        w[3] = Float(bitPattern: 0x3F81_8000)   // a tie: rounds to even (up)
        let expected = referencePanel(n: n, k: k, transposed: transposed) { r, c in w[r * ldw + c] }
        var panel = [UInt32](repeating: 0xDEAD_BEEF, count: tk_amx_b_panel_count(n, k))
        tk_amx_pack_b_f32(n, k, w, ldw, transposed ? 1 : 0, &panel)
        #expect(panel == expected)
    }
}

@Suite(.enabled(if: LinearCompute.amxAvailable, "needs a CPU with AMX-BF16 tiles the OS grants (Sapphire Rapids or later; TESSERA_AMX not 0)"))
struct AMXGEMMTests {
    private func bf16(_ x: Float) -> Double { Double(Float(bitPattern: bf16Bits(x) << 16)) }

    /// fp64 sums of the bf16-rounded inputs, to fp32 accumulation accuracy: tails in M, N and K
    /// (one row, one column, odd K), beta 0 and 1, leading dimensions wider than the data.
    @Test(arguments: [(1, 1, 1, true), (7, 37, 19, true), (33, 33, 100, false), (64, 70, 130, true), (17, 16, 64, false)])
    func matchesRoundedReference(_ m: Int, _ n: Int, _ k: Int, _ transposed: Bool) {
        var rng = SplitMix64(seed: UInt64(m * 1000 + n * 7 + k))
        let lda = k + 2, ldw = (transposed ? k : n) + 3, ldc = n + 1
        let a = rng.floats(m * lda), w = rng.floats((transposed ? n : k) * ldw)
        for beta: Float in [0, 1] {
            let initial = rng.floats(m * ldc)
            var c = initial
            tk_amx_gemm(m, n, k, a, lda, w, ldw, transposed ? 1 : 0, &c, ldc, beta)
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var sum = beta == 1 ? Double(initial[i * ldc + j]) : 0
                    for p in 0..<k { sum += bf16(a[i * lda + p]) * bf16(transposed ? w[j * ldw + p] : w[p * ldw + j]) }
                    worst = max(worst, abs(Double(c[i * ldc + j]) - sum) / max(1, abs(sum)))
                }
                #expect(c[i * ldc + n] == initial[i * ldc + n], "column n is outside C and stays")
            }
            #expect(worst < 1e-5, "m \(m) n \(n) k \(k) beta \(beta): \(worst)")
        }
    }

    /// An output does not depend on how the product is split: by rows of A (token chunks) or by
    /// rows of W (weight tiles, tensor-parallel column shards), the results are bit-identical.
    @Test func splitsAreBitIdentical() {
        let m = 70, n = 90, k = 200
        var rng = SplitMix64(seed: 99)
        let a = rng.floats(m * k), w = rng.floats(n * k)   // W [N, K]: y = x·Wᵀ
        var whole = [Float](repeating: 0, count: m * n)
        tk_amx_gemm(m, n, k, a, k, w, k, 1, &whole, n, 0)
        var split = [Float](repeating: 0, count: m * n)
        for (r0, rows) in [(0, 21), (21, 49)] {        // token chunks
            for (j0, cols) in [(0, 17), (17, 48), (65, 25)] {   // weight row tiles
                a.withUnsafeBufferPointer { ap in
                    w.withUnsafeBufferPointer { wp in
                        split.withUnsafeMutableBufferPointer { cp in
                            tk_amx_gemm(rows, cols, k, ap.baseAddress! + r0 * k, k, wp.baseAddress! + j0 * k, k, 1,
                                        cp.baseAddress! + r0 * n + j0, n, 0)
                        }
                    }
                }
            }
        }
        #expect(split == whole)
    }

    /// Threads share a product by column pairs (packing and tiles): any thread count gives the
    /// single-thread bits.
    @Test func threadsGiveTheSameBits() {
        let m = 45, n = 200, k = 96
        var rng = SplitMix64(seed: 17)
        let a = rng.floats(m * k), w = rng.floats(n * k)
        var one = [Float](repeating: 0, count: m * n)
        tk_amx_gemm(m, n, k, a, k, w, k, 1, &one, n, 0)
        for threads in [2, 3, 7] {
            var panel = [UInt32](repeating: 0xDEAD_BEEF, count: tk_amx_b_panel_count(n, k))
            var many = [Float](repeating: 0, count: m * n)
            w.withUnsafeBufferPointer { wp in
                panel.withUnsafeMutableBufferPointer { pp in
                    many.withUnsafeMutableBufferPointer { cp in
                        let p = AMX.Pointers(w: wp.baseAddress, panel: pp.baseAddress, a: tk_amx_pack_a(m, k, a, k),
                                             b: UnsafePointer(pp.baseAddress), c: cp.baseAddress)
                        AMX.forEachPairRange(AMX.pairs(n), threads: threads) { r in
                            tk_amx_pack_b_f32_pairs(n, k, p.w, k, 1, p.panel, r.lowerBound, r.upperBound)
                        }
                        AMX.forEachPairRange(AMX.pairs(n), threads: threads) { r in
                            tk_amx_tiles(m, n, k, p.a, p.b, p.c, n, 0, r.lowerBound, r.upperBound)
                        }
                    }
                }
            }
            #expect(many == one, "\(threads) threads")
        }
    }

    /// `bf16gemm` takes AMX where available and AVX512-BF16 when the thread turns AMX off; the two
    /// sum in different orders, so they agree to fp32 accuracy, not bit for bit.
    @Test func agreesWithAVX512BF16() {
        let m = 40, n = 50, k = 300
        var rng = SplitMix64(seed: 5)
        let a = rng.floats(m * k), w = rng.floats(k * n)
        var amx = [Float](repeating: 0, count: m * n), dot = amx
        bf16gemm(m: m, n: n, k: k, a: a, lda: k, w: w, ldw: n, transposedW: false, c: &amx, ldc: n, beta: 0)
        #expect(tk_set_amx_enabled(0) == 1)
        defer { _ = tk_set_amx_enabled(-1) }
        #expect(!LinearCompute.amxAvailable)
        bf16gemm(m: m, n: n, k: k, a: a, lda: k, w: w, ldw: n, transposedW: false, c: &dot, ldc: n, beta: 0)
        expectClose(amx, dot.map(Double.init), atol: 1e-4, rtol: 1e-5, "AMX against vdpbf16ps")
    }
}
