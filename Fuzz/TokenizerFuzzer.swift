// libFuzzer harness: the default model's byte-level BPE tokenizer (scripts/fuzz.sh tokenizer).
// The first byte picks the mode: encode the rest as (possibly invalid) UTF-8 text, decode it as
// little-endian UInt16 token ids (some beyond the vocabulary), or parse it as a tokenizer.json.
// Encoding must round-trip text exactly when every byte of it has a byte token (SmolLM2's
// vocabulary has none for 0x04 and 0x06: those bytes are dropped, as Hugging Face's tokenizer
// drops them).
import Foundation
import Tokenization

private let tokenizer: BPETokenizer = {
    guard let path = ProcessInfo.processInfo.environment["TESSERA_FUZZ_TOKENIZER"],
          let json = FileManager.default.contents(atPath: path) else {
        fatalError("set TESSERA_FUZZ_TOKENIZER to a readable tokenizer.json (scripts/fuzz.sh does)")
    }
    do {
        return try BPETokenizer(try TokenizerDefinition.fromTokenizerJSON(data: json))
    } catch {
        fatalError("\(path): \(error)")
    }
}()

/// Bytes that are a token of their own.
private let byteTokens: Set<UInt8> = {
    var bytes = Set<UInt8>()
    for id in 0..<(1 << 18) {
        if let token = tokenizer.bytes(for: id), token.count == 1 { bytes.insert(token[0]) }
    }
    return bytes
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let payload = UnsafeBufferPointer(start: data + 1, count: size - 1)
    switch data[0] % 3 {
    case 0:
        let text = String(decoding: payload, as: UTF8.self)
        let ids = tokenizer.encode(text, splitSpecialTokens: data[0] & 0x80 != 0)
        if data[0] & 0x80 == 0, text.utf8.allSatisfy(byteTokens.contains), let decoded = try? tokenizer.decode(ids) {
            if decoded != text {
                FileHandle.standardError.write(Data("round trip lost: \(Array(text.unicodeScalars.map(\.value))) -> \(ids) -> \(Array(decoded.unicodeScalars.map(\.value)))\n".utf8))
                preconditionFailure("encode/decode does not round-trip")
            }
        }
    case 1:
        var ids: [Int] = []
        var index = 0
        while index + 1 < payload.count {
            ids.append(Int(payload[index]) | Int(payload[index + 1]) << 8)
            index += 2
        }
        _ = try? tokenizer.decode(ids, skipSpecialTokens: data[0] & 0x80 != 0)
        for id in ids { _ = tokenizer.bytes(for: id) }
    default:
        if let definition = try? TokenizerDefinition.fromTokenizerJSON(data: Data(payload)),
           let parsed = try? BPETokenizer(definition) {
            _ = parsed.encode("Hello, world! 123 <|im_start|>user")
        }
    }
    return 0
}
