// Agreed phases: before a step that every rank must take together, the ranks share whether any
// of them failed, so all take the same path (all go on, or all stop with the same message)
// instead of some waiting forever in a collective a failed rank never enters. Works on any
// group, so the training session's checkpoints agree the same way under MPI and in the tests.

/// A failure every rank of a group knows about (the command line prints it once, on rank 0).
public struct AgreedFailure: Error, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension ProcessGroup {
    /// Runs `phase` on every rank and agrees on the outcome (collective). If any rank fails,
    /// every rank throws `AgreedFailure` with the message of the lowest failing rank, prefixed
    /// "rank R: " on the other ranks.
    public func agreed<T>(_ phase: () throws -> T) throws -> T {
        var result: T?
        var problem: String?
        do { result = try phase() } catch let failure as AgreedFailure {
            problem = failure.message
        } catch {
            problem = String(describing: error)
        }
        let candidate = Int32(problem == nil ? size : rank)
        let lowest = Int(try allReduce([candidate], .min)[0])
        if lowest < size {
            let message = try allGatherV(lowest == rank ? Array((problem ?? "").utf8) : [UInt8]())[lowest]
            let text = String(decoding: message, as: UTF8.self)
            throw AgreedFailure(message: lowest == rank ? text : "rank \(lowest): \(text)")
        }
        guard let result else { throw AgreedFailure(message: "internal error: an agreed phase produced no result") }
        return result
    }
}
