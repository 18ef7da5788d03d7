// torch's float32 sum on CPU (aten/src/ATen/native/cpu/SumKernel.cpp, one thread, 8-lane
// vectors), reproduced because bitsandbytes' double-quant offset is `absmax.mean()` and a
// float64 mean rounded to float32 is not always the same float
// (Tests/Fixtures/reference/smollm2/nf4/README.md: case L, 81 of the 210 SmolLM2 weights). A
// different offset changes the stored bytes.

/// Bit-exact emulation of torch's single-threaded float32 `sum()` / `mean()` of a contiguous vector.
public enum TorchCPUSum {
    private static let lanes = 8   // Vectorized<float> width of the reference torch build (AVX2)
    private static let ilp = 4     // row_sum's independent accumulators
    private static let levels = 4  // multi_row_sum's cascade depth

    /// `torch.sum(x)` in float32.
    public static func sum(_ x: UnsafeBufferPointer<Float>) -> Float {
        guard let base = x.baseAddress else { return 0 }
        let n = x.count
        if n < lanes {
            // Too short to vectorize: the same row_sum over single values.
            return 0 + rowSum(count: n, width: 1) { i, _ in base[i] }[0]
        }
        let vectors = n / lanes
        let acc = rowSum(count: vectors, width: lanes) { i, lane in base[i * lanes + lane] }
        var total: Float = 0
        for i in (vectors * lanes)..<n { total += base[i] }
        for lane in 0..<lanes { total += acc[lane] }
        return 0 + total
    }

    /// `torch.mean(x)` in float32: `sum / Float(count)`.
    public static func mean(_ x: UnsafeBufferPointer<Float>) -> Float {
        sum(x) / Float(x.count)
    }

    /// row_sum: items 4i+k (k < 4) feed cascade accumulator k; the `count mod 4` leftover items
    /// go to accumulator 0; then acc0 += acc1, acc2, acc3. Each item is `width` lanes wide.
    private static func rowSum(count: Int, width: Int, _ item: (Int, Int) -> Float) -> [Float] {
        let rows = count / ilp
        var partial = multiRowSum(rows: rows, width: width) { row, k, lane in item(row * ilp + k, lane) }
        for i in (rows * ilp)..<count {
            for lane in 0..<width { partial[0][lane] += item(i, lane) }
        }
        for k in 1..<ilp {
            for lane in 0..<width { partial[0][lane] += partial[k][lane] }
        }
        return partial[0]
    }

    /// multi_row_sum: a `levels`-deep cascade per accumulator. Level 0 sums `step` items, then
    /// flushes into level 1; level j flushes into j+1 only when `step` flushes of level j-1 happened.
    private static func multiRowSum(rows: Int, width: Int, _ item: (Int, Int, Int) -> Float) -> [[Float]] {
        let power = Swift.max(4, ceilLog2(rows) / levels)
        let step = 1 << power
        let mask = step - 1
        // acc[level][k * width + lane]
        var acc = [[Float]](repeating: [Float](repeating: 0, count: ilp * width), count: levels)
        var i = 0
        while i + step <= rows {
            for _ in 0..<step {
                for k in 0..<ilp {
                    for lane in 0..<width { acc[0][k * width + lane] += item(i, k, lane) }
                }
                i += 1
            }
            for j in 1..<levels {
                for t in 0..<(ilp * width) {
                    acc[j][t] += acc[j - 1][t]
                    acc[j - 1][t] = 0
                }
                if i & (mask << (j * power)) != 0 { break }
            }
        }
        while i < rows {
            for k in 0..<ilp {
                for lane in 0..<width { acc[0][k * width + lane] += item(i, k, lane) }
            }
            i += 1
        }
        for j in 1..<levels {
            for t in 0..<(ilp * width) { acc[0][t] += acc[j][t] }
        }
        return (0..<ilp).map { k in Array(acc[0][(k * width)..<((k + 1) * width)]) }
    }

    /// c10's CeilLog2: 1 for x <= 2, else the bit length of x - 1.
    private static func ceilLog2(_ x: Int) -> Int {
        x <= 2 ? 1 : (Int.bitWidth - (x - 1).leadingZeroBitCount)
    }
}
