// Collective error agreement: before a step that every rank must take together, ranks share
// whether any of them failed, so all take the same path (all go on, or all stop with the same
// message) instead of some waiting forever in a collective the failed rank never enters.
// (Agreed phases that run code are `ProcessGroup.agreed`, for every group; this is the MPI
// check of a problem string the MPI tests use.)

extension Communicator {
    /// Every rank passes its own problem (nil when fine). If any rank has one, every rank throws
    /// `CollectivesError.mismatch` carrying the message of the lowest failing rank.
    public func agree(_ localProblem: String?) throws(CollectivesError) {
        guard let (failedRank, message) = try firstFailure(localProblem) else { return }
        throw CollectivesError.mismatch(failedRank == rank ? message : "rank \(failedRank): \(message)")
    }

    /// The lowest rank with a problem and its message, known to every rank; nil when none failed.
    private func firstFailure(_ localProblem: String?) throws(CollectivesError) -> (Int, String)? {
        let candidate = Int32(localProblem == nil ? size : rank)
        let lowest = try allReduce([candidate], .min)[0]
        guard lowest < Int32(size) else { return nil }
        let bytes = rank == Int(lowest) ? Array((localProblem ?? "").utf8) : []
        let message = try broadcast(bytes, root: Int(lowest))
        return (Int(lowest), String(decoding: message, as: UTF8.self))
    }
}
