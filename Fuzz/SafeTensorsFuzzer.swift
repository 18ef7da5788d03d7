// libFuzzer harness: SafeTensorsFile on arbitrary bytes (scripts/fuzz.sh safetensors). The input
// goes through a real file so the mapping, header validation and float conversion all run.
import Foundation
import ModelFormats

private let path = NSTemporaryDirectory() + "tessera-fuzz-\(getpid()).safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    guard let file = try? SafeTensorsFile(path: path) else { return 0 }
    for tensor in file.tensors {
        precondition(tensor.range.upperBound <= size, "tensor outside the file")
        _ = try? file.floats(for: tensor)
    }
    return 0
}
