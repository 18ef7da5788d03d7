// Collective operations over buffers: broadcast, allReduce, allGather(V), reduceScatter.
// Buffers are caller-owned; nothing here allocates except the Array conveniences.
import CMPI
import ProcessGroups

extension Communicator {
    /// Sends `buffer` from `root` to every process (each passes a buffer of the same count).
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws(CollectivesError) {
        try checkRoot(root, "broadcast")
        let count = try Self.int32Count(buffer.count, "broadcast")
        try mpiCheck("MPI_Bcast") { MPI_Bcast(buffer.baseAddress, count, T.mpiDatatype, Int32(root), handle) }
    }

    /// Sends `values` from `root`; every rank returns root's array (of any length).
    public func broadcast<T: MPIScalar>(_ values: [T], root: Int = 0) throws(CollectivesError) -> [T] {
        var count = [Int64(values.count)]
        try count.withUnsafeMutableBufferPointer { (p) throws(CollectivesError) in try broadcast(p, root: root) }
        var result = rank == root ? values : [T](unsafeUninitializedCapacity: Int(count[0])) { _, n in n = Int(count[0]) }
        try result.withUnsafeMutableBufferPointer { (p) throws(CollectivesError) in try broadcast(p, root: root) }
        return result
    }

    /// Combines `buffer` element-wise across ranks with `op`, leaving the result in place on every rank.
    public func allReduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation = .sum) throws(CollectivesError) {
        let count = try Self.int32Count(buffer.count, "allReduce")
        try mpiCheck("MPI_Allreduce") {
            MPI_Allreduce(tessera_mpi_in_place(), buffer.baseAddress, count, T.mpiDatatype, op.handle, handle)
        }
    }

    /// Combines `source` element-wise across ranks into `destination` (same count).
    public func allReduce<T: MPIScalar>(_ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>,
                                        _ op: ReduceOperation = .sum) throws(CollectivesError) {
        guard source.count == destination.count else {
            throw CollectivesError.invalidArgument("allReduce: source has \(source.count) elements, destination \(destination.count)")
        }
        let count = try Self.int32Count(source.count, "allReduce")
        try mpiCheck("MPI_Allreduce") {
            MPI_Allreduce(source.baseAddress, destination.baseAddress, count, T.mpiDatatype, op.handle, handle)
        }
    }

    /// Array convenience: returns the element-wise combination of `values` across ranks.
    public func allReduce<T: MPIScalar>(_ values: [T], _ op: ReduceOperation = .sum) throws(CollectivesError) -> [T] {
        var result = values
        try result.withUnsafeMutableBufferPointer { (p) throws(CollectivesError) in try allReduce(p, op) }
        return result
    }

    /// Gathers `source` (the same count on every rank) from all ranks into `destination`,
    /// rank-major: `destination[r * count ..< (r + 1) * count]` is rank r's block.
    public func allGather<T: MPIScalar>(_ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>) throws(CollectivesError) {
        guard destination.count == source.count * size else {
            throw CollectivesError.invalidArgument("allGather: destination holds \(destination.count) elements, needs \(source.count) × \(size) ranks")
        }
        let count = try Self.int32Count(source.count, "allGather")
        try mpiCheck("MPI_Allgather") {
            MPI_Allgather(source.baseAddress, count, T.mpiDatatype, destination.baseAddress, count, T.mpiDatatype, handle)
        }
    }

    /// Array convenience for `allGather`: every rank's `values`, concatenated in rank order.
    public func allGather<T: MPIScalar>(_ values: [T]) throws(CollectivesError) -> [T] {
        var result = [T](unsafeUninitializedCapacity: values.count * size) { _, n in n = values.count * size }
        try values.withUnsafeBufferPointer { (s) throws(CollectivesError) in
            try result.withUnsafeMutableBufferPointer { (d) throws(CollectivesError) in try allGather(s, into: d) }
        }
        return result
    }

    /// Gathers blocks of different sizes: rank r contributes `counts[r]` elements, concatenated in
    /// rank order into `destination`. The counts are checked against what every rank actually
    /// sends, and a mismatch is reported on every rank instead of corrupting memory or hanging.
    public func allGatherV<T: MPIScalar>(_ source: UnsafeBufferPointer<T>, counts: [Int],
                                         into destination: UnsafeMutableBufferPointer<T>) throws(CollectivesError) {
        var localProblem: String?
        if counts.count != size {
            localProblem = "allGatherV: \(counts.count) counts given for \(size) ranks"
        } else if counts[rank] != source.count {
            localProblem = "allGatherV: rank \(rank) sends \(source.count) elements but counts[\(rank)] = \(counts[rank])"
        } else if counts.reduce(0, +) != destination.count {
            localProblem = "allGatherV: destination holds \(destination.count) elements, counts sum to \(counts.reduce(0, +))"
        }
        // Every rank learns every rank's real send count, so all reach the same verdict.
        let actual = try allGather([Int64(source.count)])
        if localProblem == nil, counts.map(Int64.init) != actual {
            localProblem = "allGatherV: counts \(counts) disagree with the counts the ranks send \(actual)"
        }
        try agree(localProblem)
        let receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + receiveCounts[r - 1] }
        let count = try Self.int32Count(source.count, "allGatherV")
        try mpiCheck("MPI_Allgatherv") {
            MPI_Allgatherv(source.baseAddress, count, T.mpiDatatype, destination.baseAddress,
                           receiveCounts, displacements, T.mpiDatatype, handle)
        }
    }

    /// Reduces `source` (`size` equal blocks) across ranks and leaves block `rank` of the result
    /// in `destination`.
    public func reduceScatter<T: MPIScalar>(_ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>,
                                            _ op: ReduceOperation = .sum) throws(CollectivesError) {
        guard source.count == destination.count * size else {
            throw CollectivesError.invalidArgument("reduceScatter: source has \(source.count) elements, needs \(destination.count) × \(size) ranks")
        }
        let count = try Self.int32Count(destination.count, "reduceScatter")
        try mpiCheck("MPI_Reduce_scatter_block") {
            MPI_Reduce_scatter_block(source.baseAddress, destination.baseAddress, count, T.mpiDatatype, op.handle, handle)
        }
    }
}
