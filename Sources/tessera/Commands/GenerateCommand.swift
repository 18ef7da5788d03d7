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
    @Flag(help: "Print one JSON object with the ids and the text.") var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard (prompt == nil) != (prompts == nil) else { throw ValidationError("give exactly one of --prompt and --prompts") }
    }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            let (tokenizer, model, inputs) = try MPISession.agreed(world) { () throws -> (BPETokenizer, Llama, [String]) in
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
            let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
            try sampling.validate()
            // A prompts file is dealt round-robin over the ranks; answers are gathered in order.
            var mine: [String] = []
            for index in inputs.indices where index % world.size == world.rank {
                let (ids, generated, text) = try answer(inputs[index], tokenizer: tokenizer, model: model, sampling: sampling)
                if prompts == nil && json {
                    mine.append(Console.json(["prompt_ids": ids, "generated_ids": generated, "text": text] as [String: Any]))
                } else if prompts != nil {
                    let line = try JSONSerialization.data(withJSONObject: ["prompt": inputs[index], "answer": text], options: [.sortedKeys])
                    mine.append(String(decoding: line, as: UTF8.self))
                } else {
                    mine.append(text)
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

    /// Generates the answer to one prompt: (prompt ids, generated ids, visible text).
    private func answer(_ prompt: String, tokenizer: BPETokenizer, model: Llama,
                        sampling: SamplingParameters) throws -> ([Int], [Int], String) {
        var stop = Set<Int>()
        let text: String
        if chat {
            guard let template = try templateOption.resolve(for: tokenizer) else {
                throw ValidationError("the model has no chat template; pass --chat-template chatml|llama3")
            }
            var messages = [ChatMessage(role: "user", content: prompt)]
            if let system { messages.insert(ChatMessage(role: "system", content: system), at: 0) }
            text = try template.render(messages, addGenerationPrompt: true)
            for marker in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"] {
                if let id = tokenizer.id(for: marker) { stop.insert(id) }
            }
        } else {
            text = prompt
        }
        if let eos = tokenizer.eosTokenID { stop.insert(eos) }
        var ids = tokenizer.encode(text)
        if tokenizer.addBOS, let bos = tokenizer.bosTokenID, ids.first != bos { ids.insert(bos, at: 0) }
        let generated = try model.generate(prompt: ids, maxNewTokens: maxTokens, sampling: sampling, stopTokens: stop)
        let visible = generated.last.map { stop.contains($0) } == true ? Array(generated.dropLast()) : generated
        return (ids, generated, try tokenizer.decode(visible))
    }
}
