// The model's tensor-parallel collectives over an MPI communicator.
import Collectives
import Kernels
import LlamaModel

/// `TensorParallelGroup` backed by a TP communicator.
public final class MPITensorParallelGroup: TensorParallelGroup, @unchecked Sendable {
    public let communicator: Communicator
    private let transfers: TransferSlots

    public init(_ communicator: Communicator) {
        self.communicator = communicator
        transfers = TransferSlots(communicator)
    }

    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard size > 1 else { return }
        try StepProfile.measure(.communication) {
            try communicator.allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), .sum)
        }
    }

    public func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard size > 1 else { return }
        try StepProfile.measure(.communication) {
            try communicator.allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), .max)
        }
    }

    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int {
        try transfers.startSend(buffer, count: count, to: peer, tag: tag)
    }

    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int {
        try transfers.startReceive(buffer, count: count, from: peer, tag: tag)
    }

    /// Waiting is communication time (the step profile counts it so).
    public func waitTransfer(_ handle: Int) throws {
        try StepProfile.measure(.communication) { try transfers.wait(handle) }
    }

    public func allGather(_ values: [Float]) throws -> [[Float]] {
        guard size > 1 else { return [values] }
        // Every rank learns every count first, then one variable-size gather.
        let counts = try communicator.allGather([Int64(values.count)]).map { Int($0) }
        var all = [Float](repeating: 0, count: counts.reduce(0, +))
        try values.withUnsafeBufferPointer { source in
            try all.withUnsafeMutableBufferPointer { destination in
                try communicator.allGatherV(source, counts: counts, into: destination)
            }
        }
        var out: [[Float]] = []
        var start = 0
        for n in counts {
            out.append(Array(all[start..<(start + n)]))
            start += n
        }
        return out
    }
}
