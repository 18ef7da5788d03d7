import Testing
@testable import Training

@Suite struct LearningRateScheduleTests {
    // Expected values from transformers' lambdas evaluated in Python (warmup 10, total 100).
    @Test func linearWithWarmup() throws {
        let s = try LearningRateSchedule(kind: .linear, warmupSteps: 10, totalSteps: 100)
        let expected: [(Int, Double)] = [(0, 0), (1, 0.1), (5, 0.5), (10, 1), (37, 0.7), (99, 0.011111111111111112), (100, 0), (120, 0)]
        for (step, value) in expected { #expect(s.multiplier(atStep: step) == value, "step \(step)") }
        #expect(s.learningRate(base: 2e-4, atStep: 5) == 1e-4)
    }

    @Test func cosineWithWarmup() throws {
        let half = try LearningRateSchedule(kind: .cosine, warmupSteps: 10, totalSteps: 100)
        let cycles = try LearningRateSchedule(kind: .cosine(cycles: 1.5), warmupSteps: 10, totalSteps: 100)
        let expected: [(Int, Double, Double)] = [
            (0, 0, 0), (5, 0.5, 0.5), (10, 1, 1),
            (37, 0.7938926261462366, 0.024471741852423234),
            (99, 0.00030458649045211894, 0.0027390523158632996),
            (100, 0, 0),
            (120, 0.116977778440511, 0.7500000000000003),  // transformers does not clamp progress
        ]
        for (step, a, b) in expected {
            #expect(abs(half.multiplier(atStep: step) - a) <= 1e-15, "step \(step)")
            #expect(abs(cycles.multiplier(atStep: step) - b) <= 1e-15, "step \(step)")
        }
    }

    @Test func constantWithWarmup() throws {
        let s = try LearningRateSchedule(kind: .constant, warmupSteps: 4, totalSteps: 0)
        #expect([0, 1, 3, 4, 1000].map { s.multiplier(atStep: $0) } == [0, 0.25, 0.75, 1, 1])
        let none = try LearningRateSchedule(kind: .linear, totalSteps: 4)
        #expect([0, 1, 2, 3, 4].map { none.multiplier(atStep: $0) } == [1, 0.75, 0.5, 0.25, 0])
    }

    @Test func refusesBadSettings() {
        #expect(throws: OptimizerError.invalidSetting("warmup steps (11) exceed total steps (10)")) {
            _ = try LearningRateSchedule(kind: .linear, warmupSteps: 11, totalSteps: 10)
        }
        #expect(throws: OptimizerError.self) { _ = try LearningRateSchedule(kind: .constant, warmupSteps: -1, totalSteps: 1) }
        #expect(throws: OptimizerError.self) { _ = try LearningRateSchedule(kind: .cosine(cycles: 0), totalSteps: 1) }
    }
}
