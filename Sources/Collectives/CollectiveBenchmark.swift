// Latency and bandwidth of the collectives the trainer uses, over a range of message sizes.
import CMPI

/// One measured collective at one size.
public struct CollectiveMeasurement: Sendable {
    public let operation: String
    /// Floats per rank in the message (for allGather: the total gathered).
    public let floats: Int
    /// Median seconds per call, the slowest rank's view.
    public let seconds: Double
    /// Bytes of the message divided by the time.
    public let algorithmBandwidth: Double
    /// Bandwidth corrected for the data each rank must move (NCCL-tests convention):
    /// allReduce 2(p−1)/p, allGather (p−1)/p, broadcast 1.
    public let busBandwidth: Double
}

public enum CollectiveBenchmark {
    public static let operations = ["allReduce", "allGather", "broadcast"]

    /// Default sizes: 1 K to 16 M floats in steps of 4.
    public static let defaultSizes = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24]

    /// Runs every operation at every size on `communicator` (collective: all ranks call it).
    public static func run(on communicator: Communicator, sizes: [Int] = defaultSizes,
                           operations: [String] = operations) throws(CollectivesError) -> [CollectiveMeasurement] {
        let p = communicator.size
        let largest = sizes.max() ?? 0
        let chunkMax = (largest + p - 1) / p
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(largest, 1))
        buffer.initialize(repeating: 1)
        let chunk = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(chunkMax, 1))
        chunk.initialize(repeating: 1)
        defer { buffer.deallocate(); chunk.deallocate() }
        var results: [CollectiveMeasurement] = []
        for operation in operations {
            for floats in sizes {
                let perRank = floats / p
                let call: () throws(CollectivesError) -> Void
                let factor: Double
                switch operation {
                case "allReduce":
                    let view = UnsafeMutableBufferPointer(rebasing: buffer[0..<floats])
                    call = { () throws(CollectivesError) in try communicator.allReduce(view, .sum) }
                    factor = 2.0 * Double(p - 1) / Double(p)
                case "allGather":
                    let source = UnsafeBufferPointer(rebasing: chunk[0..<perRank])
                    let destination = UnsafeMutableBufferPointer(rebasing: buffer[0..<(perRank * p)])
                    call = { () throws(CollectivesError) in try communicator.allGather(source, into: destination) }
                    factor = Double(p - 1) / Double(p)
                default:
                    let view = UnsafeMutableBufferPointer(rebasing: buffer[0..<floats])
                    call = { () throws(CollectivesError) in try communicator.broadcast(view, root: 0) }
                    factor = 1
                }
                // Aim for ~0.2 s per size: more iterations for small messages.
                let iterations = max(3, min(200, (1 << 22) / max(floats, 1)))
                try call()
                var times: [Double] = []
                for _ in 0..<iterations {
                    try communicator.barrier()
                    let start = MPI_Wtime()
                    try call()
                    times.append(MPI_Wtime() - start)
                }
                times.sort()
                let median = try communicator.allReduce([times[times.count / 2]], .max)[0]
                let bytes = Double(floats) * 4
                results.append(CollectiveMeasurement(
                    operation: operation, floats: floats, seconds: median,
                    algorithmBandwidth: bytes / median, busBandwidth: bytes / median * (p > 1 ? factor : 1)))
            }
        }
        return results
    }
}
