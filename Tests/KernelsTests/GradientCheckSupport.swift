// Finite-difference gradient checks for the backward tests. The reference forwards are written in
// fp64 inside each test and differentiated by central differences in fp64 (truncation and
// round-off near 1e-10), so the only error left is the fp32 backward's own.
import Testing

/// Central-difference gradient of `f` at `x` in fp64 at the coordinates `indices` (all when nil).
func numericGradient(at x: [Float], indices: [Int]? = nil, step: Double = 1e-5,
                     _ f: ([Double]) -> Double) -> [(index: Int, value: Double)] {
    var point = x.map(Double.init)
    return (indices ?? Array(x.indices)).map { i in
        let saved = point[i]
        point[i] = saved + step
        let plus = f(point)
        point[i] = saved - step
        let minus = f(point)
        point[i] = saved
        return (i, (plus - minus) / (2 * step))
    }
}

/// Expects the fp32 `analytic` gradient to match the fp64 numeric gradient of `f` at `x`:
/// `|a - e| <= tolerance · (max|e| + |e|)` at every checked coordinate.
func expectGradient(_ analytic: [Float], at x: [Float], indices: [Int]? = nil, tolerance: Double = 1e-4,
                    _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                    _ f: ([Double]) -> Double) {
    #expect(analytic.count == x.count, "\(what): count", sourceLocation: sourceLocation)
    let numeric = numericGradient(at: x, indices: indices, f)
    let scale = numeric.map { abs($0.value) }.max() ?? 0
    #expect(scale > 0, "\(what): gradient is identically zero, the check proves nothing", sourceLocation: sourceLocation)
    var worst = 0.0
    var worstIndex = 0
    for (i, expected) in numeric {
        let error = abs(Double(analytic[i]) - expected) / (scale + abs(expected))
        if error > worst { worst = error; worstIndex = i }
    }
    #expect(worst <= tolerance,
            "\(what): relative error \(worst) at \(worstIndex): got \(analytic[worstIndex])",
            sourceLocation: sourceLocation)
}

/// `Σ a[i]·b[i]` in fp64: the scalar `L = Σ dout ⊙ forward(x)` whose gradient a backward returns.
func dot(_ a: [Float], _ b: [Double]) -> Double {
    var sum = 0.0
    for i in 0..<min(a.count, b.count) { sum += Double(a[i]) * b[i] }
    return sum
}
