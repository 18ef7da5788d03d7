// Once a stored (mapped) matrix has been converted to NF4 or fp32, its file pages are never read
// again, yet they stay in the process's resident set (the file was read to convert it). Telling
// the kernel they are not needed drops them: ~65 MB for SmolLM2's Q4_1 linears, which would
// otherwise count in every rank's peak memory. Reading them again would simply fault them back
// in from the file, so this is only advice.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FrozenMatrix {
    /// Whether the values are held by the matrix (NF4 or fp32) rather than read from a mapped file.
    package var ownsValues: Bool {
        if case .blocks = storage { return false }
        return true
    }

    /// Drops the resident pages of a mapped matrix's bytes (whole pages inside its range only).
    package func releaseResidentPages() {
        guard case .blocks(_, let bytes, _, _) = storage, let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes.count) / page * page
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, end - start, MADV_DONTNEED)   // advice: a failure changes nothing
    }
}

extension LlamaWeights {
    /// Releases the mapped pages of every linear of `self` that `converted` (built from `self`)
    /// holds in a form of its own.
    func releaseConvertedSources(_ converted: LlamaWeights) {
        for (source, layer) in zip(layers, converted.layers) {
            for (stored, held) in zip(source.linears, layer.linears) where held.ownsValues {
                stored.releaseResidentPages()
            }
        }
    }
}
