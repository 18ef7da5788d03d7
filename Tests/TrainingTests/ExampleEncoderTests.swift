import Foundation
import Jinja
import ModelIO
import TestSupport
import Testing
import Tokenization
import Training

/// Chat rows become ids and labels as transformers' `apply_chat_template` would tokenize them,
/// with the loss on the assistant's turns only: its answers and its tool calls.
@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct ExampleEncoderTests {
    static let templates = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/chat-templates/templates")

    static let toolRow = #"""
        {"tools": [{"type": "function", "function": {"name": "get_order_status", "description": "Look up an order.", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}],
         "messages": [{"role": "user", "content": "Where is order A-1042?"},
                      {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": "call_1", "function": {"name": "get_order_status", "arguments": {"order_id": "A-1042"}}}]},
                      {"role": "tool", "tool_call_id": "call_1", "name": "get_order_status", "content": "{\"status\": \"shipped\"}"},
                      {"role": "assistant", "content": "It has shipped."}]}
        """#

    private func encoder(template name: String) throws -> (ExampleEncoder, BPETokenizer) {
        let tokenizer = try BPETokenizer(ModelPath(TestPaths.defaultModel.path).tokenizerDefinition())
        let source = try String(contentsOf: Self.templates.appendingPathComponent("\(name).jinja"), encoding: .utf8)
        let template = try ChatTemplate(tokenizer: tokenizer, source: source, origin: name)
        return (ExampleEncoder(tokenizer: tokenizer, template: template, maskPrompt: true), tokenizer)
    }

    @Test func toolCallsAndAnswersAreTrainedToolResultsAreNot() throws {
        let (encoder, tokenizer) = try encoder(template: "qwen2.5-7b-instruct")
        let row = try DataRow.parse(Array(Self.toolRow.replacingOccurrences(of: "\n", with: " ").utf8))
        let example = try encoder.encode(row)
        let trained = try tokenizer.decode(example.labels.filter { $0 != TokenizedExample.ignoreIndex })
        #expect(trained == "<tool_call>\n{\"name\": \"get_order_status\", \"arguments\": {\"order_id\": \"A-1042\"}}\n</tool_call><|im_end|>"
            + "It has shipped.<|im_end|>")
        let all = try tokenizer.decode(example.inputIDs)
        #expect(all.contains("<tool_response>\n{\"status\": \"shipped\"}\n</tool_response>"))
        #expect(all.contains("\"required\": [\"order_id\"]"))   // the schema, printed with key order kept
        // The ids are the whole rendered text encoded in one pass.
        guard case .chat(let conversation) = row else { Issue.record("not a chat row"); return }
        #expect(example.inputIDs == tokenizer.encode(try encoder.template!.render(conversation, addGenerationPrompt: false)))
    }

    @Test func withoutMaskingEveryTokenCounts() throws {
        let (masked, _) = try encoder(template: "smollm2-135m-instruct")
        let unmasked = ExampleEncoder(tokenizer: masked.tokenizer, template: masked.template, maskPrompt: false)
        let row = try DataRow.parse(Array(#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}"#.utf8))
        let example = try unmasked.encode(row)
        #expect(example.labels == example.inputIDs)
        #expect(try masked.encode(row).inputIDs == example.inputIDs)
    }

    @Test func aTemplateRefusalIsARowError() throws {
        let (encoder, _) = try encoder(template: "gemma-3-it")
        // Gemma's template requires user/assistant alternation.
        let row = try DataRow.parse(Array(#"{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#.utf8))
        #expect(throws: DataRowError.self) { try encoder.encode(row) }
    }
}
