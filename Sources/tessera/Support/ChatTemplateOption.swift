import ArgumentParser
import Foundation
import Jinja
import Tokenization

/// `--chat-template FILE|NAME` and `--chat-template-var NAME=VALUE`: the template chats are
/// rendered with (the model's own by default) and extra variables it reads.
struct ChatTemplateOption: ParsableArguments {
    @Option(name: .long, help: "Chat template to use instead of the model's own: a Jinja file, or a built-in name (\(ChatTemplate.builtIn.keys.sorted().joined(separator: ", "))).")
    var chatTemplate: String?

    @Option(name: .long, help: ArgumentHelp("A variable the chat template reads, NAME=VALUE; VALUE is JSON (true, 3, \"text\") or else a plain string. Repeatable.", valueName: "name=value"))
    var chatTemplateVar: [String] = []

    /// The template to render chats with, or nil when the model has none and none was named.
    func resolve(for tokenizer: BPETokenizer) throws -> ChatTemplate? {
        var variables: [String: JinjaValue] = [:]
        for assignment in chatTemplateVar {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError("--chat-template-var '\(assignment)': expected NAME=VALUE")
            }
            let value = String(assignment[assignment.index(after: equals)...])
            variables[String(assignment[..<equals])] = (try? JinjaValue.parseJSON(value)) ?? .string(value)
        }
        guard let chatTemplate else {
            return try tokenizer.chatTemplate.map {
                try ChatTemplate(tokenizer: tokenizer, source: $0, origin: "the model's chat template", extraVariables: variables)
            }
        }
        if FileManager.default.fileExists(atPath: chatTemplate) {
            guard let source = try? String(contentsOfFile: chatTemplate, encoding: .utf8) else {
                throw ValidationError("--chat-template \(chatTemplate): cannot read the file as UTF-8 text")
            }
            return try ChatTemplate(tokenizer: tokenizer, source: source, origin: chatTemplate, extraVariables: variables)
        }
        guard let source = ChatTemplate.builtIn[chatTemplate.lowercased()] else {
            throw ValidationError("--chat-template \(chatTemplate): no such file, and not a built-in template (\(ChatTemplate.builtIn.keys.sorted().joined(separator: ", ")))")
        }
        return try ChatTemplate(tokenizer: tokenizer, source: source, origin: "the built-in \(chatTemplate.lowercased()) template", extraVariables: variables)
    }
}
