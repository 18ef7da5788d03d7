// A loaded Llama-family model: config, frozen weights in their stored formats, and the RoPE
// tables. Stateless at run time; activations live in a LlamaWorkspace, generation state in a
// KVCache, so one model can serve several workspaces (llama2.c's Config / Weights / RunState).

import Kernels

/// A Llama-family decoder ready to run forward.
public final class Llama: @unchecked Sendable {
    public let config: LlamaConfig
    public let weights: LlamaWeights
    /// cos/sin for positions `0..<maxPositions` (the global layers' when layers differ).
    public let rope: RoPETable
    /// The sliding-window layers' own table when their base differs (Gemma 3), else nil.
    public let localRope: RoPETable?
    /// LongRoPE's table for passes reaching `original_max_position_embeddings` (`rope` then
    /// holds the short factors), else nil.
    public let longRope: RoPETable?

    /// The rotary table layer `l` uses in a pass whose positions reach `longContext`
    /// (`usesLongRoPE`).
    func rope(layer l: Int, longContext: Bool = false) -> RoPETable {
        if let localRope, config.isSlidingLayer(l) { return localRope }
        if longContext, let longRope { return longRope }
        return rope
    }

    /// Whether a pass over `positions` takes LongRoPE's long factors: as transformers, when its
    /// largest position + 1 exceeds `original_max_position_embeddings` (the whole pass then
    /// uses them, the earlier positions too).
    func usesLongRoPE(positions: UnsafePointer<Int>, count: Int) -> Bool {
        guard let long = config.longRoPE, longRope != nil else { return false }
        var largest = -1
        for i in 0..<count { largest = max(largest, positions[i]) }
        return largest + 1 > long.originalMaxPositionEmbeddings
    }

    /// Positions the model accepts (the RoPE table's length).
    public var maxPositions: Int { rope.positions }

    /// Queries per attention call: bounds the probability scratch to `[64, keys]`.
    public static let attentionQueryRows = 64

    /// Rows of logits computed at once by the loss head (`[chunk, V]` scratch).
    public static let logitChunkRows = 32

    /// Bytes the training loss head's `[K, V_local]` logits chunk may take: every chunk streams
    /// (and dequantizes) the whole head matrix twice, so K is as large as this allows.
    public static let trainingLogitBytes = 32 << 20

    /// Rows K of the training loss head's chunk for `tokens` tokens and `vocabLocal` rows held:
    /// `trainingLogitBytes / (4·V_local)` rounded down to 16, at least `logitChunkRows`.
    public static func trainingLogitRows(tokens: Int, vocabLocal: Int) -> Int {
        let budgetRows = trainingLogitBytes / (MemoryLayout<Float>.stride * max(vocabLocal, 1)) / 16 * 16
        return max(1, min(tokens, max(logitChunkRows, budgetRows)))
    }

    /// Builds a model from checked weights. `maxPositions` bounds the RoPE table (defaults to
    /// `max_position_embeddings`, capped at 32768 to keep the table small).
    public init(config: LlamaConfig, weights: LlamaWeights, maxPositions: Int? = nil) throws {
        try config.validate()
        let positions = maxPositions ?? min(config.maxPositionEmbeddings, 32_768)
        guard positions > 0 else { throw LlamaModelError.invalidConfig("maxPositions must be positive, got \(positions)") }
        self.config = config
        self.weights = weights
        let rotary = config.rotaryDim
        var invFreq = RoPETable.inverseFrequencies(headDim: rotary, theta: config.ropeTheta,
                                                   scaling: config.ropeScaling)
        if let factors = weights.ropeFrequencyFactors {
            guard factors.count == invFreq.count, factors.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw LlamaModelError.invalidWeights("rope_freqs.weight must hold \(invFreq.count) positive values")
            }
            // llama.cpp: theta_i = pos · base_freq_i / factor_i.
            for i in invFreq.indices { invFreq[i] /= factors[i] }
        }
        // transformers' linear scaling: inv_freq / factor (in float32).
        if let factor = config.ropeLinearFactor { invFreq = invFreq.map { $0 / Float(factor) } }
        if let long = config.longRoPE {
            let scale = Float(long.attentionScale(maxPositionEmbeddings: config.maxPositionEmbeddings))
            rope = RoPETable(headDim: config.headDim, positions: positions,
                             invFreq: RoPETable.longRoPEFrequencies(rotaryDim: rotary, theta: config.ropeTheta, factors: long.shortFactor),
                             rotaryDim: rotary, scale: scale)
            longRope = RoPETable(headDim: config.headDim, positions: positions,
                                 invFreq: RoPETable.longRoPEFrequencies(rotaryDim: rotary, theta: config.ropeTheta, factors: long.longFactor),
                                 rotaryDim: rotary, scale: scale)
        } else {
            rope = RoPETable(headDim: config.headDim, positions: positions, invFreq: invFreq, rotaryDim: rotary)
            longRope = nil
        }
        localRope = config.localRopeTheta.flatMap { theta in
            theta == config.ropeTheta && config.ropeLinearFactor == nil ? nil
                : RoPETable(headDim: config.headDim, positions: positions,
                            invFreq: RoPETable.inverseFrequencies(headDim: rotary, theta: theta, scaling: nil), rotaryDim: rotary)
        }
    }
}
