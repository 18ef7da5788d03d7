import Foundation
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

    @Test func chatMLWithDefaultSystemPromptFromTheTemplate() throws {
        let template = try ChatTemplate(template: Self.smolLMTemplate)
        #expect(template.family == .chatml)
        #expect(template.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let text = try template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func explicitSystemMessageReplacesTheDefault() throws {
        let template = try ChatTemplate(template: Self.smolLMTemplate)
        let text = try template.render(
            [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test func escapedDefaultSystemPromptIsRead() throws {
        // Qwen2.5 style: the newline is the Jinja escape `\n`, and the first occurrence is an expression.
        let template = #"{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}{%- else %}{{- '<|im_start|>system\nYou are Qwen, a helpful assistant.<|im_end|>\n' }}{%- endif %}"#
        #expect(try ChatTemplate(template: template).defaultSystemPrompt == "You are Qwen, a helpful assistant.")
        #expect(try ChatTemplate(template: "{{'<|im_start|>' + message['role'] + '\n'}}").defaultSystemPrompt == nil)
    }

    @Test func segmentsMarkAssistantContentAndEndToken() throws {
        let template = try ChatTemplate(named: "chatml")
        let messages = [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Hello!")]
        let segments = try template.renderSegments(messages, addGenerationPrompt: false)
        #expect(segments.map(\.text).joined() == (try template.render(messages, addGenerationPrompt: false)))
        #expect(segments.filter(\.trainable).map(\.text) == ["Hello!<|im_end|>"])
    }

    @Test func llama3() throws {
        let template = try ChatTemplate(template: "{{ bos_token }}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}")
        #expect(template.family == .llama3)
        let messages = [ChatMessage(role: "user", content: " Hi \n"), ChatMessage(role: "assistant", content: "Hello!")]
        #expect(try template.render(messages, addGenerationPrompt: false)
            == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>")
        let segments = try template.renderSegments(Array(messages.prefix(1)), addGenerationPrompt: true)
        #expect(segments.last == ChatSegment(text: "<|start_header_id|>assistant<|end_header_id|>\n\n", trainable: false))
        #expect(segments.filter(\.trainable).isEmpty)
    }

    @Test func unsupportedTemplatesAndConversations() throws {
        #expect(throws: TokenizationError.self) { try ChatTemplate(template: "[INST] {{ message['content'] }} [/INST]") }
        #expect(throws: TokenizationError.unsupportedChatTemplate("'mistral' is not a template family; supported families: chatml, llama3")) {
            try ChatTemplate(named: "mistral")
        }
        let template = try ChatTemplate(named: "chatml")
        #expect(throws: TokenizationError.invalidConversation("the conversation has no messages")) {
            try template.render([], addGenerationPrompt: true)
        }
        #expect(throws: TokenizationError.self) { try template.render([ChatMessage(role: "robot", content: "x")], addGenerationPrompt: false) }
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

        let template = try ChatTemplate(template: templateString)
        let text = try template.render(messages, addGenerationPrompt: false)
        #expect(text == reference["text"] as? String)
        let ids = tokenizer.encode(text)
        #expect(ids.count == 91)
        #expect(ids == reference["input_ids"] as? [Int])

        // Encoding segment by segment gives the same ids, so loss masks line up with them.
        let segments = try template.renderSegments(messages, addGenerationPrompt: false)
        #expect(segments.flatMap { tokenizer.encode($0.text) } == ids)
        let trainable = segments.filter(\.trainable).flatMap { tokenizer.encode($0.text) }
        #expect(trainable.last == tokenizer.eosTokenID)
        // "LoRA freezes ... storage.<|im_end|>": ids 46..<90 of the reference.
        #expect(trainable == Array(ids[46..<90]))
    }
}
