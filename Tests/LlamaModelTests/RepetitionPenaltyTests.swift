import Testing
@testable import LlamaModel

@Suite struct RepetitionPenaltyTests {
    /// transformers' RepetitionPenaltyLogitsProcessor written out directly: gather the scores of
    /// the context ids, `where(score < 0, score * p, score / p)`, scatter them back.
    private func transformersPenalty(_ scores: [Float], context: [Int], _ p: Float) -> [Float] {
        var out = scores
        for id in Set(context) { out[id] = scores[id] < 0 ? scores[id] * p : scores[id] / p }
        return out
    }

    private func argmax(_ v: [Float]) -> Int {
        v.indices.max { v[$0] < v[$1] || (v[$0] == v[$1] && $0 > $1) }!
    }

    @Test func penaltyMatchesTransformersFormula() throws {
        let logits: [Float] = [2.5, -1.5, 0, 4, -0.25, 3.9, 1]
        let context = [3, 1, 3, 2, 4, 3]      // repeated ids are penalized once
        for p: Float in [1.3, 0.8, 2] {
            var penalty = RepetitionPenalty(penalty: p, vocabSize: logits.count)
            penalty.record(context)
            var got = logits
            got.withUnsafeMutableBufferPointer { penalty.apply(to: $0.baseAddress!) }
            #expect(got == transformersPenalty(logits, context: context, p))
        }
        #expect(RepetitionPenalty.penalized(4, 2) == 2 && RepetitionPenalty.penalized(-1.5, 2) == -3)
    }

    @Test func penaltyComesBeforeGreedyArgmax() throws {
        var logits: [Float] = [0.5, 3, 2.9, -1]
        var sampler = try Sampler(parameters: .init(temperature: 0, repetitionPenalty: 1.2), vocabSize: 4)
        sampler.record([1])
        // Seen {1}: 3 / 1.2 = 2.5 < 2.9, so id 2 wins and is recorded.
        let first = logits.withUnsafeMutableBufferPointer { sampler.next($0.baseAddress!) }
        #expect(first == 2)
        logits = [0.5, 3, 2.9, -1]
        let second = logits.withUnsafeMutableBufferPointer { sampler.next($0.baseAddress!) }
        #expect(second == 1)  // seen {1, 2}: 2.5 > 2.9 / 1.2
    }

    @Test func penaltyOneChangesNothing() throws {
        var penalty = RepetitionPenalty(penalty: 1, vocabSize: 3)
        penalty.record([0, 1, 2])
        var logits: [Float] = [1, -1, 2]
        logits.withUnsafeMutableBufferPointer { penalty.apply(to: $0.baseAddress!) }
        #expect(logits == [1, -1, 2] && !penalty.isActive)
    }

    @Test func rejectsNonPositivePenalty() {
        #expect(throws: LlamaModelError.self) { try Sampler(parameters: .init(repetitionPenalty: 0), vocabSize: 4) }
        #expect(throws: LlamaModelError.self) { try Sampler(parameters: .init(repetitionPenalty: -1.1), vocabSize: 4) }
        #expect(throws: LlamaModelError.self) { try Sampler(parameters: .init(repetitionPenalty: .infinity), vocabSize: 4) }
    }

    @Test func greedyGenerationWithPenaltyEqualsPenalizedArgmaxOfFullPasses() throws {
        let model = try tinyLlama()
        let prompt = [3, 17, 0]
        let p: Float = 1.8
        let plain = try model.generate(prompt: prompt, maxNewTokens: 8)
        let penalized = try model.generate(prompt: prompt, maxNewTokens: 8,
                                           sampling: .init(temperature: 0, repetitionPenalty: p))
        #expect(penalized != plain)
        var sequence = prompt
        for token in penalized {
            let r = try model.evaluate(sequences: [sequence], logitRows: [sequence.count - 1])
            #expect(token == argmax(transformersPenalty(r.logits[0], context: sequence, p)))
            sequence.append(token)
        }
        // Penalty 1 is the plain greedy path.
        #expect(try model.generate(prompt: prompt, maxNewTokens: 8, sampling: .init(temperature: 0, repetitionPenalty: 1)) == plain)
    }
}
