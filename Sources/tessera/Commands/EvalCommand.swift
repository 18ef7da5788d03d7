import ArgumentParser
import Collectives
import Foundation
import Kernels
import LlamaModel
import ModelIO
import LoRA
import ProcessGroups
import Tokenization
import Training

/// `tessera eval`: mean next-token loss and perplexity of a model (optionally with a LoRA
/// adapter) on a JSONL file; rows are split over the ranks of an mpirun job.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean next-token loss and perplexity over a JSONL file, or held-out facts answered (--facts).",
        discussion: """
            Rows may be {"text"}, {"messages"} (rendered with the chat template), {"prompt","completion"} \
            or pre-tokenized {"input_ids":[...]} with optional {"labels":[...]} (-100 = not counted). \
            Every predicted token counts unless --mask-prompt is given. Under mpirun the rows are \
            split over the ranks. --logits FILE.npy also writes every input token's full-vocabulary \
            logits (numpy.load reads them; an adapter is merged into the weights for it).

            With --facts FILE (JSONL of {"question", "answers": [...]} or {"question", "answer"}) it \
            generates a greedy chat answer to each question (--max-tokens, --system, --adapter merged) \
            and counts the questions whose answer contains one of the expected strings exactly \
            (case-sensitive); --json adds every question's answer.
            """)

    @OptionGroup var modelOption: ModelOption
    @OptionGroup var templateOption: ChatTemplateOption
    @OptionGroup var baseQuant: BaseQuantOption
    @OptionGroup var computeOption: ComputeOption
    @Option(help: "JSONL file to evaluate.") var data: String?
    @Option(help: "JSONL file of questions with expected answers: report how many greedy chat answers contain one.")
    var facts: String?
    @Option(help: "With --facts: system message (default: the template's own, if any).") var system: String?
    @Option(help: "With --facts: maximum new tokens per answer.") var maxTokens = 48
    @Option(help: "A PEFT LoRA adapter directory to apply.") var adapter: String?
    @Flag(help: "With --adapter: also report the L2 norm of every LoRA tensor's gradient of the mean loss.") var gradNorms = false
    @Flag(help: "Count only assistant turns and completions.") var maskPrompt = false
    @Flag(help: "Skip invalid lines (counted) instead of stopping at the first.") var skipInvalid = false
    @Option(help: "Tokens per forward batch (bounds activation memory).") var batchTokens = 4096
    @Option(help: ArgumentHelp("Also write every input token's logits to this NumPy file (float32 [tokens, vocab], rows in file order; one process).",
                               valueName: "file.npy"))
    var logits: String?
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard batchTokens > 0 else { throw ValidationError("--batch-tokens must be positive") }
        guard (data == nil) != (facts == nil) else { throw ValidationError("give exactly one of --data and --facts") }
        if facts != nil && (gradNorms || maskPrompt || skipInvalid) {
            throw ValidationError("--grad-norms, --mask-prompt and --skip-invalid go with --data, not --facts")
        }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        if gradNorms && adapter == nil { throw ValidationError("--grad-norms needs --adapter") }
        if logits != nil && facts != nil { throw ValidationError("--logits goes with --data, not --facts") }
    }

    struct Prepared {
        let model: Llama
        let examples: [TokenizedExample]
        let adapter: LoRAAdapter?
        let skipped: [(line: Int, reason: String)]
    }

    func run() throws {
        if let facts { runFacts(facts) }
        let data = self.data ?? ""
        MPISession.run(context: computeOption.context) { environment in
            let world = environment.world
            let start = monotonicSeconds()
            try checkRanksAgree(world)
            // Every rank knows the world size, so all refuse together.
            if logits != nil, world.size > 1 { throw AgreedFailure(message: "--logits writes from one process; run eval without mpirun") }
            let prepared = try world.agreed { try prepare() }
            let examples = prepared.examples
            let totalCounted = examples.reduce(0) { $0 + $1.countedTargets }
            guard totalCounted > 0 else { throw AgreedFailure(message: "\(data): no token is counted (every label is -100)") }
            // Rows are dealt round-robin to the ranks; sums are combined at the end.
            let mine = examples.indices.filter { $0 % world.size == world.rank }.map { examples[$0] }
            var lossSum = 0.0
            if let adapter = prepared.adapter {
                lossSum = try evaluateWithAdapter(prepared.model, adapter, mine, lossScale: Float(1) / Float(totalCounted))
            } else {
                lossSum = try evaluateBase(prepared.model, mine)
            }
            lossSum = try world.allReduce([lossSum], .sum)[0]
            if let logits {
                try writeLogits(to: logits, model: prepared.model, adapter: prepared.adapter, examples: examples)
            }
            var norms: [(String, Double)] = []
            if gradNorms, let adapter = prepared.adapter {
                // Each buffer once (a fused module's parts share their A), then PEFT's tensors.
                for tensor in adapter.tensors { try world.allReduce(tensor.gradient.buffer, .sum) }
                for tensor in adapter.peftTensors(gradients: true) {
                    norms.append((tensor.name, tensor.values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()))
                }
            }
            guard world.isRoot else { return }
            let loss = lossSum / Double(totalCounted)
            let seconds = monotonicSeconds() - start
            let inputTokens = examples.reduce(0) { $0 + $1.inputIDs.count }
            if json {
                var object: [String: Any] = [
                    "loss": loss, "perplexity": exp(loss), "tokens": totalCounted, "input_tokens": inputTokens,
                    "rows": examples.count, "skipped_rows": prepared.skipped.count, "seconds": seconds, "ranks": world.size,
                    "compute": computeOption.compute.rawValue,
                ]
                if gradNorms {
                    object["grad_norms"] = Dictionary(uniqueKeysWithValues: norms)
                    object["grad_total_norm"] = norms.reduce(0.0) { $0 + $1.1 * $1.1 }.squareRoot()
                }
                Console.print(Console.json(object))
            } else {
                for (line, reason) in prepared.skipped { Console.error("warning: \(data):\(line): skipped: \(reason)") }
                Console.print(String(format: "loss %.6f  perplexity %.4f  over %d predicted tokens (%d rows, %d rank(s), %.2f s)",
                                     loss, exp(loss), totalCounted, examples.count, world.size, seconds))
                if gradNorms {
                    Console.print(String(format: "gradient L2 norm of the mean loss: %.6f over %d tensors",
                                         norms.reduce(0.0) { $0 + $1.1 * $1.1 }.squareRoot(), norms.count))
                }
            }
        }
    }

    private func prepare() throws -> Prepared {
        let data = self.data ?? ""
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
        let loaded = try adapter.map { try LoRAAdapter.load(from: URL(fileURLWithPath: $0), model: model.config) }
        return Prepared(model: model, examples: examples, adapter: loaded, skipped: file.skipped)
    }

    /// Batches of whole rows up to `batchTokens` tokens.
    func batches(_ examples: [TokenizedExample]) -> [[TokenizedExample]] {
        var result: [[TokenizedExample]] = []
        var batch: [TokenizedExample] = []
        var size = 0
        for example in examples {
            if size + example.inputIDs.count > batchTokens, !batch.isEmpty {
                result.append(batch)
                batch = []
                size = 0
            }
            batch.append(example)
            size += example.inputIDs.count
        }
        if !batch.isEmpty { result.append(batch) }
        return result
    }

    /// Loss sum of the base model (the inference forward).
    private func evaluateBase(_ model: Llama, _ examples: [TokenizedExample]) throws -> Double {
        guard !examples.isEmpty else { return 0 }
        let workspace = LlamaWorkspace(model: model, maxTokens: max(batchTokens, examples.map(\.inputIDs.count).max() ?? 1))
        var lossSum = 0.0
        for batch in batches(examples) {
            lossSum += try model.evaluate(sequences: batch.map(\.inputIDs), labels: batch.map(\.labels), workspace: workspace).lossSum
        }
        return lossSum
    }

    /// Loss sum with the adapter (the training path; with --grad-norms also its backward,
    /// accumulating d(mean loss)/dθ into the adapter's gradients).
    private func evaluateWithAdapter(_ model: Llama, _ adapter: LoRAAdapter, _ examples: [TokenizedExample],
                                     lossScale: Float) throws -> Double {
        adapter.zeroGradients()
        guard !examples.isEmpty else { return 0 }
        let shard = LlamaShard.whole(model.config)
        let group = SingleRankGroup()
        let workspace = TrainingWorkspace(model: model, shard: shard,
                                          maxTokens: max(batchTokens, examples.map(\.inputIDs.count).max() ?? 1),
                                          maxLoRARank: adapter.rank)
        var lossSum = 0.0
        for batch in batches(examples) {
            var ids: [Int] = [], labels: [Int] = [], segments: [Range<Int>] = []
            for example in batch {
                segments.append(ids.count..<(ids.count + example.inputIDs.count))
                ids += example.inputIDs
                labels += example.labels
            }
            let result = gradNorms
                ? try model.trainStep(ids: ids, labels: labels, segments: segments, shard: shard, group: group,
                                      adapters: adapter, lossScale: lossScale, workspace: workspace)
                : try model.evaluateLoss(ids: ids, labels: labels, segments: segments, shard: shard, group: group,
                                         adapters: adapter, workspace: workspace)
            lossSum += result.lossSum
        }
        return lossSum
    }
}
