/// Errors from the MPI layer. Every failing MPI call becomes one of these, naming the call.
public enum CollectivesError: Error, Equatable, CustomStringConvertible {
    /// An MPI call returned an error code; `message` is MPI's own error string.
    case mpi(call: String, code: Int32, message: String)
    /// The ranks disagree on something they must agree on (sizes, counts, configuration).
    case mismatch(String)
    /// A call's arguments are inconsistent on this rank (buffer too small, bad rank).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .mpi(let call, let code, let message): return "\(call) failed (MPI error \(code)): \(message)"
        case .mismatch(let detail): return "ranks disagree: \(detail)"
        case .invalidArgument(let detail): return "invalid collective call: \(detail)"
        }
    }
}
