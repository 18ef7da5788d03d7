// Training sequences: one example, or several packed end to end (docs/architecture.md §4.1), never
// longer than max_seq_len. Packed examples keep their own segment: attention and RoPE positions
// restart at each boundary, so a packed sequence gives the same loss as its examples run one by
// one.
// Legend: T = tokens of the sequence.

/// One sequence of a batch.
public struct PackedSequence: Sendable, Equatable {
    /// `[T]` token ids of every packed example, end to end.
    public var ids: [Int]
    /// `[T]` labels (HF convention, -100 = not counted).
    public var labels: [Int]
    /// One range of `0..<T` per example.
    public var segments: [Range<Int>]
    /// The data-set index of each segment's example (keys the dropout masks, so they do not
    /// depend on how the batch is split across ranks).
    public var exampleIndices: [Int]

    /// Targets counted by the loss: labels after the first token of each segment that are not -100.
    public var countedTargets: Int {
        segments.reduce(0) { sum, segment in
            sum + labels[segment].dropFirst().filter { $0 != TokenizedExample.ignoreIndex }.count
        }
    }
}

/// Builds sequences from tokenized examples.
public enum SequencePacker {
    /// Sequences for the examples in `order`: with `packing`, consecutive examples share a
    /// sequence while they fit in `maxSeqLen`; without, one example per sequence. Examples longer
    /// than `maxSeqLen` are truncated (counted in `truncated`); examples with nothing to predict
    /// after truncation are dropped.
    public static func pack(_ examples: [TokenizedExample], order: [Int], maxSeqLen: Int,
                            packing: Bool) -> (sequences: [PackedSequence], truncated: Int) {
        precondition(maxSeqLen >= 2, "SequencePacker: max_seq_len must be at least 2")
        var sequences: [PackedSequence] = []
        var current = PackedSequence(ids: [], labels: [], segments: [], exampleIndices: [])
        var truncated = 0
        func flush() {
            if !current.ids.isEmpty { sequences.append(current) }
            current = PackedSequence(ids: [], labels: [], segments: [], exampleIndices: [])
        }
        for index in order {
            var ids = examples[index].inputIDs, labels = examples[index].labels
            if ids.count > maxSeqLen {
                ids.removeLast(ids.count - maxSeqLen)
                labels.removeLast(labels.count - maxSeqLen)
                truncated += 1
            }
            guard labels.dropFirst().contains(where: { $0 != TokenizedExample.ignoreIndex }) else { continue }
            if !packing || current.ids.count + ids.count > maxSeqLen { flush() }
            let start = current.ids.count
            current.ids += ids
            current.labels += labels
            current.segments.append(start..<(start + ids.count))
            current.exampleIndices.append(index)
        }
        flush()
        return (sequences, truncated)
    }
}
