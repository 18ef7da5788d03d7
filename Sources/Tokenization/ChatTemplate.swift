import Foundation

/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// `system`, `user`, `assistant` or `tool`.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A piece of rendered chat text, and whether the trainer computes loss on it.
public struct ChatSegment: Sendable, Equatable {
    public var text: String
    /// True for assistant content and the end-of-turn token that closes it.
    public var trainable: Bool

    public init(text: String, trainable: Bool) {
        self.text = text
        self.trainable = trainable
    }
}

/// Renders conversations the way a model's Jinja chat template does, for the template families
/// Tessera supports, without a Jinja interpreter: the family is recognised from its marker tokens
/// and rendered by hand.
public struct ChatTemplate: Sendable, Equatable {
    /// The supported template families.
    public enum Family: String, Sendable, CaseIterable {
        /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen2).
        case chatml
        /// `<|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (Llama 3).
        case llama3
    }

    public static let roles: Set<String> = ["system", "user", "assistant", "tool"]

    public let family: Family
    /// The system message the template inserts when a conversation does not start with one.
    public let defaultSystemPrompt: String?

    public init(family: Family, defaultSystemPrompt: String? = nil) {
        self.family = family
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// Recognises the family of a Jinja chat template (GGUF `tokenizer.chat_template`,
    /// `tokenizer_config.json` `chat_template`) and reads its default system prompt, if any.
    public init(template: String) throws {
        if template.contains("<|im_start|>") {
            self.init(family: .chatml, defaultSystemPrompt: Self.chatMLDefaultSystemPrompt(in: template))
        } else if template.contains("<|start_header_id|>") {
            self.init(family: .llama3)
        } else {
            throw TokenizationError.unsupportedChatTemplate(
                "the template has neither ChatML (<|im_start|>) nor Llama-3 (<|start_header_id|>) markers; "
                    + "supported families: \(Self.familyNames); choose one by name to override")
        }
    }

    /// Picks a family by name (`chatml`, `llama3`), overriding what a model's template says.
    public init(named name: String, defaultSystemPrompt: String? = nil) throws {
        guard let family = Family(rawValue: name.lowercased()) else {
            throw TokenizationError.unsupportedChatTemplate("'\(name)' is not a template family; supported families: \(Self.familyNames)")
        }
        self.init(family: family, defaultSystemPrompt: defaultSystemPrompt)
    }

    /// The conversation as one string, exactly as the model's template renders it.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try renderSegments(messages, addGenerationPrompt: addGenerationPrompt).map(\.text).joined()
    }

    /// The conversation as consecutive segments whose texts join into `render`'s string; assistant
    /// content and its end-of-turn token are marked trainable, everything else is not.
    public func renderSegments(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [ChatSegment] {
        guard !messages.isEmpty else { throw TokenizationError.invalidConversation("the conversation has no messages") }
        for (index, message) in messages.enumerated() where !Self.roles.contains(message.role) {
            throw TokenizationError.invalidConversation(
                "message \(index) has role '\(message.role)'; expected one of \(Self.roles.sorted().joined(separator: ", "))")
        }
        var conversation = messages
        if let defaultSystemPrompt, messages[0].role != "system" {
            conversation.insert(ChatMessage(role: "system", content: defaultSystemPrompt), at: 0)
        }

        var segments: [ChatSegment] = []
        switch family {
        case .chatml:
            for message in conversation {
                let header = "<|im_start|>\(message.role)\n"
                if message.role == "assistant" {
                    segments.append(ChatSegment(text: header, trainable: false))
                    segments.append(ChatSegment(text: message.content + "<|im_end|>", trainable: true))
                    segments.append(ChatSegment(text: "\n", trainable: false))
                } else {
                    segments.append(ChatSegment(text: header + message.content + "<|im_end|>\n", trainable: false))
                }
            }
            if addGenerationPrompt { segments.append(ChatSegment(text: "<|im_start|>assistant\n", trainable: false)) }
        case .llama3:
            segments.append(ChatSegment(text: "<|begin_of_text|>", trainable: false))
            for message in conversation {
                let header = "<|start_header_id|>\(message.role)<|end_header_id|>\n\n"
                // The Llama-3 template trims every message (`message['content'] | trim`).
                let content = message.content.trimmingCharacters(in: .whitespacesAndNewlines)
                if message.role == "assistant" {
                    segments.append(ChatSegment(text: header, trainable: false))
                    segments.append(ChatSegment(text: content + "<|eot_id|>", trainable: true))
                } else {
                    segments.append(ChatSegment(text: header + content + "<|eot_id|>", trainable: false))
                }
            }
            if addGenerationPrompt {
                segments.append(ChatSegment(text: "<|start_header_id|>assistant<|end_header_id|>\n\n", trainable: false))
            }
        }
        return segments
    }

    private static var familyNames: String { Family.allCases.map(\.rawValue).joined(separator: ", ") }

    /// The literal system message a ChatML template writes when the conversation has none:
    /// the text of a string literal `'<|im_start|>system\n…<|im_end|>'`. Occurrences built from
    /// expressions (`'<|im_start|>system\n' + messages[0]['content']`) are skipped.
    static func chatMLDefaultSystemPrompt(in template: String) -> String? {
        let marker = "<|im_start|>system"
        var searchStart = template.startIndex
        while let found = template.range(of: marker, range: searchStart..<template.endIndex) {
            searchStart = found.upperBound
            var rest = template[found.upperBound...]
            // The newline is written either literally or as the Jinja escape `\n`.
            if rest.hasPrefix("\n") {
                rest = rest.dropFirst()
            } else if rest.hasPrefix("\\n") {
                rest = rest.dropFirst(2)
            } else {
                continue
            }
            guard let end = rest.range(of: "<|im_end|>") else { continue }
            let literal = rest[..<end.lowerBound]
            guard let text = unescapeJinjaLiteral(literal), !text.isEmpty else { continue }
            return text
        }
        return nil
    }

    /// The text of the inside of a Jinja string literal, or nil when it is not a plain literal
    /// (it holds an unescaped quote or a template tag, so it is built from an expression).
    private static func unescapeJinjaLiteral(_ literal: Substring) -> String? {
        var text = ""
        var escaped = false
        for character in literal {
            if escaped {
                switch character {
                case "n": text.append("\n")
                case "t": text.append("\t")
                default: text.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "'" || character == "\"" || character == "{" || character == "}" {
                return nil
            } else {
                text.append(character)
            }
        }
        return escaped ? nil : text
    }
}
