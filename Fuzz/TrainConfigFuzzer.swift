// libFuzzer harness: the train config's Decodable init (scripts/fuzz.sh trainconfig). The YAML
// file goes through the same init via Yams; JSON reaches it without linking Yams here.
import Foundation
import Training

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrainConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? JSONDecoder().decode(TrainConfig.self, from: Data(bytes: data, count: size))
    return 0
}
