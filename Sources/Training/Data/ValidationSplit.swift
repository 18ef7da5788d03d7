// The validation rows of a run that gives no validation file: a seeded 5% of the training rows
// (at least one, and never all of them), the same on every rank and every resume.

/// Splits row indices into training and held-out validation rows.
public enum ValidationSplit {
    /// Share of the rows held out.
    public static let fraction = 0.05

    /// `(train, valid)` index lists, each in file order. With one row there is nothing to hold out.
    public static func holdOut(rowCount: Int, seed: UInt64) -> (train: [Int], valid: [Int]) {
        guard rowCount > 1 else { return (Array(0..<rowCount), []) }
        let count = min(rowCount - 1, max(1, Int((Double(rowCount) * fraction).rounded())))
        // A seed stream of its own, so the split does not correlate with the epoch shuffles.
        var random = SeededShuffle(seed: seed ^ 0x5641_4C49_4441_5445)
        let held = Set(random.permuted(Array(0..<rowCount)).prefix(count))
        return ((0..<rowCount).filter { !held.contains($0) }, (0..<rowCount).filter { held.contains($0) })
    }
}
