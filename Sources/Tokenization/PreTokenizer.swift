/// The regular expression that cuts text into words before BPE, named as in llama.cpp's
/// `tokenizer.ggml.pre`.
///
/// The patterns are implemented as hand-written scanners over Unicode scalars
/// (`PreTokenizer+GPT2.swift`, `PreTokenizer+Llama3.swift`): a regex engine is far too slow.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM: every `\p{N}` scalar is split off on its own, then the GPT-2 pattern runs on the rest.
    case smollm
    /// Llama-3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen2: the Llama-3 pattern with `\p{N}` (one number scalar per word) instead of `\p{N}{1,3}`.
    case qwen2
    /// GPT-4o / o200k (Phi-4-mini): words are a case run (`[U]*[L]+` or `[U]+[L]*`, U upper-,
    /// title-, modifier-, other-letters and marks, L lower-, modifier-, other-letters and marks)
    /// with an optional leading non-letter and a trailing contraction; `\p{N}{1,3}`; punctuation
    /// runs keep trailing `\r`, `\n` and `/`.
    case gpt4o

    /// The GGUF names accepted by `init(ggufName:)`.
    public static let supportedGGUFNames = ["default", "gpt-2", "gpt2", "smollm", "llama-bpe", "llama3", "qwen2", "gpt-4o"]

    /// Picks the pre-tokenizer for a GGUF `tokenizer.ggml.pre` value.
    public init(ggufName: String) throws {
        switch ggufName {
        case "default", "gpt-2", "gpt2": self = .gpt2
        case "smollm": self = .smollm
        case "llama-bpe", "llama3": self = .llama3
        case "qwen2": self = .qwen2
        case "gpt-4o": self = .gpt4o
        default:
            throw TokenizationError.invalidTokenizer(
                "pre-tokenizer '\(ggufName)' is not supported; supported tokenizer.ggml.pre values: "
                    + Self.supportedGGUFNames.joined(separator: ", "))
        }
    }

    /// Cuts `text` into words, appending each word's UTF-8 byte range (start, end) to `words`.
    func split(_ text: ScalarText, into words: inout [(Int, Int)]) {
        let count = text.scalars.count
        switch self {
        case .gpt2:
            Self.splitGPT2(text, 0, count, into: &words)
        case .llama3:
            Self.splitLlama3(text, 0, count, maxDigits: 3, into: &words)
        case .qwen2:
            Self.splitLlama3(text, 0, count, maxDigits: 1, into: &words)
        case .gpt4o:
            Self.splitGPT4o(text, 0, count, into: &words)
        case .smollm:
            // Number scalars become words of their own; the GPT-2 pattern then sees only the runs
            // between them, so its lookahead stops at a digit exactly as llama.cpp's does.
            var start = 0
            for index in 0..<count where text.flags[index] & ScalarText.number != 0 {
                if start < index { Self.splitGPT2(text, start, index, into: &words) }
                words.append((text.offsets[index], text.offsets[index + 1]))
                start = index + 1
            }
            if start < count { Self.splitGPT2(text, start, count, into: &words) }
        }
    }
}
