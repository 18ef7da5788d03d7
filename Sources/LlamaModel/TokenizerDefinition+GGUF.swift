// The tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata.
import ModelFormats
import Tokenization

extension TokenizerDefinition {
    /// Reads the byte-level BPE tokenizer from GGUF metadata. `tokenizer.ggml.model` must be
    /// `gpt2` (byte-level BPE); SentencePiece (`llama`) vocabularies are refused with a clear error.
    public init(gguf: GGUFFile) throws {
        let metadata = gguf.metadata
        func required(_ key: String) throws -> GGUFValue {
            guard let value = metadata[key] else {
                throw LlamaModelError.invalidConfig("\(gguf.path): metadata key \(key) is missing")
            }
            return value
        }
        let model = try required("tokenizer.ggml.model").string ?? ""
        guard model == "gpt2" else {
            throw LlamaModelError.invalidConfig(
                "\(gguf.path): tokenizer.ggml.model is \"\(model)\"; only byte-level BPE (\"gpt2\") tokenizers are supported")
        }
        guard let tokens = try required("tokenizer.ggml.tokens").stringArray else {
            throw LlamaModelError.invalidConfig("\(gguf.path): tokenizer.ggml.tokens is not an array of strings")
        }
        guard let merges = metadata["tokenizer.ggml.merges"]?.stringArray, !merges.isEmpty else {
            throw LlamaModelError.invalidConfig("\(gguf.path): tokenizer has no merges (tokenizer.ggml.merges is missing or empty)")
        }
        let preName = metadata["tokenizer.ggml.pre"]?.string ?? "default"
        self.init(
            tokens: tokens,
            merges: merges,
            tokenTypes: metadata["tokenizer.ggml.token_type"]?.intArray,
            preTokenizer: try PreTokenizer(ggufName: preName),
            bosTokenID: metadata["tokenizer.ggml.bos_token_id"]?.int,
            eosTokenID: metadata["tokenizer.ggml.eos_token_id"]?.int,
            padTokenID: metadata["tokenizer.ggml.padding_token_id"]?.int,
            unknownTokenID: metadata["tokenizer.ggml.unknown_token_id"]?.int,
            addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            chatTemplate: metadata["tokenizer.chat_template"]?.string)
    }
}
