// The slice of the model one tensor-parallel rank holds (DESIGN §3): whole KV-head groups of
// attention (with their query heads), a range of FFN columns and a range of the vocabulary.
// A group of one holds everything, so one rank runs the same code as many.
// Legend: G = KV heads, H = query heads, F = FFN size, V = vocabulary.

/// What one rank of a tensor-parallel group holds. Computed by the shard planner
/// (Parallelism); `whole(_:)` is the single-rank case.
public struct LlamaShard: Sendable, Equatable, CustomStringConvertible {
    /// KV heads held (`0..<G` for the whole model); their query heads come with them.
    public let kvHeads: Range<Int>
    /// FFN columns (gate/up rows, down columns) held.
    public let ffnColumns: Range<Int>
    /// Vocabulary rows (embedding and head) held.
    public let vocabRows: Range<Int>
    /// Query heads per KV head (H / G).
    public let queriesPerKVHead: Int
    /// Head dimension D.
    public let headDim: Int

    public init(kvHeads: Range<Int>, ffnColumns: Range<Int>, vocabRows: Range<Int>, queriesPerKVHead: Int, headDim: Int) {
        self.kvHeads = kvHeads
        self.ffnColumns = ffnColumns
        self.vocabRows = vocabRows
        self.queriesPerKVHead = queriesPerKVHead
        self.headDim = headDim
    }

    /// The whole model (tensor-parallel group of one).
    public static func whole(_ config: LlamaConfig) -> LlamaShard {
        LlamaShard(kvHeads: 0..<config.numKeyValueHeads, ffnColumns: 0..<config.intermediateSize,
                   vocabRows: 0..<config.vocabSize,
                   queriesPerKVHead: config.numAttentionHeads / max(config.numKeyValueHeads, 1),
                   headDim: config.headDim)
    }

    /// Query heads held.
    public var queryHeads: Range<Int> { (kvHeads.lowerBound * queriesPerKVHead)..<(kvHeads.upperBound * queriesPerKVHead) }
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
        "KV heads \(kvHeads) (query heads \(queryHeads)), FFN columns \(ffnColumns), vocab rows \(vocabRows)"
    }
}

extension LinearModule {
    /// Column-parallel modules (q, k, v, gate, up) split their outputs across ranks; row-parallel
    /// ones (o, down) split their inputs (DESIGN §3).
    public var isRowParallel: Bool { self == .oProj || self == .downProj }
}
