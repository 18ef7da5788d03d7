// libFuzzer harness: PEFT adapter_config.json decoding and validation (scripts/fuzz.sh loraconfig).
// An accepted config must encode and decode back to itself.
import Foundation
import LoRA

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoRAConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let config = try? LoRAConfig(jsonData: Data(bytes: data, count: size)) else { return 0 }
    if let encoded = try? config.jsonData() {
        precondition((try? LoRAConfig(jsonData: encoded)) == config, "adapter_config.json does not round-trip")
    }
    return 0
}
