// Next-token choice from one row of logits: repetition penalty, then greedy, or temperature →
// top-k → top-p (nucleus) → draw, in the order transformers applies its logits processors.
// Legend: V = vocab.

import Foundation
import Kernels

/// How to pick the next token.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 means greedy (argmax); otherwise logits are divided by it.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens (nil: no limit).
    public var topK: Int?
    /// Keep the smallest set of tokens whose probability reaches `topP` (nil: no limit).
    public var topP: Float?
    /// Seed of the sampling RNG.
    public var seed: UInt64
    /// transformers' repetition_penalty: logits of ids already in the context are divided by it
    /// when positive, multiplied when negative; 1 is off.
    public var repetitionPenalty: Float

    public init(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0,
                repetitionPenalty: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.repetitionPenalty = repetitionPenalty
    }

    /// Argmax decoding.
    public static let greedy = SamplingParameters(temperature: 0)

    /// Checks the ranges; messages name the option.
    public func validate() throws {
        guard temperature >= 0, temperature.isFinite else {
            throw LlamaModelError.invalidInput("temperature must be ≥ 0, got \(temperature)")
        }
        if let k = topK, k < 1 { throw LlamaModelError.invalidInput("top_k must be ≥ 1, got \(k)") }
        if let p = topP, !(p > 0 && p <= 1) { throw LlamaModelError.invalidInput("top_p must be in (0, 1], got \(p)") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw LlamaModelError.invalidInput("repetition_penalty must be > 0 (1 is off), got \(repetitionPenalty)")
        }
    }
}

/// Picks tokens from logits; owns its RNG, the ids seen so far and `[V]` scratch, allocated once.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: Xoshiro256StarStar
    private var order: [Int]        // [V] candidate ids, best first
    private var probs: [Float]      // [V]
    private var repetition: RepetitionPenalty

    public init(parameters: SamplingParameters, vocabSize: Int) throws {
        try parameters.validate()
        self.parameters = parameters
        rng = Xoshiro256StarStar(seed: parameters.seed)
        order = Array(0..<vocabSize)
        probs = [Float](repeating: 0, count: vocabSize)
        repetition = RepetitionPenalty(penalty: parameters.repetitionPenalty, vocabSize: vocabSize)
    }

    /// Records context ids (the prompt) for the repetition penalty.
    public mutating func record<S: Sequence<Int>>(_ ids: S) { repetition.record(ids) }

    /// One generation step: applies the repetition penalty to `logits` (`[V]`, modified in
    /// place), picks a token and records it as part of the context.
    public mutating func next(_ logits: UnsafeMutablePointer<Float>) -> Int {
        repetition.apply(to: logits)
        let id = sample(logits)
        repetition.record(CollectionOfOne(id))
        return id
    }

    /// The token chosen from `logits` (`[V]`), without the repetition penalty.
    public mutating func sample(_ logits: UnsafePointer<Float>) -> Int {
        let v = order.count
        if parameters.temperature == 0 { return Self.argmax(logits, count: v) }
        let invT = 1 / parameters.temperature
        // Candidates, best first; a full sort only when a filter needs the ranking.
        var n = v
        let needsRanking = parameters.topK != nil || parameters.topP != nil
        for i in 0..<v { order[i] = i }
        if needsRanking {
            order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            if let k = parameters.topK { n = min(k, v) }
        }
        // probs over the kept candidates: softmax(logit / T)
        let maxLogit = (0..<n).reduce(-Float.infinity) { max($0, logits[order[$1]]) }
        var sum: Float = 0
        for i in 0..<n {
            let e = Foundation.exp((logits[order[i]] - maxLogit) * invT)
            probs[i] = e
            sum += e
        }
        for i in 0..<n { probs[i] /= sum }
        if let p = parameters.topP {
            // Smallest prefix whose mass reaches p (always at least one token).
            var mass: Float = 0
            var keep = 0
            while keep < n { mass += probs[keep]; keep += 1; if mass >= p { break } }
            n = keep
            for i in 0..<n { probs[i] /= mass }
        }
        var u = rng.nextUnitFloat()
        for i in 0..<n {
            u -= probs[i]
            if u < 0 { return order[i] }
        }
        return order[n - 1]  // rounding left a sliver of mass
    }

    /// Index of the largest value; the first one on ties (like torch.argmax).
    public static func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where values[i] > values[best] { best = i }
        return best
    }
}
