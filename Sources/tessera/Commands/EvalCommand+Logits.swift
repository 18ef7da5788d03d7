import Foundation
import LlamaModel
import LoRA
import ModelFormats
import Tokenization
import Training

/// `tessera eval --logits FILE`: the full-vocabulary logits of every input token, written as a
/// float32 NumPy array `[tokens, vocab]` with the rows of the data file in order, so that other
/// runtimes (llama.cpp, mlx-lm, transformers) can be compared position by position rather than
/// through the mean loss only. An adapter is merged into the weights first (in fp32, as
/// `generate --adapter` does), which equals the unmerged product up to float rounding.
extension EvalCommand {
    func writeLogits(to path: String, model: Llama, adapter: LoRAAdapter?, examples: [TokenizedExample]) throws {
        let model = try adapter.map { try Llama(config: model.config, weights: $0.merged(into: model.weights),
                                                maxPositions: model.maxPositions) } ?? model
        let writer = try NumpyArrayWriter(path: path, rows: examples.reduce(0) { $0 + $1.inputIDs.count },
                                          columns: model.config.vocabSize)
        let workspace = LlamaWorkspace(model: model, maxTokens: max(batchTokens, examples.map(\.inputIDs.count).max() ?? 1))
        for batch in batches(examples) {
            try model.forEachLogitChunk(sequences: batch.map(\.inputIDs), workspace: workspace) { _, count, logits in
                try writer.append(rowsOf: logits, count: count)
            }
        }
        try writer.finish()
    }
}
