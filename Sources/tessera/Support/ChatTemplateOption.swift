import ArgumentParser
import Tokenization

/// `--chat-template NAME`: overrides the family recognised from the model's own template.
struct ChatTemplateOption: ParsableArguments {
    @Option(name: .long, help: "Chat template family to use instead of the model's own (chatml, llama3).")
    var chatTemplate: String?

    /// The template to render chats with, or nil when the model has none and none was named.
    /// The model's default system prompt is kept when the override names the same family.
    func resolve(for tokenizer: BPETokenizer) throws -> ChatTemplate? {
        let own = try tokenizer.chatTemplate.map { try ChatTemplate(template: $0) }
        guard let chatTemplate else { return own }
        let named = try ChatTemplate(named: chatTemplate)
        if let own, own.family == named.family { return own }
        return named
    }
}
