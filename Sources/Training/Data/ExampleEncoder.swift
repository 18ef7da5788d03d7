// Turning data rows into token ids and labels. Labels follow the Hugging Face convention: one
// label per input position, the loss at position i predicts labels[i + 1], and -100 marks a
// token that is not counted (prompt tokens when masking, or as a pre-tokenized row says).
import Tokenization

/// Token ids of one example and the labels the loss is computed on.
public struct TokenizedExample: Sendable, Equatable {
    /// `[T]` token ids.
    public var inputIDs: [Int]
    /// `[T]` targets, -100 where the token is not counted.
    public var labels: [Int]

    public init(inputIDs: [Int], labels: [Int]) {
        self.inputIDs = inputIDs
        self.labels = labels
    }

    /// Number of tokens that contribute to the loss (each label after the first position).
    public var countedTargets: Int { labels.dropFirst().filter { $0 != TokenizedExample.ignoreIndex }.count }

    /// The label value that is not counted.
    public static let ignoreIndex = -100
}

/// Encodes rows with a tokenizer and, for chat rows, a chat template.
public struct ExampleEncoder: Sendable {
    public let tokenizer: BPETokenizer
    public let template: ChatTemplate?
    /// Count only assistant turns (chat) and completions (prompt/completion) in the loss.
    public let maskPrompt: Bool

    public init(tokenizer: BPETokenizer, template: ChatTemplate?, maskPrompt: Bool) {
        self.tokenizer = tokenizer
        self.template = template
        self.maskPrompt = maskPrompt
    }

    /// Encodes one row; errors say what is wrong (the caller adds file:line).
    public func encode(_ row: DataRow) throws(DataRowError) -> TokenizedExample {
        var ids: [Int] = []
        var trainable: [Bool] = []
        func append(_ text: String, counted: Bool) {
            let piece = tokenizer.encode(text)
            ids += piece
            trainable += Array(repeating: counted, count: piece.count)
        }
        if tokenizer.addBOS, let bos = tokenizer.bosTokenID {
            ids.append(bos)
            trainable.append(false)
        }
        switch row {
        case .chat(let conversation):
            guard let template else {
                throw DataRowError("a chat row needs a chat template, and the model has none; pass --chat-template FILE or a built-in name (chatml, llama3)")
            }
            let segments: [ChatSegment]
            do {
                segments = try template.renderSegments(conversation, addGenerationPrompt: false)
            } catch {
                throw DataRowError(error.description)
            }
            // As transformers' apply_chat_template: the template writes any BOS itself, and the
            // rendered text is encoded in one pass with its special tokens split off.
            let encoded = tokenizer.encode(segments)
            ids = encoded.ids
            trainable = encoded.trainable.map { $0 || !maskPrompt }
        case .promptCompletion(let prompt, let completion):
            append(prompt, counted: !maskPrompt)
            append(completion, counted: true)
            if let eos = tokenizer.eosTokenID {
                ids.append(eos)
                trainable.append(true)
            }
        case .text(let text):
            append(text, counted: true)
        case .tokens(let inputIDs, let labels):
            for id in inputIDs where id < 0 || id >= tokenizer.vocabularySize {
                throw DataRowError("input_ids contains \(id), outside the vocabulary (size \(tokenizer.vocabularySize))")
            }
            for label in labels ?? [] where label != TokenizedExample.ignoreIndex && (label < 0 || label >= tokenizer.vocabularySize) {
                throw DataRowError("labels contains \(label), outside the vocabulary (size \(tokenizer.vocabularySize)) and not -100")
            }
            return TokenizedExample(inputIDs: inputIDs, labels: labels ?? inputIDs)
        }
        guard ids.count >= 2 else {
            throw DataRowError("the row encodes to \(ids.count) token(s); at least 2 are needed to predict anything")
        }
        let labels = zip(ids, trainable).map { $1 ? $0 : TokenizedExample.ignoreIndex }
        return TokenizedExample(inputIDs: ids, labels: labels)
    }
}
