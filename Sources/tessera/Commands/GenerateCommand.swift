import ArgumentParser
import Foundation
import LlamaModel
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
    @Option(help: "The prompt text.") var prompt: String
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
    }

    func run() throws {
        let path = try ModelPath(modelOption.resolved)
        let tokenizer = try BPETokenizer(path.tokenizerDefinition())
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
        var model = try path.load(maxPositions: ids.count + maxTokens, baseQuantization: baseQuant.resolved)
        if let adapter {
            let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), model: model.config)
            model = try Llama(config: model.config, weights: lora.merged(into: model.weights), maxPositions: model.maxPositions)
        }
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
        try sampling.validate()
        let generated = try model.generate(prompt: ids, maxNewTokens: maxTokens, sampling: sampling, stopTokens: stop)
        let visible = generated.last.map { stop.contains($0) } == true ? Array(generated.dropLast()) : generated
        let output = try tokenizer.decode(visible)
        if json {
            Console.print(Console.json(["prompt_ids": ids, "generated_ids": generated, "text": output] as [String: Any]))
        } else {
            Console.print(output)
        }
    }
}
