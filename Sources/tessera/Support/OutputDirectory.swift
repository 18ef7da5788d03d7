// An output directory is checked before any work: a path that cannot become a directory (an
// existing file on the way, a read-only parent) would otherwise fail only after the model is
// loaded, with a raw Foundation error. The check creates nothing.
import ArgumentParser
import Foundation

enum OutputDirectory {
    /// Throws a `ValidationError` naming the blocking path when `path` is not, and cannot be
    /// created as, a writable directory.
    static func checkWritable(_ path: String, option: String = "--out") throws {
        var candidate = URL(fileURLWithPath: path).standardizedFileURL
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    let what = candidate.path == URL(fileURLWithPath: path).standardizedFileURL.path ? "" : " (\(candidate.path) is a file)"
                    throw ValidationError("cannot use \(path) as the output directory (\(option)): not a directory\(what)")
                }
                guard access(candidate.path, W_OK) == 0 else {
                    throw ValidationError("cannot use \(path) as the output directory (\(option)): \(candidate.path) is not writable")
                }
                return
            }
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path { return }
            candidate = parent
        }
    }
}
