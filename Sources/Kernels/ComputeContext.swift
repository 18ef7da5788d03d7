// The settings a computation runs under: the frozen linears' product precision and the step
// profile that timed regions add to. Not process-wide switches: a value bound for the extent of
// a call (`bind`), per thread, so a trainer's steps carry their own (TrainerOptions.compute,
// Trainer.profile), the in-process ranks of the tests can differ, and nothing outside the call
// sees them. Outside any binding: fp32 products, no profile.

/// What the kernels read while a step (or an evaluation, or a generation) runs.
public struct ComputeContext: Sendable {
    /// Precision of the frozen linears' (and, on AMX, attention's) matrix products.
    public var precision: ComputePrecision
    /// The profile instrumented regions add their wall time to; nil times nothing.
    public var profile: StepProfile?

    public init(precision: ComputePrecision = .fp32, profile: StepProfile? = nil) {
        self.precision = precision
        self.profile = profile
    }

    /// The context bound to the running call (fp32, no profile outside any binding).
    @TaskLocal public static var current = ComputeContext()

    /// Runs `body` with this context bound, then restores the previous one.
    public func bind<T>(_ body: () throws -> T) rethrows -> T {
        try Self.$current.withValue(self, operation: body)
    }
}
