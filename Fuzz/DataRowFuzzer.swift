// libFuzzer harness: one JSONL training row (scripts/fuzz.sh datarow).
import Training

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDataRow(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? DataRow.parse(UnsafeBufferPointer(start: data, count: size))
    return 0
}
