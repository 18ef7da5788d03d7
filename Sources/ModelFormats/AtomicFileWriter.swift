// Writes a file so that readers see either the old file or the complete new one, never a
// partial write: data goes to a temporary file in the same directory, is fsync'ed, and is
// renamed over the destination.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file being written atomically. Call `commit()` to publish it; otherwise the temporary
/// file is removed when the writer is released.
final class AtomicFileWriter {
    let path: String
    private let tempPath: String
    private var fd: Int32
    private var committed = false

    init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        tempPath = "\(directory).\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.ioError(path, "cannot create temporary file \(tempPath)") }
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unlink(tempPath)
        }
    }

    /// Appends `bytes`, retrying short writes and interrupted calls.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var pointer = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = write(fd, pointer, left)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.ioError(path, "write failed")
            }
            pointer += written
            left -= written
        }
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Appends `count` zero bytes (alignment padding).
    func appendZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try append([UInt8](repeating: 0, count: count))
    }

    /// Flushes the data to disk and renames the temporary file over `path`.
    func commit() throws {
        guard fsync(fd) == 0 else { throw Self.ioError(path, "fsync failed") }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw Self.ioError(path, "close failed") }
        guard rename(tempPath, path) == 0 else { throw Self.ioError(path, "cannot rename \(tempPath) into place") }
        committed = true
    }

    private static func ioError(_ path: String, _ action: String) -> ModelFormatsError {
        .io(file: path, detail: "\(action): \(String(cString: strerror(errno)))")
    }
}
