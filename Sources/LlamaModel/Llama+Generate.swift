// Autoregressive generation with a KV cache: one forward over the prompt, then one token per
// step, each attending to the cached keys/values.

import Kernels

extension Llama {
    /// Generates up to `maxNewTokens` tokens after `prompt`.
    ///
    /// - Parameters:
    ///   - prompt: token ids (the chat template already applied).
    ///   - stopTokens: generation ends after emitting one of these (it is included in the result).
    ///   - onToken: called with each new id as soon as it is chosen (streaming output); return
    ///     false to stop early.
    /// - Returns: the generated ids, without the prompt.
    public func generate(prompt: [Int], maxNewTokens: Int, sampling: SamplingParameters = .greedy,
                         stopTokens: Set<Int> = [], onToken: ((Int) throws -> Bool)? = nil) throws -> [Int] {
        guard !prompt.isEmpty else { throw LlamaModelError.invalidInput("the prompt is empty") }
        guard maxNewTokens >= 0 else { throw LlamaModelError.invalidInput("maxNewTokens must be ≥ 0, got \(maxNewTokens)") }
        try validate(ids: prompt)
        let capacity = prompt.count + maxNewTokens
        guard capacity <= maxPositions else {
            throw LlamaModelError.invalidInput("prompt (\(prompt.count)) + new tokens (\(maxNewTokens)) exceed the model's \(maxPositions) positions")
        }
        if let window = config.unappliedWindow, capacity > window {
            throw LlamaModelError.invalidInput("\(capacity) positions exceed sliding_window \(window), which this family applies only to some layers (not implemented)")
        }
        var sampler = try Sampler(parameters: sampling, vocabSize: config.vocabSize)
        sampler.record(prompt)
        if maxNewTokens == 0 { return [] }
        let cache = KVCache(model: self, capacity: capacity)
        let ws = LlamaWorkspace(model: self, maxTokens: prompt.count, maxKeys: capacity)

        var generated: [Int] = []
        generated.reserveCapacity(maxNewTokens)
        var input = prompt
        while true {
            let n = input.count
            for i in 0..<n { ws.positions[i] = cache.count + i }
            try input.withUnsafeBufferPointer { idp in
                try forwardHidden(ids: idp.baseAddress!, tokens: n, segments: [0..<n], cache: cache, workspace: ws)
            }
            try headLogits(start: n - 1, count: 1, into: ws.logits.pointer, workspace: ws)
            let next = sampler.next(ws.logits.pointer)
            generated.append(next)
            let keepGoing = try onToken?(next) ?? true
            if !keepGoing || stopTokens.contains(next) || generated.count == maxNewTokens { break }
            input = [next]
        }
        return generated
    }
}
