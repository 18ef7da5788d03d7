// The packed sequences of one micro-batch laid end to end, as `Llama.trainStep` takes them.
// The arrays keep their capacity from one micro-batch to the next, so after the first step
// filling them allocates nothing.

/// Token ids, labels, segments and example indices of a micro-batch, reused across steps.
struct MicroBatch {
    private(set) var ids: [Int] = []
    private(set) var labels: [Int] = []
    /// One range per packed document, in `ids` positions.
    private(set) var segments: [Range<Int>] = []
    /// The example index of each segment (dropout masks are keyed by it).
    private(set) var samples: [Int] = []

    /// Replaces the contents with `sequences`, end to end.
    mutating func fill(_ sequences: ArraySlice<PackedSequence>) {
        ids.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
        segments.removeAll(keepingCapacity: true)
        samples.removeAll(keepingCapacity: true)
        for sequence in sequences {
            let base = ids.count
            ids.append(contentsOf: sequence.ids)
            labels.append(contentsOf: sequence.labels)
            for segment in sequence.segments {
                segments.append((segment.lowerBound + base)..<(segment.upperBound + base))
            }
            samples.append(contentsOf: sequence.exampleIndices)
        }
    }
}
