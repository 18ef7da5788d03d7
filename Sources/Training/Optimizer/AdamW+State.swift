// The optimizer state a checkpoint needs: the step count and both moments of every parameter,
// by name, so a resumed run continues bit for bit.

import Kernels

/// A copy of AdamW's state (torch's `state_dict()["state"]`: `step`, `exp_avg`, `exp_avg_sq`).
public struct AdamWState: Sendable, Equatable {
    /// Steps taken.
    public var step: Int
    /// Parameter names, in the optimizer's order.
    public var names: [String]
    /// `m` per parameter.
    public var expAvg: [[Float]]
    /// `v` per parameter.
    public var expAvgSq: [[Float]]

    public init(step: Int, names: [String], expAvg: [[Float]], expAvgSq: [[Float]]) {
        self.step = step
        self.names = names
        self.expAvg = expAvg
        self.expAvgSq = expAvgSq
    }
}

extension AdamW {
    /// A copy of the current state.
    public func state() -> AdamWState {
        AdamWState(step: stepCount, names: parameters.map(\.name), expAvg: expAvg.map(\.array),
                   expAvgSq: expAvgSq.map(\.array))
    }

    /// Replaces the state with `state`, which must name the same parameters with the same sizes.
    public func restore(_ state: AdamWState) throws {
        guard state.step >= 0 else { throw OptimizerError.stateMismatch("step must be ≥ 0, got \(state.step)") }
        guard state.names == parameters.map(\.name) else {
            throw OptimizerError.stateMismatch("state holds parameters \(state.names.prefix(3))… (\(state.names.count)), optimizer has \(parameters.map(\.name).prefix(3))… (\(parameters.count))")
        }
        guard state.expAvg.count == parameters.count, state.expAvgSq.count == parameters.count else {
            throw OptimizerError.stateMismatch("state has \(state.expAvg.count)/\(state.expAvgSq.count) moment tensors for \(parameters.count) parameters")
        }
        for (index, p) in parameters.enumerated() {
            let count = p.value.count
            guard state.expAvg[index].count == count, state.expAvgSq[index].count == count else {
                throw OptimizerError.stateMismatch("'\(p.name)': state moments have \(state.expAvg[index].count)/\(state.expAvgSq[index].count) values, parameter has \(count)")
            }
        }
        func copy(_ values: [Float], into buffer: FloatBuffer) {
            values.withUnsafeBufferPointer { if let base = $0.baseAddress { buffer.pointer.update(from: base, count: $0.count) } }
        }
        for index in parameters.indices {
            copy(state.expAvg[index], into: expAvg[index])
            copy(state.expAvgSq[index], into: expAvgSq[index])
        }
        stepCount = state.step
    }
}
