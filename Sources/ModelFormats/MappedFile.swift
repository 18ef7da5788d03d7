// A read-only memory map of a whole file. Model files are large and read once, randomly:
// mapping them lets tensor data stay on disk until touched and lets readers hand out slices
// without copying.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory; unmapped when the object is released.
///
/// `bytes` stays valid for the lifetime of the object: keep the `MappedFile` (or the reader
/// that owns it) alive while using slices of it.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The file's contents. Empty (with a nil base address) for a zero-length file.
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path` read-only. Throws `ModelFormatsError.io` naming the file when it cannot be
    /// opened, is not a regular file, or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.ioError(path, "cannot open") }
        // The mapping keeps its own reference to the file, so the descriptor can close now.
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.ioError(path, "cannot stat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFormatsError.io(file: path, detail: "not a regular file")
        }
        let size = Int(info.st_size)
        // mmap rejects a length of 0, and an empty file needs no mapping.
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw Self.ioError(path, "cannot map \(size) bytes")
        }
        // Binding the bytes to UInt8 once lets readers view them as typed byte buffers
        // (for string decoding); multi-byte values are still read with unaligned raw loads.
        _ = base.bindMemory(to: UInt8.self, capacity: size)
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    private static func ioError(_ path: String, _ action: String) -> ModelFormatsError {
        let reason = String(cString: strerror(errno))
        return .io(file: path, detail: "\(action): \(reason)")
    }
}
