// Where a training step's time goes (`tessera bench train`): dequantization, GEMM, attention,
// other element-wise work, communication and the optimizer. Off by default; while a profile is
// bound (ComputeContext.profile), instrumented regions add their wall time to it. Regions nest,
// and the OUTERMOST one owns the time: attention's own matrix products count as attention, a
// softmax row inside it is not timed separately. A rank's step runs on one thread (OpenBLAS
// threads run inside one sgemm call), so the profile needs no locking.

/// Wall seconds per kind of work, accumulated while it is the bound `ComputeContext.profile`.
public final class StepProfile: @unchecked Sendable {
    /// The kinds of work a step is split into.
    public enum Phase: Int, CaseIterable, Sendable {
        case dequantize, gemm, attention, elementwise, communication, optimizer

        public var name: String {
            switch self {
            case .dequantize: "dequantize"
            case .gemm: "gemm"
            case .attention: "attention"
            case .elementwise: "elementwise"
            case .communication: "communication"
            case .optimizer: "optimizer"
            }
        }
    }

    /// Seconds per phase, indexed by `Phase.rawValue`.
    public private(set) var seconds = [Double](repeating: 0, count: Phase.allCases.count)
    /// The phase being timed (the outermost open region).
    private var open: Phase?

    public init() {}

    /// Runs `body`, adding its wall time to `phase` when a profile is bound and no region is open.
    @inlinable @inline(__always)
    public static func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        guard let profile = ComputeContext.current.profile, profile.begin(phase) else { return try body() }
        let start = monotonicSeconds()
        defer { profile.end(phase, since: start) }
        return try body()
    }

    /// Opens `phase` unless a region is already open; true when it did.
    @usableFromInline
    func begin(_ phase: Phase) -> Bool {
        guard open == nil else { return false }
        open = phase
        return true
    }

    @usableFromInline
    func end(_ phase: Phase, since start: Double) {
        seconds[phase.rawValue] += monotonicSeconds() - start
        open = nil
    }

    /// Seconds of `phase`.
    public subscript(phase: Phase) -> Double { seconds[phase.rawValue] }

    /// All measured seconds.
    public var total: Double { seconds.reduce(0, +) }
}
