import ArgumentParser
import Foundation
import LlamaModel
import ModelIO
import Tokenization
import Training

/// `tessera tokenize`: text → ids, ids → text, or a JSON batch (like llama.cpp's tokenize tool).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text to token ids (or decode ids with --decode).",
        discussion: """
            Text comes from --text or standard input. With --json, standard input is a JSON array of \
            strings and the output a JSON array of id arrays (with --decode: arrays of ids in, strings out).
            With --chat, the input is one chat row ({"messages": [...], "tools": [...]}): it is rendered with \
            the chat template and every token is listed with whether the loss counts it (* = trained); \
            with --json, one object with text, input_ids, labels (-100 = not counted) and trainable.
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Text to encode, or ids to decode (space or comma separated).") var text: String?
    @Flag(help: "Decode token ids to text.") var decode = false
    @Flag(help: "Read a JSON array from standard input and print a JSON array.") var json = false
    @Flag(help: "Put the BOS token in front when the model asks for it.") var addBos = false
    @Flag(help: "The input is a chat row: show the rendered text, its ids and the loss mask training uses.") var chat = false
    @OptionGroup var templateOption: ChatTemplateOption

    func run() throws {
        let tokenizer = try BPETokenizer(ModelPath(modelOption.resolved).tokenizerDefinition())
        if chat {
            try showChat(text ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self), tokenizer)
            return
        }
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

    /// Renders one chat row as training does and shows what the loss counts.
    private func showChat(_ input: String, _ tokenizer: BPETokenizer) throws {
        let line = input.trimmingCharacters(in: .whitespacesAndNewlines)
        let row: DataRow
        do {
            row = try DataRow.parse(Array(line.utf8))
        } catch {
            throw ValidationError("--chat: \(error)")
        }
        guard case .chat(let conversation) = row else { throw ValidationError("--chat expects a row with \"messages\"") }
        guard let template = try templateOption.resolve(for: tokenizer) else {
            throw ValidationError("the model has no chat template; pass --chat-template FILE or a built-in name (chatml, llama3)")
        }
        let text = try template.render(conversation, addGenerationPrompt: false)
        let example: TokenizedExample
        do {
            example = try ExampleEncoder(tokenizer: tokenizer, template: template, maskPrompt: true).encode(row)
        } catch {
            throw ValidationError("--chat: \(error)")
        }
        let trainable = example.labels.map { $0 != TokenizedExample.ignoreIndex }
        if json {
            let object: [String: Any] = ["text": text, "input_ids": example.inputIDs, "labels": example.labels, "trainable": trainable]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])
            Console.print(String(decoding: data, as: UTF8.self))
            return
        }
        Console.print(text)
        Console.print("--- \(example.inputIDs.count) tokens, \(trainable.filter { $0 }.count) trained (*) ---")
        for (id, trained) in zip(example.inputIDs, trainable) {
            let piece = String(decoding: tokenizer.bytes(for: id) ?? [], as: UTF8.self)
            Console.print("\(trained ? "*" : " ") \(String(repeating: " ", count: max(0, 6 - String(id).count)))\(id)  \(piece.debugDescription)")
        }
    }
}
