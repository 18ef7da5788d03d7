import LlamaModel
import ModelIO
import Tokenization

/// One prompt → generated text, shared by `generate` and `eval --facts` so that both render,
/// stop and decode alike: the prompt as a chat turn (with a template) or as plain text, the
/// end-of-turn tokens and EOS as stop tokens, and stop strings cut from the streamed text.
struct PromptGenerator {
    let tokenizer: BPETokenizer
    let model: Llama
    /// nil: the prompt is continued as plain text.
    let template: ChatTemplate?
    let system: String?
    let maxTokens: Int
    let sampling: SamplingParameters
    let stopStrings: [String]

    struct Output {
        let promptIDs: [Int]
        /// Every id generated, including a final stop token and the tokens that completed a stop string.
        let generatedIDs: [Int]
        /// The visible text: without the stop token, cut before the first stop string.
        let text: String
    }

    /// - Parameter onText: called with each piece of text as soon as it is certain (streaming).
    func generate(_ prompt: String, onText: ((String) -> Void)? = nil) throws -> Output {
        var stopTokens = Set<Int>()
        let rendered: String
        if let template {
            var messages = [ChatMessage(role: "user", content: prompt)]
            if let system { messages.insert(ChatMessage(role: "system", content: system), at: 0) }
            rendered = try template.render(messages, addGenerationPrompt: true)
            for marker in ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "<|end|>"] {
                if let id = tokenizer.id(for: marker) { stopTokens.insert(id) }
            }
        } else {
            rendered = prompt
        }
        if let eos = tokenizer.eosTokenID { stopTokens.insert(eos) }
        var ids = tokenizer.encode(rendered)
        if tokenizer.addBOS, let bos = tokenizer.bosTokenID, ids.first != bos { ids.insert(bos, at: 0) }

        var matcher = try StopStringMatcher(stopStrings)
        var visible: [Int] = []
        var fed = 0             // UTF-8 bytes of the decoded text already given to the matcher
        var text = ""
        func feed(_ decoded: String) {
            let bytes = Array(decoded.utf8)
            guard bytes.count > fed else { return }
            let released = matcher.feed(String(decoding: bytes[fed...], as: UTF8.self))
            fed = bytes.count
            text += released
            if !released.isEmpty { onText?(released) }
        }
        let generated = try model.generate(prompt: ids, maxNewTokens: maxTokens, sampling: sampling,
                                           stopTokens: stopTokens) { id in
            guard !stopTokens.contains(id) else { return true }   // generate ends there itself
            visible.append(id)
            // Decoding the whole text keeps multi-token characters whole; a token that ends inside
            // a UTF-8 character decodes to U+FFFD until the rest arrives, so wait for it.
            let decoded = try tokenizer.decode(visible)
            if !decoded.hasSuffix("\u{FFFD}") { feed(decoded) }
            return !matcher.isStopped
        }
        if !matcher.isStopped { feed(try tokenizer.decode(visible)) }
        let rest = matcher.finish()
        text += rest
        if !rest.isEmpty { onText?(rest) }
        return Output(promptIDs: ids, generatedIDs: generated, text: text)
    }
}
