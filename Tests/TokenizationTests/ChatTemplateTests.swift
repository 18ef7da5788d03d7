import Foundation
import Jinja
import TestSupport
import Testing
import Tokenization

@Suite struct ChatTemplateTests {
    static let smolLMTemplate = """
        {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
        You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
        ' }}{% endif %}{{'<|im_start|>' + message['role'] + '
        ' + message['content'] + '<|im_end|>' + '
        '}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
        ' }}{% endif %}
        """

    static let chatMLTokens = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]

    static func chatML(_ source: String = smolLMTemplate) throws -> ChatTemplate {
        try ChatTemplate(source: source, origin: "test", specialTokens: chatMLTokens)
    }

    @Test func theTemplateWritesItsDefaultSystemPrompt() throws {
        let text = try Self.chatML().render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func explicitSystemMessageReplacesTheDefault() throws {
        let text = try Self.chatML().render(
            [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test func segmentsMarkAssistantTurnsThroughTheEndToken() throws {
        let template = try Self.chatML()
        let messages = [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Hello!"),
                        ChatMessage(role: "user", content: "And?"), ChatMessage(role: "assistant", content: "Bye.")]
        let segments = try template.renderSegments(messages, addGenerationPrompt: false)
        #expect(segments.map(\.text).joined() == (try template.render(messages, addGenerationPrompt: false)))
        // The header is the generation prompt (given at inference); the newline after <|im_end|> is not trained.
        #expect(segments.filter(\.trainable).map(\.text) == ["Hello!<|im_end|>", "Bye.<|im_end|>"])
    }

    @Test func generationBlocksMarkTheTrainedText() throws {
        let source = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' }}{% if m.role == 'assistant' %}"
            + "{% generation %}{{ m.content + '<|im_end|>' }}{% endgeneration %}{% else %}{{ m.content + '<|im_end|>' }}{% endif %}"
            + "{{ '\\n' }}{% endfor %}"
        let template = try Self.chatML(source)
        let messages = [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Hello!")]
        #expect(try template.renderSegments(messages, addGenerationPrompt: false).filter(\.trainable).map(\.text) == ["Hello!<|im_end|>"])
    }

    @Test func builtInLlama3TrimsAndWritesBOS() throws {
        let template = try ChatTemplate(source: try #require(ChatTemplate.builtIn["llama3"]), origin: "llama3",
                                        variables: ["bos_token": .string("<|begin_of_text|>")],
                                        specialTokens: ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"])
        let messages = [ChatMessage(role: "user", content: " Hi \n"), ChatMessage(role: "assistant", content: "Hello!")]
        #expect(try template.render(messages, addGenerationPrompt: false)
            == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>")
        #expect(try template.renderSegments(messages, addGenerationPrompt: false).filter(\.trainable).map(\.text) == ["Hello!<|eot_id|>"])
        let prompt = try template.renderSegments(Array(messages.prefix(1)), addGenerationPrompt: true)
        #expect(prompt.last?.text.hasSuffix("<|start_header_id|>assistant<|end_header_id|>\n\n") == true)
        #expect(prompt.filter(\.trainable).isEmpty)
    }

    @Test func errorsSayWhatIsWrong() throws {
        #expect(throws: TokenizationError.self) { try ChatTemplate(source: "{% if %}", origin: "broken") }
        let strict = try ChatTemplate(source: "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}ok",
                                      origin: "strict")
        #expect(throws: TokenizationError.invalidConversation("the chat template (strict) says: Conversations must start with a user turn")) {
            try strict.render([ChatMessage(role: "assistant", content: "x")], addGenerationPrompt: false)
        }
        #expect(throws: TokenizationError.self) { try ChatMessage(json: .object(JinjaObject([("role", .string("robot")), ("content", .string("x"))])), index: 0) }
        #expect(throws: TokenizationError.self) { try ChatMessage(json: .object(JinjaObject([("role", .string("user"))])), index: 0) }
    }
}

/// The reference conversation of `text.json`, rendered with the default model's own template.
@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct ReferenceChatTests {
    @Test func rendersAndEncodesTheReferenceConversation() throws {
        let reference = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let messages = try #require(reference["messages"] as? [[String: String]]).map {
            ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "")
        }
        let tokenizer = try DefaultModelTokenizer.load()
        let templateString = try #require(tokenizer.chatTemplate)
        #expect(templateString == reference["chat_template"] as? String)

        let template = try ChatTemplate(tokenizer: tokenizer, source: templateString, origin: "SmolLM2")
        let text = try template.render(messages, addGenerationPrompt: false)
        #expect(text == reference["text"] as? String)
        let ids = tokenizer.encode(text)
        #expect(ids.count == 91)
        #expect(ids == reference["input_ids"] as? [Int])

        // The segments encode to the same ids in one pass, each id flagged by where it starts.
        let segments = try template.renderSegments(messages, addGenerationPrompt: false)
        let encoded = tokenizer.encode(segments)
        #expect(encoded.ids == ids)
        let trainable = zip(encoded.ids, encoded.trainable).filter(\.1).map(\.0)
        #expect(trainable.last == tokenizer.eosTokenID)
        // "LoRA freezes ... storage.<|im_end|>": ids 46..<90 of the reference.
        #expect(trainable == Array(ids[46..<90]))
    }
}
