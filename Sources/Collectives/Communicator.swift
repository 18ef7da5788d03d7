// A group of MPI processes and the point-to-point and collective operations over it.
// The group is always passed in explicitly (no global communicator is read from anywhere).
import CMPI

/// An MPI communicator: `size` processes, this one numbered `rank`.
public final class Communicator: @unchecked Sendable {
    /// The MPI handle. Owned (freed in deinit) unless borrowed from MPI itself (world, self).
    let handle: MPI_Comm
    private let owned: Bool
    /// This process's number in the group, `0..<size`.
    public let rank: Int
    /// Number of processes in the group.
    public let size: Int
    /// Request slots for the nonblocking point-to-point transfers of `ProcessGroup`.
    let transfers: TransferSlots

    init(borrowing handle: MPI_Comm) throws(CollectivesError) {
        self.handle = handle
        owned = false
        transfers = TransferSlots(handle: handle, owner: nil)
        var r: Int32 = 0, s: Int32 = 0
        try mpiCheck("MPI_Comm_rank") { MPI_Comm_rank(handle, &r) }
        try mpiCheck("MPI_Comm_size") { MPI_Comm_size(handle, &s) }
        rank = Int(r)
        size = Int(s)
    }

    private init(owning handle: MPI_Comm) throws(CollectivesError) {
        self.handle = handle
        owned = true
        transfers = TransferSlots(handle: handle, owner: nil)
        var r: Int32 = 0, s: Int32 = 0
        try mpiCheck("MPI_Comm_rank") { MPI_Comm_rank(handle, &r) }
        try mpiCheck("MPI_Comm_size") { MPI_Comm_size(handle, &s) }
        rank = Int(r)
        size = Int(s)
    }

    deinit {
        guard owned else { return }
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 {
            var h: MPI_Comm? = handle
            MPI_Comm_free(&h)
        }
    }

    /// True on rank 0, the rank that prints and writes shared files.
    public var isRoot: Bool { rank == 0 }

    // MARK: Groups

    /// Splits the group: processes with the same `color` form a new communicator, ordered by
    /// `key` (ties by old rank). A nil color leaves this process out and returns nil.
    public func split(color: Int?, key: Int) throws(CollectivesError) -> Communicator? {
        var newHandle: MPI_Comm? = tessera_mpi_comm_null()
        let c = color.map(Int32.init) ?? tessera_mpi_undefined()
        try mpiCheck("MPI_Comm_split") { MPI_Comm_split(handle, c, Int32(key), &newHandle) }
        guard let made = newHandle, made != tessera_mpi_comm_null() else { return nil }
        return try Communicator(owning: made)
    }

    /// A new communicator with the same processes, so a library's messages can't mix with ours.
    public func duplicate() throws(CollectivesError) -> Communicator {
        var newHandle: MPI_Comm? = tessera_mpi_comm_null()
        try mpiCheck("MPI_Comm_dup") { MPI_Comm_dup(handle, &newHandle) }
        guard let made = newHandle else {
            throw CollectivesError.invalidArgument("MPI_Comm_dup returned no communicator")
        }
        return try Communicator(owning: made)
    }

    /// Waits until every process of the group has arrived.
    public func barrier() throws(CollectivesError) {
        try mpiCheck("MPI_Barrier") { MPI_Barrier(handle) }
    }

    /// Ends the whole job (every process of every group) with `code`. Use it only when a clean,
    /// agreed error path is impossible (a rank is stuck or the state is unrecoverable).
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        _ = message  // The caller prints; MPI_Abort itself also reports the rank and code.
        MPI_Abort(handle, code)
        // MPI_Abort does not return on a working MPI; this is the fallback if it does.
        while true { MPI_Abort(handle, code) }
    }

    // MARK: Validation shared by the collectives

    func checkRoot(_ root: Int, _ call: String) throws(CollectivesError) {
        guard (0..<size).contains(root) else {
            throw CollectivesError.invalidArgument("\(call): root \(root) is outside 0..<\(size)")
        }
    }

    static func int32Count(_ count: Int, _ call: String) throws(CollectivesError) -> Int32 {
        guard count >= 0, count <= Int(Int32.max) else {
            throw CollectivesError.invalidArgument("\(call): count \(count) does not fit MPI's 32-bit count")
        }
        return Int32(count)
    }
}
