// A model's chat template, rendered by the Jinja engine as transformers' `apply_chat_template`
// renders it, with the loss mask taken from the rendering itself:
//   - a template with `{% generation %}` blocks marks the assistant's text with them;
//   - otherwise each assistant message's text is what the template printed while its loop
//     iteration ran, minus the generation prompt it starts with (the header the model is given at
//     inference) and minus what follows the last special token in it (the newline after the
//     end-of-turn token). The assistant's content, tool calls and end-of-turn token are trained.
import Jinja

/// A piece of rendered chat text, and whether the trainer computes loss on it.
public struct ChatSegment: Sendable, Equatable {
    public var text: String
    /// True for the assistant's turns (content, tool calls and the end-of-turn token).
    public var trainable: Bool

    public init(text: String, trainable: Bool) {
        self.text = text
        self.trainable = trainable
    }
}

public struct ChatTemplate: Sendable {
    /// The Jinja source.
    public let source: String
    /// Where the template came from, for messages (`the model's tokenizer.chat_template`, a file, a name).
    public let origin: String
    let template: JinjaTemplate
    /// `bos_token`, `eos_token`, … and any extra variables (`enable_thinking`).
    public let variables: [String: JinjaValue]
    /// Texts of the tokenizer's special tokens: a turn's trainable text ends after the last one.
    let specialTokens: [String]
    /// What `strftime_now` formats (seconds since 1970); nil: the current time.
    public var now: Double?

    /// Parses a template. `specialTokens` are the texts of the tokenizer's special tokens.
    public init(source: String, origin: String, variables: [String: JinjaValue] = [:], specialTokens: [String] = []) throws(TokenizationError) {
        do {
            template = try JinjaTemplate(source)
        } catch {
            throw TokenizationError.unsupportedChatTemplate("\(origin): \(error)")
        }
        self.source = source
        self.origin = origin
        self.variables = variables
        self.specialTokens = specialTokens.filter { !$0.isEmpty }
    }

    /// The model's own template, with the tokenizer's special tokens as variables.
    public init(tokenizer: BPETokenizer, source: String, origin: String, extraVariables: [String: JinjaValue] = [:]) throws(TokenizationError) {
        var variables: [String: JinjaValue] = [:]
        for (name, id) in [("bos_token", tokenizer.bosTokenID), ("eos_token", tokenizer.eosTokenID),
                           ("pad_token", tokenizer.padTokenID), ("unk_token", tokenizer.unknownTokenID)] {
            if let id, let text = tokenizer.token(for: id) { variables[name] = .string(text) }
        }
        variables.merge(extraVariables) { _, new in new }
        try self.init(source: source, origin: origin, variables: variables, specialTokens: tokenizer.specialTokenTexts)
    }

    /// Built-in templates for models that ship none, by name.
    public static let builtIn: [String: String] = [
        "chatml": "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        "llama3": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
            + "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
            + "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    ]

    /// The conversation as one string, exactly as the template renders it.
    public func render(_ conversation: ChatConversation, addGenerationPrompt: Bool) throws(TokenizationError) -> String {
        try rendering(conversation.messages, tools: conversation.tools, addGenerationPrompt: addGenerationPrompt).text
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws(TokenizationError) -> String {
        try render(ChatConversation(messages: messages), addGenerationPrompt: addGenerationPrompt)
    }

    /// The conversation as consecutive segments whose texts join into `render`'s string; the
    /// assistant's turns are marked trainable.
    public func renderSegments(_ conversation: ChatConversation, addGenerationPrompt: Bool) throws(TokenizationError) -> [ChatSegment] {
        let full = try rendering(conversation.messages, tools: conversation.tools, addGenerationPrompt: addGenerationPrompt)
        let bytes = Array(full.text.utf8)
        let trainable = template.hasGenerationBlocks ? full.generationSpans : try assistantSpans(full, bytes, conversation)
        var segments: [ChatSegment] = []
        var position = 0
        func append(_ range: Range<Int>, _ flag: Bool) {
            guard !range.isEmpty else { return }
            segments.append(ChatSegment(text: String(decoding: bytes[range], as: UTF8.self), trainable: flag))
        }
        for span in trainable.sorted(by: { $0.lowerBound < $1.lowerBound }) where span.lowerBound >= position {
            append(position..<span.lowerBound, false)
            append(span, true)
            position = span.upperBound
        }
        append(position..<bytes.count, false)
        return segments
    }

    public func renderSegments(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws(TokenizationError) -> [ChatSegment] {
        try renderSegments(ChatConversation(messages: messages), addGenerationPrompt: addGenerationPrompt)
    }

    /// Byte ranges of the assistant turns (see the file comment).
    private func assistantSpans(_ full: JinjaRendering, _ bytes: [UInt8], _ conversation: ChatConversation) throws(TokenizationError) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        for (index, message) in conversation.messages.enumerated() where message.role == "assistant" {
            let runs = full.messageSpans.filter { $0.messageIndex == index }
            guard let first = runs.first, let last = runs.last else { continue }
            var start = first.bytes.lowerBound
            var end = last.bytes.upperBound
            let prompt = Array(generationPrompt(before: index, conversation).utf8)
            let region = bytes[start..<end]
            start += zip(region, prompt).prefix { $0 == $1 }.count
            if let special = lastSpecialTokenEnd(in: bytes, start..<end) { end = special }
            if start < end { spans.append(start..<end) }
        }
        return spans
    }

    /// What `add_generation_prompt` adds after the messages before `index`: the header that opens
    /// an assistant turn. Empty when the template has no generation prompt or cannot render the
    /// shorter conversation.
    private func generationPrompt(before index: Int, _ conversation: ChatConversation) -> String {
        let earlier = Array(conversation.messages[..<index])
        guard let with = try? rendering(earlier, tools: conversation.tools, addGenerationPrompt: true).text,
              let without = try? rendering(earlier, tools: conversation.tools, addGenerationPrompt: false).text,
              with.utf8.starts(with: without.utf8) else { return "" }
        return String(decoding: with.utf8.dropFirst(without.utf8.count), as: UTF8.self)
    }

    /// The end of the last special token written in `bytes[range]`, if any.
    private func lastSpecialTokenEnd(in bytes: [UInt8], _ range: Range<Int>) -> Int? {
        var best: Int?
        for token in specialTokens {
            let needle = Array(token.utf8)
            guard needle.count <= range.count else { continue }
            var position = range.upperBound - needle.count
            while position >= range.lowerBound {
                if bytes[position] == needle[0], Array(bytes[position..<position + needle.count]) == needle {
                    best = max(best ?? 0, position + needle.count)
                    break
                }
                position -= 1
            }
        }
        return best
    }

    /// A message as transformers hands it to the template (`_normalize_chat_messages`): keys whose
    /// value is null are dropped, and the reasoning field is offered under each name templates use.
    static func normalized(_ message: JinjaObject) -> JinjaObject {
        var object = message
        for key in object.keys where object[key] == JinjaValue.none { object[key] = nil }
        if let reasoning = object["reasoning_content"], object["thinking"] == nil { object["thinking"] = reasoning }
        if object["reasoning_content"] == nil, let reasoning = object["thinking"] ?? object["reasoning"] { object["reasoning_content"] = reasoning }
        return object
    }

    private func rendering(_ messages: [ChatMessage], tools: [JinjaValue]?, addGenerationPrompt: Bool) throws(TokenizationError) -> JinjaRendering {
        var context = variables
        context["messages"] = .array(messages.enumerated().map { index, message in
            var object = Self.normalized(message.fields)
            object.messageIndex = index
            return .object(object)
        })
        context["tools"] = tools.map { .array($0) } ?? JinjaValue.none
        context["documents"] = JinjaValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        do {
            return try template.render(context, now: now)
        } catch {
            throw TokenizationError.invalidConversation("the chat template (\(origin)) says: \(error)")
        }
    }
}
