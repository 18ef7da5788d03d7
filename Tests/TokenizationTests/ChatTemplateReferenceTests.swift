import Foundation
import Jinja
import TestSupport
import Testing
import Tokenization

/// `Tests/Fixtures/reference/chat-templates`: 15 real chat templates (Qwen2.5, Qwen3, Llama 2,
/// 3.1, 3.2, Mistral v0.2/v0.3/Nemo/Large, Gemma 2 and 3, Phi-3.5, Phi-4-mini, SmolLM2) and two
/// with `{% generation %}` blocks, × 13 conversations (system prompts, several turns, a final
/// user turn, tool calls and results, reasoning), rendered by transformers
/// (`scripts/reference/make_template_reference.py`).
enum ChatTemplateReference {
    static let directory = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/chat-templates")

    struct Case: CustomTestStringConvertible, Sendable {
        var id: String
        var template: String
        var conversation: ChatConversation
        var addGenerationPrompt: Bool
        var variables: [String: JinjaValue]
        var rendered: String?
        var ids: [Int]?
        var digitSplitIDs: [Int]?
        var generationSpans: [Range<Int>]?
        var testDescription: String { id }
    }

    static func json(_ name: String) -> JinjaObject {
        guard let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8),
              case .object(let root)? = try? JinjaValue.parseJSON(text) else { return JinjaObject() }
        return root
    }

    static func integers(_ value: JinjaValue?) -> [Int]? {
        guard case .array(let items)? = value else { return nil }
        return items.compactMap { if case .int(let number) = $0 { number } else { nil } }
    }

    static let cases: [Case] = {
        var conversations: [String: JinjaObject] = [:]
        let text = (try? String(contentsOf: directory.appendingPathComponent("conversations.json"), encoding: .utf8)) ?? "[]"
        if case .array(let list)? = try? JinjaValue.parseJSON(text) {
            for case .object(let object) in list { conversations[object["name"]?.text ?? ""] = object }
        }
        guard case .array(let entries)? = json("cases.json")["cases"] else { return [] }
        return entries.compactMap { entry -> Case? in
            guard case .object(let object) = entry, let row = conversations[object["conversation"]?.text ?? ""],
                  var conversation = try? ChatConversation(json: row) else { return nil }
            // `tools: false`: the conversation's tools were not passed.
            if object["tools"] != .bool(true) { conversation.tools = nil }
            // `drop_none_keys: false`: transformers was bypassed; the engine always normalises as
            // apply_chat_template does, so those 36 cases are left out.
            if object["drop_none_keys"] == .bool(false) { return nil }
            var variables: [String: JinjaValue] = [:]
            if case .object(let kwargs)? = object["kwargs"] { for key in kwargs.keys { variables[key] = kwargs[key] } }
            var spans: [Range<Int>]?
            if case .array(let pairs)? = object["generation_spans_utf8"] {
                spans = pairs.compactMap { pair in integers(pair).flatMap { $0.count == 2 ? $0[0]..<$0[1] : nil } }
            }
            var rendered: String?
            if case .string(let text)? = object["rendered"] { rendered = text }
            return Case(id: object["id"]?.text ?? "", template: object["template"]?.text ?? "", conversation: conversation,
                        addGenerationPrompt: object["add_generation_prompt"] == .bool(true), variables: variables,
                        rendered: rendered, ids: integers(object["ids"]), digitSplitIDs: integers(object["ids_with_digit_split_pretokenizer"]),
                        generationSpans: spans)
        }
    }()

    /// The control tokens of every family's tokenizer: what `BPETokenizer.specialTokenTexts` gives.
    static let specialTokens = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|start_header_id|>",
                                "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<s>", "</s>", "<unk>", "<bos>", "<eos>",
                                "<start_of_turn>", "<end_of_turn>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]

    static func source(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("templates/\(name).jinja"), encoding: .utf8)
    }

    static func template(_ name: String, _ variables: [String: JinjaValue]) throws -> ChatTemplate {
        try ChatTemplate(source: source(name), origin: name, variables: variables, specialTokens: specialTokens)
    }
}

@Suite struct ChatTemplateReferenceTests {
    @Test func theReferenceIsComplete() {
        #expect(ChatTemplateReference.cases.count == 504)
        #expect(ChatTemplateReference.cases.filter { $0.rendered != nil }.count == 384)
        #expect(Set(ChatTemplateReference.cases.map(\.template)).count == 17)
    }

    @Test(arguments: ChatTemplateReference.cases)
    func rendersAsTransformersDoes(_ testCase: ChatTemplateReference.Case) throws {
        let template = try ChatTemplateReference.template(testCase.template, testCase.variables)
        guard let expected = testCase.rendered else {
            #expect(throws: TokenizationError.self) { try template.render(testCase.conversation, addGenerationPrompt: testCase.addGenerationPrompt) }
            return
        }
        #expect(try template.render(testCase.conversation, addGenerationPrompt: testCase.addGenerationPrompt) == expected)
        let segments = try template.renderSegments(testCase.conversation, addGenerationPrompt: testCase.addGenerationPrompt)
        #expect(segments.map(\.text).joined() == expected)
        if let spans = testCase.generationSpans {
            // Templates with generation blocks: exactly the spans transformers' AssistantTracker reports.
            var offset = 0
            var trainable: [Range<Int>] = []
            for segment in segments {
                let count = segment.text.utf8.count
                if segment.trainable { trainable.append(offset..<offset + count) }
                offset += count
            }
            #expect(trainable == spans)
        } else {
            try checkAssistantMask(testCase, segments)
        }
    }

    /// Without generation blocks, each assistant turn is trained from the end of its header to its
    /// end-of-turn token: it holds the message's content and tool calls, ends with a special token
    /// (or the text's end), and no other message's text is in it.
    private func checkAssistantMask(_ testCase: ChatTemplateReference.Case, _ segments: [ChatSegment]) throws {
        let assistants = testCase.conversation.messages.filter { $0.role == "assistant" }
        let trained = segments.filter(\.trainable).map(\.text)
        #expect(trained.count == assistants.count)
        for (text, message) in zip(trained, assistants) {
            let answer = message.content.components(separatedBy: "</think>").last ?? ""
            let core = answer.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(core.isEmpty || text.contains(core), "assistant text \(core.debugDescription) not in \(text.debugDescription)")
            // Templates that print tool calls: the call is in the trained text (SmolLM2's and
            // Phi-3.5's templates drop tool calls altogether).
            if case .array(let calls)? = message.fields["tool_calls"], case .object(let call)? = calls.first,
               case .object(let function)? = call["function"], try ChatTemplateReference.source(testCase.template).contains("tool_call") {
                #expect(text.contains(function["name"]?.text ?? "?"))
            }
            #expect(ChatTemplateReference.specialTokens.contains { text.hasSuffix($0) } || segments.last?.text == text)
            for other in testCase.conversation.messages where other.role == "user" && other.content.count > 8 {
                #expect(!text.contains(other.content.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
    }
}

/// The rendered text encodes to transformers' ids with the model's own tokenizer.
@Suite struct ChatTemplateReferenceIDTests {
    static let mistral = ChatTemplateReference.cases.filter { $0.template.hasPrefix("mistral-7b-instruct-v0.2") && $0.ids != nil }
    static let smolLM2 = ChatTemplateReference.cases.filter {
        ($0.template == "smollm2-135m-instruct" || $0.template == "synthetic-chatml-generation") && $0.ids != nil
    }

    @Test func everyTokenizerHasCases() {
        #expect(Self.mistral.count == 24)
        #expect(Self.smolLM2.count == 52)
    }

    @Test(arguments: mistral)
    func mistralSentencePiece(_ testCase: ChatTemplateReference.Case) throws {
        let tokenizer = try SentencePieceReference.v1.fromJSON.get()
        try check(testCase, tokenizer, expected: try #require(testCase.ids))
    }

    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel), arguments: smolLM2)
    func smolLM2ByteLevel(_ testCase: ChatTemplateReference.Case) throws {
        let tokenizer = try DefaultModelTokenizer.load()
        try check(testCase, tokenizer, expected: try #require(testCase.digitSplitIDs ?? testCase.ids))
    }

    private func check(_ testCase: ChatTemplateReference.Case, _ tokenizer: BPETokenizer, expected: [Int]) throws {
        let template = try ChatTemplate(tokenizer: tokenizer, source: ChatTemplateReference.source(testCase.template),
                                        origin: testCase.template, extraVariables: testCase.variables)
        let segments = try template.renderSegments(testCase.conversation, addGenerationPrompt: testCase.addGenerationPrompt)
        let encoded = tokenizer.encode(segments)
        #expect(encoded.ids == expected)
        // The trained tokens cover every trained segment (a token that straddles a segment's edge
        // is trained, as transformers' assistant mask trains it), and untrained ones cover the rest.
        for flag in [true, false] {
            let decoded = try tokenizer.decode(zip(encoded.ids, encoded.trainable).filter { $0.1 == flag }.map(\.0))
                .replacingOccurrences(of: " ", with: "")
            for segment in segments where segment.trainable == flag {
                let text = segment.text.replacingOccurrences(of: " ", with: "")
                #expect(!flag || decoded.contains(text), "\(text.debugDescription) not covered by the trained tokens")
            }
        }
    }
}
