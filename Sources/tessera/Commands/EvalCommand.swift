import ArgumentParser
import Foundation
import Kernels
import LlamaModel
import Tokenization
import Training

/// `tessera eval`: mean next-token loss and perplexity of a model on a JSONL file.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean next-token loss and perplexity over a JSONL file.",
        discussion: """
            Rows may be {"text"}, {"messages"} (rendered with the chat template), {"prompt","completion"} \
            or pre-tokenized {"input_ids":[...]} with optional {"labels":[...]} (-100 = not counted). \
            Every predicted token counts unless --mask-prompt is given.
            """)

    @OptionGroup var modelOption: ModelOption
    @OptionGroup var templateOption: ChatTemplateOption
    @OptionGroup var baseQuant: BaseQuantOption
    @Option(help: "JSONL file to evaluate.") var data: String
    @Flag(help: "Count only assistant turns and completions.") var maskPrompt = false
    @Flag(help: "Skip invalid lines (counted) instead of stopping at the first.") var skipInvalid = false
    @Option(help: "Tokens per forward batch (bounds activation memory).") var batchTokens = 4096
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard batchTokens > 0 else { throw ValidationError("--batch-tokens must be positive") }
    }

    func run() throws {
        let start = monotonicSeconds()
        let path = try ModelPath(modelOption.resolved)
        let tokenizer = try BPETokenizer(path.tokenizerDefinition())
        let model = try path.load(baseQuantization: baseQuant.resolved)
        let file = try JSONLFile(path: data, skipInvalid: skipInvalid)
        let encoder = ExampleEncoder(tokenizer: tokenizer, template: try templateOption.resolve(for: tokenizer), maskPrompt: maskPrompt)
        var examples: [TokenizedExample] = []
        for (line, row) in file.rows {
            do {
                let example = try encoder.encode(row)
                guard example.inputIDs.count <= model.maxPositions else {
                    throw DataRowError("the row has \(example.inputIDs.count) tokens; the model takes at most \(model.maxPositions)")
                }
                examples.append(example)
            } catch {
                throw DataError.invalidRow(file: data, line: line, detail: String(describing: error))
            }
        }
        let workspace = LlamaWorkspace(model: model, maxTokens: max(batchTokens, examples.map(\.inputIDs.count).max() ?? 1))
        var lossSum = 0.0, counted = 0, tokens = 0
        var batch: [TokenizedExample] = []
        var batchSize = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            let result = try model.evaluate(sequences: batch.map(\.inputIDs), labels: batch.map(\.labels), workspace: workspace)
            lossSum += result.lossSum
            counted += result.countedTargets
            batch.removeAll(keepingCapacity: true)
            batchSize = 0
        }
        for example in examples {
            if batchSize + example.inputIDs.count > batchTokens { try flush() }
            batch.append(example)
            batchSize += example.inputIDs.count
            tokens += example.inputIDs.count
        }
        try flush()
        guard counted > 0 else { throw ValidationError("\(data): no token is counted (every label is -100)") }
        let loss = lossSum / Double(counted)
        let seconds = monotonicSeconds() - start
        if json {
            Console.print(Console.json([
                "loss": loss, "perplexity": exp(loss), "tokens": counted, "input_tokens": tokens,
                "rows": examples.count, "skipped_rows": file.skipped.count, "seconds": seconds,
            ] as [String: Any]))
        } else {
            for (line, reason) in file.skipped { Console.error("warning: \(data):\(line): skipped: \(reason)") }
            Console.print(String(format: "loss %.6f  perplexity %.4f  over %d predicted tokens (%d rows, %.2f s)",
                                 loss, exp(loss), counted, examples.count, seconds))
        }
    }
}
