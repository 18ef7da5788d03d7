// Nonblocking point-to-point transfers inside a step, without allocating: a fixed set of MPI
// request slots made once, each started transfer holding one until it is waited for. The
// training step hands a KV head's k and v to a neighbouring rank this way (and the partial
// gradients back), keeping its own work going while the message travels.
import CMPI

/// Fixed request slots for nonblocking sends and receives on one communicator.
public final class TransferSlots: @unchecked Sendable {
    private let handle: MPI_Comm
    /// Kept alive by slots made for a communicator from outside; nil for the slots a
    /// communicator owns itself (`Communicator.startSend`), which must not retain it.
    private let owner: Communicator?
    private let requests: UnsafeMutablePointer<MPI_Request?>
    private let inUse: UnsafeMutablePointer<Bool>
    /// Transfers that may be in flight at once.
    public let capacity: Int

    public convenience init(_ communicator: Communicator, capacity: Int = 16) {
        self.init(handle: communicator.handle, owner: communicator, capacity: capacity)
    }

    init(handle: MPI_Comm, owner: Communicator?, capacity: Int = 16) {
        self.handle = handle
        self.owner = owner
        self.capacity = capacity
        requests = .allocate(capacity: capacity)
        requests.initialize(repeating: tessera_mpi_request_null(), count: capacity)
        inUse = .allocate(capacity: capacity)
        inUse.initialize(repeating: false, count: capacity)
    }

    deinit {
        // A transfer dropped without wait would let MPI touch freed memory later.
        for slot in 0..<capacity where inUse[slot] { MPI_Wait(requests + slot, tessera_mpi_status_ignore()) }
        requests.deallocate()
        inUse.deallocate()
    }

    /// Starts sending `count` floats to `destination`; the buffer stays untouched until `wait`.
    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to destination: Int, tag: Int) throws(CollectivesError) -> Int {
        let slot = try freeSlot()
        let n = try Communicator.int32Count(count, "startSend")
        try mpiCheck("MPI_Isend") {
            MPI_Isend(buffer, n, tessera_mpi_float(), Int32(destination), Int32(tag), handle, requests + slot)
        }
        inUse[slot] = true
        return slot
    }

    /// Starts receiving `count` floats from `source` into `buffer`; read it only after `wait`.
    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int, tag: Int) throws(CollectivesError) -> Int {
        let slot = try freeSlot()
        let n = try Communicator.int32Count(count, "startReceive")
        try mpiCheck("MPI_Irecv") {
            MPI_Irecv(buffer, n, tessera_mpi_float(), Int32(source), Int32(tag), handle, requests + slot)
        }
        inUse[slot] = true
        return slot
    }

    /// Blocks until the transfer in `slot` has completed on this rank, and frees the slot.
    public func wait(_ slot: Int) throws(CollectivesError) {
        guard slot >= 0, slot < capacity, inUse[slot] else {
            throw CollectivesError.invalidArgument("wait on transfer slot \(slot), which holds no transfer")
        }
        inUse[slot] = false
        try mpiCheck("MPI_Wait") { MPI_Wait(requests + slot, tessera_mpi_status_ignore()) }
    }

    private func freeSlot() throws(CollectivesError) -> Int {
        for slot in 0..<capacity where !inUse[slot] { return slot }
        throw CollectivesError.invalidArgument("more than \(capacity) point-to-point transfers in flight")
    }
}
