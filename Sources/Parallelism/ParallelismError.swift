/// Errors in the process mesh and shard plans. Each says which numbers do not fit and what works.
public enum ParallelismError: Error, Equatable, CustomStringConvertible {
    /// The mesh does not fit the world or the model.
    case invalidMesh(String)
    /// The model cannot be split as asked.
    case unshardable(String)

    public var description: String {
        switch self {
        case .invalidMesh(let detail): return "invalid mesh: \(detail)"
        case .unshardable(let detail): return "cannot shard the model: \(detail)"
        }
    }
}
