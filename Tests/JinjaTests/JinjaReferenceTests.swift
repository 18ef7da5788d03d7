import Foundation
import Jinja
import TestSupport
import Testing

/// `Tests/Fixtures/reference/chat-templates/jinja_cases.json`: 135 small templates rendered by
/// jinja2 configured as transformers configures it (made by
/// `scripts/reference/make_template_reference.py`). Each must render to the same text, or fail
/// where jinja2 fails.
enum JinjaReference {
    static let directory = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/chat-templates")

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var template: String
        var context: [String: JinjaValue]
        var rendered: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("jinja_cases.json"), encoding: .utf8),
              case .object(let root)? = try? JinjaValue.parseJSON(text), case .array(let entries)? = root["cases"] else { return [] }
        return entries.compactMap { entry in
            guard case .object(let object) = entry, case .string(let name)? = object["name"],
                  case .string(let template)? = object["template"] else { return nil }
            var context: [String: JinjaValue] = [:]
            if case .object(let values)? = object["context"] { for key in values.keys { context[key] = values[key] } }
            var rendered: String?
            if case .string(let text)? = object["rendered"] { rendered = text }
            return Case(name: name, template: template, context: context, rendered: rendered)
        }
    }()

    /// Python tuples print as `(1, 2)`; the engine has lists only, which print as `[1, 2]`. No
    /// chat template prints a tuple, so this difference is kept, and named here.
    static let tupleReprCases: Set<String> = ["access/dict_methods", "literal/list_dict_tuple"]
}

@Suite struct JinjaReferenceTests {
    @Test func theReferenceIsComplete() {
        #expect(JinjaReference.cases.count == 135)
        #expect(JinjaReference.cases.filter { $0.rendered == nil }.count == 12)
    }

    @Test(arguments: JinjaReference.cases)
    func rendersAsJinja2Does(_ testCase: JinjaReference.Case) throws {
        let result = Result { () throws -> String in try JinjaTemplate(testCase.template).render(testCase.context, now: 0).text }
        guard let expected = testCase.rendered else {
            #expect(throws: JinjaError.self) { try result.get() }
            return
        }
        let text = try result.get()
        if JinjaReference.tupleReprCases.contains(testCase.name) {
            #expect(text != expected)
            #expect(text.replacingOccurrences(of: "[", with: "(").replacingOccurrences(of: "]", with: ")")
                == expected.replacingOccurrences(of: "[", with: "(").replacingOccurrences(of: "]", with: ")"))
        } else {
            #expect(text == expected)
        }
    }

    @Test func spansFollowMessagesAndGenerationBlocks() throws {
        let template = try JinjaTemplate("{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}!")
        let messages = JinjaValue.array([
            .object(JinjaObject([("role", .string("user")), ("content", .string("é"))], messageIndex: 0)),
            .object(JinjaObject([("role", .string("assistant")), ("content", .string("ok"))], messageIndex: 1)),
        ])
        let rendering = try template.render(["messages": messages])
        #expect(rendering.text == "<user>é<assistant>ok!")
        // UTF-8 byte offsets: "<user>é" is 8 bytes.
        #expect(rendering.messageSpans == [.init(messageIndex: 0, bytes: 0..<8), .init(messageIndex: 1, bytes: 8..<21)])
        #expect(rendering.generationSpans == [19..<21])
        #expect(template.hasGenerationBlocks)
    }

    @Test func jsonKeepsKeyOrderAndWritesAsPythonDoes() throws {
        let value = try JinjaValue.parseJSON(#"{"z": 1, "a": [1.5, "é\n", null, true], "m": {}}"#)
        #expect(try value.json() == #"{"z": 1, "a": [1.5, "é\n", null, true], "m": {}}"#)
        #expect(try value.json(indent: 2) == "{\n  \"z\": 1,\n  \"a\": [\n    1.5,\n    \"é\\n\",\n    null,\n    true\n  ],\n  \"m\": {}\n}")
        #expect(throws: JinjaError.self) { try JinjaValue.parseJSON(#"{"a": 1"#) }
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect(throws: JinjaError.syntax("the template ends before 'else' or 'endfor'", line: 2)) { try JinjaTemplate("ok\n{% for x in y %}") }
        #expect(throws: JinjaError.syntax("unknown statement 'include'", line: 1)) { try JinjaTemplate("{% include 'x' %}") }
    }
}
