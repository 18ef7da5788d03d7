// The model's tensor-parallel collectives over an MPI communicator.
import Collectives
import LlamaModel

/// `TensorParallelGroup` backed by a TP communicator.
public final class MPITensorParallelGroup: TensorParallelGroup, @unchecked Sendable {
    public let communicator: Communicator

    public init(_ communicator: Communicator) { self.communicator = communicator }

    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard size > 1 else { return }
        try communicator.allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), .sum)
    }

    public func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard size > 1 else { return }
        try communicator.allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), .max)
    }
}
