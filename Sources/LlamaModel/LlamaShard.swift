// The slice of the model one tensor-parallel rank holds (docs/architecture.md §5.1): a range of
// query heads with the KV heads they read, a range of FFN columns and a range of the vocabulary.
// Query heads need not come in whole KV groups: when a range ends inside a group, that KV
// head is held by both neighbouring ranks. Either both compute its k and v, or (with
// `keyValueTransfers`, what the planner gives) one of them, its owner, computes them and sends
// them to the other, which sends its partial dk, dv back in the backward. Its k/v LoRA B rows
// get partial gradients on each rank that projects it (reduced over the group,
// docs/architecture.md §5.3; zero on a rank that only receives it). A group of one holds
// everything, so one rank runs the same code as many.
// Legend: G = KV heads, H = query heads, q = H / G, F = FFN size, V = vocabulary.

/// What one rank of a tensor-parallel group holds. Computed by the shard planner
/// (Parallelism); `whole(_:)` is the single-rank case.
public struct LlamaShard: Sendable, Equatable, CustomStringConvertible {
    /// One hand-over of a KV head between two ranks that hold it: the sender projects its k
    /// and v (after RoPE) and sends them; the receiver sends its partial dk, dv back.
    public struct KeyValueTransfer: Sendable, Equatable {
        /// Global KV head.
        public let kvHead: Int
        /// The other rank (index in the tensor-parallel group).
        public let peer: Int
        /// True on the rank that projects the head and sends its k, v.
        public let sends: Bool

        public init(kvHead: Int, peer: Int, sends: Bool) {
            self.kvHead = kvHead
            self.peer = peer
            self.sends = sends
        }
    }

    /// Query heads held (`0..<H` for the whole model).
    public let queryHeads: Range<Int>
    /// FFN columns (gate/up rows, down columns) held.
    public let ffnColumns: Range<Int>
    /// Vocabulary rows (embedding and head) held.
    public let vocabRows: Range<Int>
    /// Query heads per KV head (H / G).
    public let queriesPerKVHead: Int
    /// Head dimension D.
    public let headDim: Int
    /// KV heads handed over to or from other ranks, in KV head then peer order (empty: every
    /// rank projects every KV head it holds).
    public let keyValueTransfers: [KeyValueTransfer]

    /// - Parameter keyValueTransfers: must name only KV heads this shard holds, received ones
    ///   only at the ends of `kvHeads` (where a neighbour can hold them too).
    public init(queryHeads: Range<Int>, ffnColumns: Range<Int>, vocabRows: Range<Int>, queriesPerKVHead: Int, headDim: Int,
                keyValueTransfers: [KeyValueTransfer] = []) {
        self.queryHeads = queryHeads
        self.ffnColumns = ffnColumns
        self.vocabRows = vocabRows
        self.queriesPerKVHead = queriesPerKVHead
        self.headDim = headDim
        self.keyValueTransfers = keyValueTransfers
    }

    /// A shard of whole KV groups: KV heads `kvHeads` with all their query heads.
    public init(kvHeads: Range<Int>, ffnColumns: Range<Int>, vocabRows: Range<Int>, queriesPerKVHead: Int, headDim: Int) {
        self.init(queryHeads: (kvHeads.lowerBound * queriesPerKVHead)..<(kvHeads.upperBound * queriesPerKVHead),
                  ffnColumns: ffnColumns, vocabRows: vocabRows, queriesPerKVHead: queriesPerKVHead, headDim: headDim)
    }

    /// The whole model (tensor-parallel group of one).
    public static func whole(_ config: LlamaConfig) -> LlamaShard {
        LlamaShard(queryHeads: 0..<config.numAttentionHeads, ffnColumns: 0..<config.intermediateSize,
                   vocabRows: 0..<config.vocabSize,
                   queriesPerKVHead: config.numAttentionHeads / max(config.numKeyValueHeads, 1),
                   headDim: config.headDim)
    }

    /// KV heads the query heads read (`0..<G` for the whole model); a head shared with a
    /// neighbouring rank is included.
    public var kvHeads: Range<Int> {
        guard !queryHeads.isEmpty, queriesPerKVHead > 0 else { return 0..<0 }
        return (queryHeads.lowerBound / queriesPerKVHead)..<((queryHeads.upperBound - 1) / queriesPerKVHead + 1)
    }
    /// KV heads this rank projects: `kvHeads` without the ones it receives (at its ends).
    public var computedKVHeads: Range<Int> {
        let held = kvHeads
        var lower = held.lowerBound, upper = held.upperBound
        while lower < upper, keyValueTransfers.contains(where: { !$0.sends && $0.kvHead == lower }) { lower += 1 }
        while lower < upper, keyValueTransfers.contains(where: { !$0.sends && $0.kvHead == upper - 1 }) { upper -= 1 }
        return lower..<upper
    }
    /// Rows of the local k and v (and of the local k_proj / v_proj slices) this rank projects.
    public var computedKeyValueRowsLocal: Range<Int> {
        let computed = computedKVHeads, first = kvHeads.lowerBound
        return ((computed.lowerBound - first) * headDim)..<((computed.upperBound - first) * headDim)
    }
    /// Index into the local KV heads of the KV head local query head `head` reads.
    public func localKVHead(ofLocalQueryHead head: Int) -> Int {
        (queryHeads.lowerBound + head) / queriesPerKVHead - kvHeads.lowerBound
    }
    /// `H_local · D`: local width of q and of o_proj's input.
    public var queryWidthLocal: Int { queryHeads.count * headDim }
    /// `G_local · D`: local width of k and v.
    public var keyValueWidthLocal: Int { kvHeads.count * headDim }
    /// Rows of q_proj held: `queryHeads · D`.
    public var queryRows: Range<Int> { (queryHeads.lowerBound * headDim)..<(queryHeads.upperBound * headDim) }
    /// Rows of k_proj / v_proj held.
    public var keyValueRows: Range<Int> { (kvHeads.lowerBound * headDim)..<(kvHeads.upperBound * headDim) }

    /// The local `(in, out)` features of a module's weight slice on this rank (column-parallel
    /// modules keep every input and a slice of outputs; row-parallel ones the reverse).
    public func localFeatures(_ module: LinearModule, _ config: LlamaConfig) -> (inFeatures: Int, outFeatures: Int) {
        switch module {
        case .qProj: return (config.hiddenSize, queryWidthLocal)
        case .kProj, .vProj: return (config.hiddenSize, keyValueWidthLocal)
        case .oProj: return (queryWidthLocal, config.hiddenSize)
        case .gateProj, .upProj: return (config.hiddenSize, ffnColumns.count)
        case .downProj: return (ffnColumns.count, config.hiddenSize)
        }
    }

    public var description: String {
        let computed = computedKVHeads == kvHeads ? "" : ", computes \(computedKVHeads)"
        return "query heads \(queryHeads) (KV heads \(kvHeads)\(computed)), FFN columns \(ffnColumns), vocab rows \(vocabRows)"
    }
}

extension LinearModule {
    /// Column-parallel modules (q, k, v, gate, up) split their outputs across ranks; row-parallel
    /// ones (o, down) split their inputs (docs/architecture.md §5.2).
    public var isRowParallel: Bool { self == .oProj || self == .downProj }
}
