// Every CKernels kernel under every path this CPU runs (scalar, AVX2 + FMA, AVX-512), in one
// process, compared bit for bit: the paths evaluate the same formula in the same order, so the
// results do not depend on the CPU. tk_set_kernel_path switches the path of the calling thread
// only, so the other suites running in parallel keep the process's path.
import CKernels
import Testing
@testable import Kernels

/// The paths this CPU runs, as (number, name).
private let supportedPaths: [(Int32, String)] = (0...2).compactMap { p in
    tk_kernel_path_supported(Int32(p)) != 0 ? (Int32(p), String(cString: tk_kernel_path_name(Int32(p)))) : nil
}

/// `body` once per supported path (on this thread), each result with its path's name.
private func onEveryPath<T>(_ body: () -> T) -> [(path: String, value: T)] {
    defer { _ = tk_set_kernel_path(-1) }
    return supportedPaths.map { path, name in
        #expect(tk_set_kernel_path(path) == 1)
        return (name, body())
    }
}

/// Expects every path's floats to have the bit patterns of the first path's.
private func expectSameBits(_ results: [(path: String, value: [Float])], _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    guard let reference = results.first else { return }
    for other in results.dropFirst() {
        #expect(other.value.count == reference.value.count, "\(what): count", sourceLocation: sourceLocation)
        let mismatch = zip(reference.value, other.value).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }
        #expect(mismatch == nil, "\(what): \(other.path) differs from \(reference.path) at \(mismatch?.offset ?? -1): \(mismatch?.element.1 ?? 0) vs \(mismatch?.element.0 ?? 0)",
                sourceLocation: sourceLocation)
    }
}

private func expectSameBits(_ results: [(path: String, value: Float)], _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    expectSameBits(results.map { ($0.path, [$0.value]) }, what, sourceLocation: sourceLocation)
}

/// Input distributions (NaN-free): magnitudes from 1e-18 to 1e18 and exp's range edges.
enum KernelPathInputs: CaseIterable, Sendable {
    case unit, wide, large, small, mixed, expEdges

    func values(_ count: Int, _ rng: inout SplitMix64) -> [Float] {
        let edges: [Float] = [0, -0.0, -87.33654, -87.3365, -87.34, 88.72283, 88.7228, 88.73, -103, 100, 1e-30, -1e-30, .leastNonzeroMagnitude, 0.5]
        return (0..<count).map { _ in
            switch self {
            case .unit: return rng.nextFloat()
            case .wide: return rng.nextFloat() * 100
            case .large: return rng.nextFloat() * 1e18
            case .small: return rng.nextFloat() * 1e-18
            case .mixed: return rng.nextFloat() * Float(sign: .plus, exponent: Int(rng.nextFloat() * 100), significand: 1)
            case .expEdges: return edges[Int(rng.next() % UInt64(edges.count))]
            }
        }
    }
}

/// Lengths around the 8- and 16-lane boundaries, and longer rows.
private let lengths = [0, 1, 2, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 63, 65, 100, 576, 1000, 4099]

@Suite struct KernelPathsTests {
    @Test func pathSelection() {
        #expect(supportedPaths.first?.1 == "scalar")
        #expect(tk_set_kernel_path(3) == 0 && tk_set_kernel_path(-2) == 1)
        let process = VectorMath.kernelPath
        #expect(["scalar", "avx2", "avx512"].contains(process))
        for (path, name) in supportedPaths {
            #expect(tk_set_kernel_path(path) == 1)
            #expect(VectorMath.kernelPath == name && tk_kernel_path() == path)
            #expect(VectorMath.simdEnabled == (name != "scalar"))
        }
        _ = tk_set_kernel_path(-1)
        #expect(VectorMath.kernelPath == process)
        #expect(VectorMath.bestKernelPath == supportedPaths.last?.1)
    }

    @Test(arguments: KernelPathInputs.allCases) func rowReductionsAndExp(_ inputs: KernelPathInputs) {
        var rng = SplitMix64(seed: 11)
        for n in lengths {
            let x = inputs.values(n, &rng), y = KernelPathInputs.unit.values(n, &rng)
            expectSameBits(onEveryPath { tk_max(x, n) }, "max \(inputs) n \(n)")
            let sums = onEveryPath { () -> [Float] in
                var out = [Float](repeating: 0, count: n)
                let sum = tk_exp_sum(&out, x, n, 0.25)
                let bits = sum.bitPattern
                return out + [Float(bitPattern: UInt32(bits >> 32)), Float(bitPattern: UInt32(truncatingIfNeeded: bits))]
            }
            expectSameBits(sums, "exp_sum \(inputs) n \(n)")
            do {
                let softmax = onEveryPath { () -> [Float] in
                    var row = x
                    let lse = tk_softmax_row(&row, n)
                    var dx = [Float](repeating: 0, count: n)
                    tk_softmax_row_backward(&dx, y, row, n)
                    return row + dx + [lse]
                }
                expectSameBits(softmax, "softmax row and backward \(inputs) n \(n)")
            }
            expectSameBits(onEveryPath { () -> [Float] in var s = x; tk_scale(&s, n, 1.7); return s }, "scale \(inputs) n \(n)")
        }
    }

    @Test(arguments: KernelPathInputs.allCases) func swiGLU(_ inputs: KernelPathInputs) {
        var rng = SplitMix64(seed: 12)
        for n in lengths {
            let gate = inputs.values(n, &rng), up = KernelPathInputs.unit.values(n, &rng), dout = KernelPathInputs.unit.values(n, &rng)
            let results = onEveryPath { () -> [Float] in
                var out = [Float](repeating: 0, count: n), dgate = out, dup = out
                tk_swiglu(&out, gate, up, n)
                tk_swiglu_backward(&dgate, &dup, dout, gate, up, n)
                return out + dgate + dup
            }
            expectSameBits(results, "swiglu forward and backward \(inputs) n \(n)")
        }
    }

    @Test(arguments: KernelPathInputs.allCases) func rmsNorm(_ inputs: KernelPathInputs) {
        var rng = SplitMix64(seed: 13)
        let rows = 3
        for channels in lengths where channels > 0 {
            let x = (inputs == .large ? KernelPathInputs.mixed : inputs).values(rows * channels, &rng)
            let weight = KernelPathInputs.unit.values(channels, &rng), dout = KernelPathInputs.unit.values(rows * channels, &rng)
            let results = onEveryPath { () -> [Float] in
                var y = [Float](repeating: 0, count: rows * channels), dx = y, rstd = [Float](repeating: 0, count: rows)
                tk_rmsnorm_forward(&y, &rstd, x, weight, rows, channels, 1e-5)
                tk_rmsnorm_backward(&dx, dout, x, weight, rstd, rows, channels)
                return y + dx + rstd
            }
            expectSameBits(results, "rmsnorm forward and backward \(inputs) C \(channels)")
        }
    }

    @Test func rope() {
        var rng = SplitMix64(seed: 14)
        let heads = 3
        for headDim in [2, 14, 16, 30, 32, 34, 64, 130] {
            for inputs in KernelPathInputs.allCases {
                let row = inputs.values(heads * headDim, &rng)
                let cos = KernelPathInputs.unit.values(headDim / 2, &rng), sin = KernelPathInputs.unit.values(headDim / 2, &rng)
                for inverse: Int32 in [0, 1] {
                    let results = onEveryPath { () -> [Float] in
                        var v = row
                        tk_rope_row(&v, heads, headDim, cos, sin, inverse)
                        return v
                    }
                    expectSameBits(results, "rope \(inputs) headDim \(headDim) inverse \(inverse)")
                }
            }
        }
    }

    @Test func blockDequantization() {
        var rng = SplitMix64(seed: 15)
        let code = KernelPathInputs.unit.values(16, &rng)
        for round in 0..<50 {
            let scale = KernelPathInputs.allCases[round % KernelPathInputs.allCases.count].values(1, &rng)[0]
            let bytes = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            expectSameBits(onEveryPath { () -> [Float] in
                var out = [Float](repeating: 0, count: 64)
                tk_nf4_block(bytes, scale, code, &out)
                return out
            }, "nf4 scale \(scale)")
        }
        // The GGML block formats: QuantizationTests.blockFormatsOnEveryKernelPath.
    }
}
