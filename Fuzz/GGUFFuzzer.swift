// libFuzzer harness: the GGUF header parser on arbitrary bytes (scripts/fuzz.sh gguf).
// Any throw is fine; a trap, an out-of-bounds read or a hang is a bug.
@testable import ModelFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var parser = GGUFParser(bytes: bytes, file: "fuzz.gguf")
    guard let header = try? parser.parse() else { return 0 }
    // Every accepted tensor must lie inside the input: touch its first and last byte.
    var sum: UInt8 = 0
    for tensor in header.tensors where tensor.byteCount > 0 {
        precondition(tensor.offset >= 0 && tensor.offset + tensor.byteCount <= size, "tensor outside the file")
        sum &+= bytes[tensor.offset] &+ bytes[tensor.offset + tensor.byteCount - 1]
    }
    for key in header.metadataKeys { _ = "\(header.metadata[key].map { "\($0)" } ?? "")".utf8.count }
    return CInt(sum & 0)
}
