import Foundation
import Testing

/// Locations of the files tests read: the repository root, the default model fetched by
/// `scripts/setup.sh`, and the golden reference data committed in
/// `Tests/Fixtures/reference/smollm2` (made by `scripts/reference/make_reference.py`).
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

    /// The SmolLM2 golden reference directory, or `TESSERA_REFERENCE` when set (to hold the code
    /// to a freshly regenerated set, see scripts/reference/regenerate.sh).
    public static var reference: URL {
        if let override = ProcessInfo.processInfo.environment["TESSERA_REFERENCE"] {
            return URL(fileURLWithPath: override)
        }
        return repositoryRoot.appendingPathComponent("Tests/Fixtures/reference/smollm2")
    }

    /// True when the default model is on disk. `scripts/test.sh` sets `TESSERA_REQUIRE_MODEL=1`,
    /// which turns a missing model into a failure instead of a skipped test.
    public static var hasDefaultModel: Bool {
        if FileManager.default.fileExists(atPath: defaultModel.path) { return true }
        return ProcessInfo.processInfo.environment["TESSERA_REQUIRE_MODEL"] == "1"
    }

    /// The reason a model-level test reports when it is skipped.
    public static let needsDefaultModel: Comment = "needs the default model: run scripts/setup.sh"

    /// The reference of a model family's tiny random-weight model (`qwen3-tiny`, made by
    /// `scripts/reference/make_family_reference.py`): its `model/`, `adapter/`, `reference.json`.
    public static func familyReference(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/Fixtures/reference").appendingPathComponent(name)
    }

    /// Parses a JSON file of the reference directory.
    public static func referenceJSON(_ name: String) throws -> Any {
        let data = try Data(contentsOf: reference.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data)
    }
}
