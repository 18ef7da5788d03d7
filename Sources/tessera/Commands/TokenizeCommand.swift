import ArgumentParser
import Foundation
import LlamaModel
import ModelIO
import Tokenization

/// `tessera tokenize`: text → ids, ids → text, or a JSON batch (like llama.cpp's tokenize tool).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text to token ids (or decode ids with --decode).",
        discussion: """
            Text comes from --text or standard input. With --json, standard input is a JSON array of \
            strings and the output a JSON array of id arrays (with --decode: arrays of ids in, strings out).
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Text to encode, or ids to decode (space or comma separated).") var text: String?
    @Flag(help: "Decode token ids to text.") var decode = false
    @Flag(help: "Read a JSON array from standard input and print a JSON array.") var json = false
    @Flag(help: "Put the BOS token in front when the model asks for it.") var addBos = false

    func run() throws {
        let tokenizer = try BPETokenizer(ModelPath(modelOption.resolved).tokenizerDefinition())
        if json {
            let input = FileHandle.standardInput.readDataToEndOfFile()
            guard let items = try? JSONSerialization.jsonObject(with: input) as? [Any] else {
                throw ValidationError("--json expects a JSON array on standard input")
            }
            let output: [Any]
            if decode {
                output = try items.enumerated().map { index, item -> Any in
                    guard let ids = item as? [Int] else { throw ValidationError("item \(index) is not an array of integers") }
                    return try tokenizer.decode(ids)
                }
            } else {
                output = try items.enumerated().map { index, item -> Any in
                    guard let text = item as? String else { throw ValidationError("item \(index) is not a string") }
                    return encode(text, tokenizer)
                }
            }
            let data = try JSONSerialization.data(withJSONObject: output, options: [.withoutEscapingSlashes])
            Console.print(String(decoding: data, as: UTF8.self))
            return
        }
        let input = text ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if decode {
            let fields = input.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "[" || $0 == "]" })
            let ids = try fields.map { field -> Int in
                guard let id = Int(field) else { throw ValidationError("'\(field)' is not a token id") }
                return id
            }
            Console.print(try tokenizer.decode(ids))
        } else {
            Console.print(encode(input, tokenizer).map(String.init).joined(separator: " "))
        }
    }

    private func encode(_ text: String, _ tokenizer: BPETokenizer) -> [Int] {
        var ids = tokenizer.encode(text)
        if addBos, tokenizer.addBOS, let bos = tokenizer.bosTokenID { ids.insert(bos, at: 0) }
        return ids
    }
}
