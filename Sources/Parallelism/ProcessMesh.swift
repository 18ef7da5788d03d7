// The process mesh: world = tp × dp. Ranks with the same dp index form a tensor-parallel group
// (TP group) and hold different slices of the model; ranks with the same tp index form a
// data-parallel group (DP group) and see different batches (docs/architecture.md §3). TP groups are
// runs of consecutive world ranks, so on a multi-host run with tp ≤ ranks per host the chatty TP
// traffic stays inside a host.
import Collectives

/// The shape of a mesh, checked against a world size.
public struct MeshShape: Sendable, Equatable, CustomStringConvertible {
    public let tp: Int
    public let dp: Int
    public var world: Int { tp * dp }

    /// `tp` ranks per TP group; dp = world / tp. Refuses a tp that does not divide the world.
    public init(world: Int, tp: Int) throws(ParallelismError) {
        guard world >= 1 else { throw .invalidMesh("world size must be at least 1, got \(world)") }
        guard tp >= 1 else { throw .invalidMesh("--tp must be at least 1, got \(tp)") }
        guard world % tp == 0 else {
            let divisors = (1...world).filter { world % $0 == 0 }.map(String.init).joined(separator: ", ")
            throw .invalidMesh("--tp \(tp) does not divide the \(world) ranks; with \(world) ranks --tp can be \(divisors)")
        }
        self.tp = tp
        dp = world / tp
    }

    /// (tp index, dp index) of a world rank.
    public func coordinates(ofWorldRank rank: Int) -> (tp: Int, dp: Int) { (rank % tp, rank / tp) }

    public var description: String { "\(world) rank(s) = tp \(tp) × dp \(dp)" }
}

/// This process's place in the mesh and its two groups.
public final class ProcessMesh: @unchecked Sendable {
    public let shape: MeshShape
    public let world: Communicator
    /// The ranks holding the other slices of the same model replica.
    public let tensorParallel: Communicator
    /// The ranks holding the same slice, each with its own batch shard.
    public let dataParallel: Communicator

    /// This rank's index in its TP group.
    public var tpRank: Int { tensorParallel.rank }
    /// This rank's index in its DP group (its batch shard).
    public var dpRank: Int { dataParallel.rank }

    /// Splits `world` into TP and DP groups (collective: every rank calls it with the same tp).
    public init(world: Communicator, tp: Int) throws {
        shape = try MeshShape(world: world.size, tp: tp)
        self.world = world
        let (tpIndex, dpIndex) = shape.coordinates(ofWorldRank: world.rank)
        guard let tpGroup = try world.split(color: dpIndex, key: tpIndex),
              let dpGroup = try world.split(color: tpIndex, key: dpIndex) else {
            throw ParallelismError.invalidMesh("MPI_Comm_split returned no group for rank \(world.rank)")
        }
        tensorParallel = tpGroup
        dataParallel = dpGroup
    }
}
