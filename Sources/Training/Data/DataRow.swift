// One row of a JSONL data file, in any of the accepted shapes:
//   {"messages": [{"role": "user", "content": "..."}, ...]}   chat, rendered with the model's template
//   {"messages": [...], "tools": [...]}                       chat with tool calls (tool_calls, role "tool")
//   {"prompt": "...", "completion": "..."}                    prompt/completion pair
//   {"text": "..."}                                           plain text
//   {"input_ids": [..], "labels": [..]}                       pre-tokenized; labels optional, -100 = not counted
import Foundation
import Jinja
import Tokenization

/// A parsed data row, before tokenization.
public enum DataRow: Sendable, Equatable {
    case chat(ChatConversation)
    case promptCompletion(prompt: String, completion: String)
    case text(String)
    case tokens(inputIDs: [Int], labels: [Int]?)

    /// Parses one JSONL line. Errors say what is wrong with the row (the caller adds file:line).
    public static func parse(_ line: some Collection<UInt8>) throws(DataRowError) -> DataRow {
        guard let text = String(validating: line, as: UTF8.self) else {
            throw DataRowError("the line is not valid UTF-8")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw DataRowError("the line is not valid JSON")
        }
        guard let row = object as? [String: Any] else {
            throw DataRowError("the line is JSON but not an object; expected {\"messages\"}, {\"prompt\", \"completion\"}, {\"text\"} or {\"input_ids\"}")
        }
        if row["messages"] != nil {
            // Read again keeping key order: tool schemas and arguments are printed as written.
            guard case .object(let ordered) = try? JinjaValue.parseJSON(text) else {
                throw DataRowError("the line is not valid JSON")
            }
            do {
                return .chat(try ChatConversation(json: ordered))
            } catch {
                throw DataRowError(error.description.replacingOccurrences(of: "invalid conversation: ", with: ""))
            }
        }
        if row["prompt"] != nil || row["completion"] != nil {
            guard let prompt = row["prompt"] as? String, let completion = row["completion"] as? String else {
                throw DataRowError("\"prompt\" and \"completion\" must both be strings")
            }
            return .promptCompletion(prompt: prompt, completion: completion)
        }
        if let value = row["text"] {
            guard let text = value as? String else { throw DataRowError("\"text\" must be a string") }
            return .text(text)
        }
        if let value = row["input_ids"] {
            let ids = try integers(value, field: "input_ids")
            guard !ids.isEmpty else { throw DataRowError("\"input_ids\" is empty") }
            var labels: [Int]?
            if let labelValue = row["labels"] {
                let parsed = try integers(labelValue, field: "labels")
                guard parsed.count == ids.count else {
                    throw DataRowError("\"labels\" has \(parsed.count) entries but \"input_ids\" has \(ids.count)")
                }
                labels = parsed
            }
            return .tokens(inputIDs: ids, labels: labels)
        }
        let keys = row.keys.sorted().joined(separator: ", ")
        throw DataRowError("no usable field (found: \(keys.isEmpty ? "none" : keys)); expected \"messages\", \"prompt\"+\"completion\", \"text\" or \"input_ids\"")
    }

    private static func integers(_ value: Any, field: String) throws(DataRowError) -> [Int] {
        guard let list = value as? [Any] else { throw DataRowError("\"\(field)\" must be an array of integers") }
        var result: [Int] = []
        result.reserveCapacity(list.count)
        for item in list {
            // JSONSerialization gives NSNumber; booleans have objCType "c". Reject them and fractions.
            guard let number = item as? NSNumber, String(cString: number.objCType) != "c",
                  let exact = Int(exactly: number.doubleValue) else {
                throw DataRowError("\"\(field)\" must be an array of integers")
            }
            result.append(exact)
        }
        return result
    }
}

/// Why a row was rejected.
public struct DataRowError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
