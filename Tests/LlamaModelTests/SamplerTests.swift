import Foundation
import Testing
@testable import LlamaModel
@testable import ModelIO

@Suite struct SamplerTests {
    private let logits: [Float] = [0.5, 3, 2.9, -1, 3, 0]

    @Test func greedyTakesTheFirstMaximum() throws {
        var s = try Sampler(parameters: .greedy, vocabSize: logits.count)
        #expect(s.sample(logits) == 1)
    }

    @Test func topKOneAndTinyTopPAreGreedy() throws {
        var k1 = try Sampler(parameters: .init(temperature: 1.3, topK: 1, seed: 5), vocabSize: logits.count)
        var p0 = try Sampler(parameters: .init(temperature: 0.7, topP: 1e-6, seed: 5), vocabSize: logits.count)
        for _ in 0..<20 {
            #expect(k1.sample(logits) == 1)
            #expect(p0.sample(logits) == 1)
        }
    }

    @Test func seededSamplingIsReproducibleAndRespectsTopK() throws {
        let params = SamplingParameters(temperature: 1, topK: 3, topP: 0.99, seed: 42)
        var a = try Sampler(parameters: params, vocabSize: logits.count)
        var b = try Sampler(parameters: params, vocabSize: logits.count)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<3000 {
            let x = a.sample(logits)
            #expect(x == b.sample(logits))
            counts[x] += 1
        }
        // Only the top 3 (ids 1, 4, 2) can appear; 1 and 4 tie, so they come out about equally.
        #expect(counts[0] == 0 && counts[3] == 0 && counts[5] == 0)
        #expect(counts[1] > 800 && counts[4] > 800 && counts[2] > 600)
    }

    @Test func temperatureSamplingFollowsTheSoftmax() throws {
        var s = try Sampler(parameters: .init(temperature: 1, seed: 7), vocabSize: 2)
        let two: [Float] = [0, Float(log(3.0))]  // p = 1/4, 3/4
        var ones = 0
        for _ in 0..<4000 where s.sample(two) == 1 { ones += 1 }
        #expect(abs(Double(ones) / 4000 - 0.75) < 0.03)
    }

    @Test func rejectsBadParameters() {
        #expect(throws: LlamaModelError.self) { try Sampler(parameters: .init(temperature: -1), vocabSize: 4) }
        #expect(throws: LlamaModelError.self) { try Sampler(parameters: .init(topK: 0), vocabSize: 4) }
        #expect(throws: LlamaModelError.self) { try Sampler(parameters: .init(topP: 1.5), vocabSize: 4) }
    }

    @Test func generatorIsDeterministic() {
        var a = Xoshiro256StarStar(seed: 1), b = Xoshiro256StarStar(seed: 1), c = Xoshiro256StarStar(seed: 2)
        let xa = (0..<4).map { _ in a.next() }
        #expect(xa == (0..<4).map { _ in b.next() })
        #expect(xa != (0..<4).map { _ in c.next() })
    }
}
