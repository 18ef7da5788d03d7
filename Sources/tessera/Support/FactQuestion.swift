import ArgumentParser
import Foundation

/// A question with the short strings that make an answer correct, read from a facts JSONL file:
/// `{"question": ..., "answers": [...]}`, or one string under "answer" or "expected" (the demo's
/// examples/support/heldout_questions.jsonl).
struct FactQuestion {
    let question: String
    let answers: [String]

    /// The rule of the original scripts/eval_facts.sh (Python's `expected in answer`): some
    /// expected string occurs in the answer exactly, case and all. Compared as UTF-8 bytes,
    /// which is code-point containment like Python's, not Swift's canonical equivalence.
    func isAnswered(by answer: String) -> Bool {
        let text = Array(answer.utf8)
        return answers.contains { expected in
            let pattern = Array(expected.utf8)
            guard pattern.count <= text.count else { return false }
            guard !pattern.isEmpty else { return true }
            return (0...(text.count - pattern.count)).contains { text[$0..<($0 + pattern.count)].elementsEqual(pattern) }
        }
    }

    /// Every question of a facts file, in order; errors name file:line.
    static func read(_ path: String) throws -> [FactQuestion] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the facts file \(path)")
        }
        var result: [FactQuestion] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let location = "\(path):\(number + 1)"
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw ValidationError("\(location): expected a JSON object with \"question\" and \"answers\"")
            }
            guard let question = object["question"] as? String else {
                throw ValidationError("\(location): \"question\" must be a string")
            }
            let answers: [String]
            if let list = object["answers"] {
                guard let strings = list as? [String], !strings.isEmpty else {
                    throw ValidationError("\(location): \"answers\" must be a non-empty list of strings")
                }
                answers = strings
            } else if let one = (object["answer"] ?? object["expected"]) as? String {
                answers = [one]
            } else {
                throw ValidationError("\(location): give \"answers\" (a list of strings) or \"answer\" (a string)")
            }
            result.append(FactQuestion(question: question, answers: answers))
        }
        guard !result.isEmpty else { throw ValidationError("\(path): no questions") }
        return result
    }
}
