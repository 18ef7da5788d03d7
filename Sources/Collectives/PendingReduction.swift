// Nonblocking allReduce: start it, keep computing (for example the backward of earlier layers),
// then wait. The buffer must stay alive and untouched until `wait()` returns.
import CMPI
import ProcessGroups

/// An MPI allReduce in flight (`MPI_Iallreduce`). Call `wait()` before reading the buffer.
public final class MPIPendingReduction: PendingReduction, @unchecked Sendable {
    private var request: MPI_Request?
    private let communicator: Communicator

    init(request: MPI_Request?, communicator: Communicator) {
        self.request = request
        self.communicator = communicator
    }

    /// True once `wait()` or a successful `test()` has completed the reduction.
    public var isComplete: Bool { request == nil || request == tessera_mpi_request_null() }

    /// Blocks until the reduction has finished on this rank.
    public func wait() throws(CollectivesError) {
        guard !isComplete else { return }
        try mpiCheck("MPI_Wait") { MPI_Wait(&request, tessera_mpi_status_ignore()) }
        request = tessera_mpi_request_null()
    }

    /// Advances progress without blocking; returns true when the reduction has finished.
    public func test() throws(CollectivesError) -> Bool {
        guard !isComplete else { return true }
        var flag: Int32 = 0
        try mpiCheck("MPI_Test") { MPI_Test(&request, &flag, tessera_mpi_status_ignore()) }
        if flag != 0 { request = tessera_mpi_request_null() }
        return flag != 0
    }

    deinit {
        // A reduction dropped without wait() would let MPI write into freed memory later.
        if !isComplete { MPI_Wait(&request, tessera_mpi_status_ignore()) }
    }
}

extension Communicator {
    /// Starts an in-place allReduce of `buffer` and returns at once.
    public func startAllReduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation = .sum) throws(CollectivesError) -> any PendingReduction {
        let count = try Self.int32Count(buffer.count, "startAllReduce")
        var request: MPI_Request? = tessera_mpi_request_null()
        try mpiCheck("MPI_Iallreduce") {
            MPI_Iallreduce(tessera_mpi_in_place(), buffer.baseAddress, count, T.mpiDatatype, op.handle, handle, &request)
        }
        return MPIPendingReduction(request: request, communicator: self)
    }
}
