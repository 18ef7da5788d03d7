// The process mesh: world = tp × dp. Ranks with the same dp index form a tensor-parallel group
// (TP group) and hold different slices of the model; ranks with the same tp index form a
// data-parallel group (DP group) and see different batches (docs/architecture.md §3). TP groups are
// runs of consecutive world ranks, so on a multi-host run with tp ≤ ranks per host the chatty TP
// traffic stays inside a host. The groups are process groups (ProcessGroups): MPI communicators
// split from the world under mpirun, in-memory groups of threads in the tests.
import Collectives
import ProcessGroups

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
    public let world: any ProcessGroup
    /// The ranks holding the other slices of the same model replica.
    public let tensorParallel: any ProcessGroup
    /// The ranks holding the same slice, each with its own batch shard.
    public let dataParallel: any ProcessGroup

    /// This rank's index in its TP group.
    public var tpRank: Int { tensorParallel.rank }
    /// This rank's index in its DP group (its batch shard).
    public var dpRank: Int { dataParallel.rank }

    /// A mesh of groups made elsewhere (the tests' threads). They must match `world`'s place
    /// in a `tp × dp` mesh: tp ranks per TP group, world rank = dp index · tp + tp index.
    public init(world: any ProcessGroup, tensorParallel: any ProcessGroup, dataParallel: any ProcessGroup) throws {
        shape = try MeshShape(world: world.size, tp: tensorParallel.size)
        let (tpIndex, dpIndex) = shape.coordinates(ofWorldRank: world.rank)
        guard dataParallel.size == shape.dp, tensorParallel.rank == tpIndex, dataParallel.rank == dpIndex else {
            throw ParallelismError.invalidMesh("world rank \(world.rank) of \(shape) has coordinates (tp \(tpIndex), dp \(dpIndex)) but its groups give (tp \(tensorParallel.rank) of \(tensorParallel.size), dp \(dataParallel.rank) of \(dataParallel.size))")
        }
        self.world = world
        self.tensorParallel = tensorParallel
        self.dataParallel = dataParallel
    }

    /// Splits `world` into TP and DP groups (collective: every rank calls it with the same tp).
    public convenience init(world: Communicator, tp: Int) throws {
        let shape = try MeshShape(world: world.size, tp: tp)
        let (tpIndex, dpIndex) = shape.coordinates(ofWorldRank: world.rank)
        guard let tpGroup = try world.split(color: dpIndex, key: tpIndex),
              let dpGroup = try world.split(color: tpIndex, key: dpIndex) else {
            throw ParallelismError.invalidMesh("MPI_Comm_split returned no group for rank \(world.rank)")
        }
        try self.init(world: world, tensorParallel: tpGroup, dataParallel: dpGroup)
    }
}
