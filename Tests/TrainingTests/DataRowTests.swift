import Foundation
import Testing
@testable import Training
import Tokenization

@Suite struct DataRowTests {
    private func parse(_ text: String) throws(DataRowError) -> DataRow { try DataRow.parse(Array(text.utf8)) }

    @Test func acceptsEveryRowShape() throws {
        #expect(try parse(#"{"text": "hi"}"#) == .text("hi"))
        #expect(try parse(#"{"prompt": "a", "completion": "b"}"#) == .promptCompletion(prompt: "a", completion: "b"))
        #expect(try parse(#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}"#)
            == .chat(ChatConversation(messages: [ChatMessage(role: "user", content: "q"), ChatMessage(role: "assistant", content: "a")])))
        #expect(try parse(#"{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}"#) == .tokens(inputIDs: [1, 2, 3], labels: [-100, 2, 3]))
        #expect(try parse(#"{"input_ids": [5, 6]}"#) == .tokens(inputIDs: [5, 6], labels: nil))
    }

    @Test(arguments: [
        ("{\"text\": ", "not valid JSON"),
        ("[1, 2]", "not an object"),
        (#"{"other": 1}"#, "no usable field (found: other)"),
        (#"{"text": 3}"#, "\"text\" must be a string"),
        (#"{"prompt": "a"}"#, "must both be strings"),
        (#"{"messages": []}"#, "non-empty array"),
        (#"{"messages": [{"role": "user"}]}"#, "messages[0] needs"),
        (#"{"input_ids": [1, true]}"#, "array of integers"),
        (#"{"input_ids": [1, 2.5]}"#, "array of integers"),
        (#"{"input_ids": [1, 2], "labels": [1]}"#, "has 1 entries"),
    ])
    func rejectsBadRowsWithAReason(_ text: String, _ reason: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: DataRowError.self) { try DataRow.parse([0x7B, 0xFF, 0xFE, 0x7D]) }
    }
}

@Suite struct JSONLFileTests {
    private func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-jsonl-\(UUID().uuidString).jsonl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func readsRowsWithLineNumbersAndSkipsBlankLines() throws {
        let path = try write("{\"text\": \"a\"}\n\n  \r\n{\"text\": \"b\"}\r\n")
        let file = try JSONLFile(path: path)
        #expect(file.rows.map(\.line) == [1, 4])
        #expect(file.rows.map(\.row) == [.text("a"), .text("b")])
    }

    @Test func anInvalidLineNamesFileAndLine() throws {
        let path = try write("{\"text\": \"a\"}\n{broken\n")
        #expect(throws: DataError.invalidRow(file: path, line: 2, detail: "the line is not valid JSON")) {
            try JSONLFile(path: path)
        }
        let lenient = try JSONLFile(path: path, skipInvalid: true)
        #expect(lenient.rows.count == 1 && lenient.skipped.map(\.line) == [2])
    }

    @Test func emptyAndMissingFilesAreErrors() throws {
        let path = try write("\n\n")
        #expect(throws: DataError.empty(file: path)) { try JSONLFile(path: path) }
        #expect(throws: DataError.self) { try JSONLFile(path: "/nonexistent/tessera.jsonl") }
    }
}
