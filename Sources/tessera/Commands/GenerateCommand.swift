import ArgumentParser
import Collectives
import Foundation
import LlamaModel
import ModelIO
import LoRA
import Tokenization

/// `tessera generate`: continue a prompt, or answer it as a chat turn with --chat.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt (greedy by default; sampling with --temperature).")

    @OptionGroup var modelOption: ModelOption
    @OptionGroup var templateOption: ChatTemplateOption
    @OptionGroup var baseQuant: BaseQuantOption
    @OptionGroup var computeOption: ComputeOption
    @Option(help: "The prompt text.") var prompt: String?
    @Option(help: "A JSONL file of prompts (strings, or objects with \"prompt\" or \"question\"); prints one JSON line per prompt. Split over the ranks under mpirun.")
    var prompts: String?
    @Option(help: "A PEFT LoRA adapter directory, merged into the base for generation.") var adapter: String?
    @Flag(help: "Render the prompt as a user turn with the chat template and stop at the end of the turn.") var chat = false
    @Option(help: "System message for --chat (default: the template's own, if any).") var system: String?
    @Option(help: "Maximum new tokens.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(help: "Keep only the k most likely tokens.") var topK: Int?
    @Option(help: "Nucleus sampling probability mass.") var topP: Float?
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Option(help: "Divide the logit of every token already in the prompt or the output by P when positive, multiply when negative (transformers' repetition_penalty; 1 is off).")
    var repetitionPenalty: Float = 1
    @Option(help: "End generation when the text contains this string; the output is cut before it. Repeatable.")
    var stop: [String] = []
    @Flag(help: "Print one JSON object with the ids and the text.") var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard (prompt == nil) != (prompts == nil) else { throw ValidationError("give exactly one of --prompt and --prompts") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else { throw ValidationError("--repetition-penalty must be > 0 (1 is off)") }
        guard !stop.contains(where: \.isEmpty) else { throw ValidationError("--stop must not be empty") }
    }

    func run() throws {
        MPISession.run(context: computeOption.context) { environment in
            let world = environment.world
            let (tokenizer, model, inputs) = try world.agreed { () throws -> (BPETokenizer, Llama, [String]) in
                let path = try ModelPath(modelOption.resolved)
                let tokenizer = try BPETokenizer(path.tokenizerDefinition())
                let inputs = try prompts.map(Self.readPrompts) ?? [prompt ?? ""]
                var model = try path.load(maxPositions: 4096, baseQuantization: baseQuant.resolved)
                if let adapter {
                    let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), model: model.config)
                    model = try Llama(config: model.config, weights: lora.merged(into: model.weights), maxPositions: model.maxPositions)
                }
                return (tokenizer, model, inputs)
            }
            let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed,
                                              repetitionPenalty: repetitionPenalty)
            try sampling.validate()
            let generator = try makeGenerator(tokenizer: tokenizer, model: model, sampling: sampling)
            // One prompt as plain text: rank 0 streams it as it is generated.
            if prompts == nil && !json {
                guard world.isRoot else { return }
                _ = try generator.generate(inputs[0]) { Console.write($0) }
                Console.print("")
                return
            }
            // A prompts file is dealt round-robin over the ranks; answers are gathered in order.
            var mine: [String] = []
            for index in inputs.indices where index % world.size == world.rank {
                let output = try generator.generate(inputs[index])
                if prompts == nil {
                    mine.append(Console.json(["prompt_ids": output.promptIDs, "generated_ids": output.generatedIDs,
                                              "text": output.text] as [String: Any]))
                } else {
                    let line = try JSONSerialization.data(withJSONObject: ["prompt": inputs[index], "answer": output.text],
                                                          options: [.sortedKeys])
                    mine.append(String(decoding: line, as: UTF8.self))
                }
                if prompts == nil { break }
            }
            let separator = "\u{1E}"   // record separator: answers may hold newlines
            let all = try world.allGather(string: mine.joined(separator: separator))
            guard world.isRoot else { return }
            var perRank = all.map { $0.isEmpty ? [] : $0.components(separatedBy: separator) }
            for index in inputs.indices {
                let rank = index % world.size
                guard !perRank[rank].isEmpty else { continue }
                Console.print(perRank[rank].removeFirst())
            }
        }
    }

    /// Prompts from a JSONL file: each line a JSON string, or an object with "prompt" or "question".
    static func readPrompts(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the prompts file \(path)")
        }
        var result: [String] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let value = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed])
            if let text = value as? String { result.append(text); continue }
            if let object = value as? [String: Any], let text = (object["prompt"] ?? object["question"]) as? String {
                result.append(text)
                continue
            }
            throw ValidationError("\(path):\(number + 1): expected a JSON string or an object with \"prompt\" or \"question\"")
        }
        return result
    }

    /// The prompt renderer and generator for these options.
    private func makeGenerator(tokenizer: BPETokenizer, model: Llama, sampling: SamplingParameters) throws -> PromptGenerator {
        var template: ChatTemplate?
        if chat {
            guard let resolved = try templateOption.resolve(for: tokenizer) else {
                throw ValidationError("the model has no chat template; pass --chat-template FILE or a built-in name (chatml, llama3)")
            }
            template = resolved
        }
        return PromptGenerator(tokenizer: tokenizer, model: model, template: template, system: system,
                               maxTokens: maxTokens, sampling: sampling, stopStrings: stop)
    }
}
