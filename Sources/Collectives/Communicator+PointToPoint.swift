// Point-to-point messages between two ranks of a group.
import CMPI
import ProcessGroups

extension Communicator {
    /// Sends `buffer` to rank `destination` with `tag`; blocks until the buffer can be reused.
    public func send<T: MPIScalar>(_ buffer: UnsafeBufferPointer<T>, to destination: Int, tag: Int = 0) throws(CollectivesError) {
        try checkRoot(destination, "send")
        let count = try Self.int32Count(buffer.count, "send")
        try mpiCheck("MPI_Send") { MPI_Send(buffer.baseAddress, count, T.mpiDatatype, Int32(destination), Int32(tag), handle) }
    }

    /// Receives exactly `buffer.count` elements from rank `source` with `tag`. A message of a
    /// different length is an error, not a silent truncation.
    public func receive<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, from source: Int, tag: Int = 0) throws(CollectivesError) {
        try checkRoot(source, "receive")
        let count = try Self.int32Count(buffer.count, "receive")
        var status = MPI_Status()
        try mpiCheck("MPI_Recv") { MPI_Recv(buffer.baseAddress, count, T.mpiDatatype, Int32(source), Int32(tag), handle, &status) }
        var received: Int32 = 0
        try mpiCheck("MPI_Get_count") { MPI_Get_count(&status, T.mpiDatatype, &received) }
        guard received == count else {
            throw CollectivesError.mismatch("receive from rank \(source): expected \(count) elements, got \(received)")
        }
    }

    /// Array conveniences: send a length-prefixed array; receive one of any length.
    public func send<T: MPIScalar>(_ values: [T], to destination: Int, tag: Int = 0) throws(CollectivesError) {
        try [Int64(values.count)].withUnsafeBufferPointer { (p) throws(CollectivesError) in try send(p, to: destination, tag: tag) }
        try values.withUnsafeBufferPointer { (p) throws(CollectivesError) in try send(p, to: destination, tag: tag) }
    }

    public func receive<T: MPIScalar>(_: T.Type, from source: Int, tag: Int = 0) throws(CollectivesError) -> [T] {
        var length = [Int64(0)]
        try length.withUnsafeMutableBufferPointer { (p) throws(CollectivesError) in try receive(p, from: source, tag: tag) }
        guard length[0] >= 0, length[0] <= Int64(Int32.max) else {
            throw CollectivesError.mismatch("receive from rank \(source): bad length prefix \(length[0])")
        }
        var values = [T](unsafeUninitializedCapacity: Int(length[0])) { _, n in n = Int(length[0]) }
        try values.withUnsafeMutableBufferPointer { (p) throws(CollectivesError) in try receive(p, from: source, tag: tag) }
        return values
    }
}
