// Helpers shared by the op tests: random data and fp64 comparisons.
import Testing

extension SplitMix64 {
    /// `count` uniform values in [-scale, scale).
    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in nextFloat() * scale }
    }
}

/// Expects `actual` to match `expected` element-wise within `atol + rtol·|expected|`.
func expectClose(_ actual: [Float], _ expected: [Double], atol: Double = 1e-5, rtol: Double = 1e-5,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): count", sourceLocation: sourceLocation)
    var worst = 0.0
    var worstIndex = 0
    for i in 0..<min(actual.count, expected.count) {
        let excess = abs(Double(actual[i]) - expected[i]) - (atol + rtol * abs(expected[i]))
        if excess > worst { worst = excess; worstIndex = i }
    }
    #expect(worst <= 0, "\(what): index \(worstIndex) got \(actual[worstIndex]) expected \(expected[worstIndex])",
            sourceLocation: sourceLocation)
}
