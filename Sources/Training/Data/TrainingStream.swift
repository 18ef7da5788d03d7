// The order in which a run sees its data: epoch after epoch, each a seeded shuffle of the
// examples packed into sequences, read as one endless stream of sequences; step s takes
// sequences [s·B, (s+1)·B) of it. The data cursor is therefore just the step number, which
// makes resuming exact, and the global batch of a step does not depend on the mesh.

/// Deterministic global batches over a data set.
public final class TrainingStream: @unchecked Sendable {
    public let examples: [TokenizedExample]
    public let maxSeqLen: Int
    public let packing: Bool
    public let seed: UInt64
    public let shuffle: Bool
    private var epochs: [[PackedSequence]] = []
    /// Examples truncated to max_seq_len, per epoch built so far.
    public private(set) var truncatedPerEpoch: [Int] = []

    public init(examples: [TokenizedExample], maxSeqLen: Int, packing: Bool, seed: UInt64, shuffle: Bool = true) throws(DataRowError) {
        guard maxSeqLen >= 2 else { throw DataRowError("max_seq_len must be at least 2, got \(maxSeqLen)") }
        self.examples = examples
        self.maxSeqLen = maxSeqLen
        self.packing = packing
        self.seed = seed
        self.shuffle = shuffle
        let first = epoch(0)
        guard !first.isEmpty else {
            throw DataRowError("no training sequence has a token to predict (check the loss masks: chat data needs assistant turns)")
        }
    }

    /// The sequences of one epoch.
    public func epoch(_ e: Int) -> [PackedSequence] {
        while epochs.count <= e {
            let index = epochs.count
            var order = Array(examples.indices)
            if shuffle {
                var random = SeededShuffle(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
                order = random.permuted(order)
            }
            let (sequences, truncated) = SequencePacker.pack(examples, order: order, maxSeqLen: maxSeqLen, packing: packing)
            epochs.append(sequences)
            truncatedPerEpoch.append(truncated)
        }
        return epochs[e]
    }

    /// Sequences per epoch.
    public var sequencesPerEpoch: Int { epoch(0).count }

    /// The global batch of `step`: `batchSize` sequences continuing across epochs.
    public func batch(step: Int, batchSize: Int) -> [PackedSequence] {
        var result: [PackedSequence] = []
        var position = step * batchSize
        var e = 0
        var epochStart = 0
        while result.count < batchSize {
            let sequences = epoch(e)
            if position < epochStart + sequences.count {
                result.append(sequences[position - epochStart])
                position += 1
            } else {
                epochStart += sequences.count
                e += 1
            }
        }
        return result
    }

    /// The epoch (fractional) reached after `steps` steps.
    public func epochProgress(steps: Int, batchSize: Int) -> Double {
        Double(steps * batchSize) / Double(max(sequencesPerEpoch, 1))
    }
}

/// Fisher–Yates with SplitMix64: a shuffle that is the same on every platform and rank.
struct SeededShuffle {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func permuted(_ items: [Int]) -> [Int] {
        var items = items
        guard items.count > 1 else { return items }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            items.swapAt(i, j)
        }
        return items
    }
}
