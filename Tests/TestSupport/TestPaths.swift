import Foundation

/// Locations of the files tests read: the repository root, the default model fetched by
/// `scripts/setup.sh`, and the golden reference data in `../shared/reference/smollm2`.
public enum TestPaths {
    /// The repository root, found from this file's location (Tests/TestSupport/TestPaths.swift).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The default GGUF model, or `TESSERA_MODEL` when set.
    public static var defaultModel: URL {
        if let override = ProcessInfo.processInfo.environment["TESSERA_MODEL"] {
            return URL(fileURLWithPath: override)
        }
        return repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    /// The SmolLM2 golden reference directory.
    public static var reference: URL {
        if let override = ProcessInfo.processInfo.environment["TESSERA_REFERENCE"] {
            return URL(fileURLWithPath: override)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/smollm2")
    }

    /// True when the default model is on disk. CI sets `TESSERA_REQUIRE_MODEL=1`, which turns a
    /// missing model into a failure instead of a skipped test.
    public static var hasDefaultModel: Bool {
        if FileManager.default.fileExists(atPath: defaultModel.path) { return true }
        return ProcessInfo.processInfo.environment["TESSERA_REQUIRE_MODEL"] == "1"
    }

    /// True when the reference data is present (same rule as `hasDefaultModel`).
    public static var hasReference: Bool {
        if FileManager.default.fileExists(atPath: reference.path) { return true }
        return ProcessInfo.processInfo.environment["TESSERA_REQUIRE_MODEL"] == "1"
    }

    /// Parses a JSON file of the reference directory.
    public static func referenceJSON(_ name: String) throws -> Any {
        let data = try Data(contentsOf: reference.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data)
    }
}
