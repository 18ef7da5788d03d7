// swift-tools-version:6.0
import PackageDescription

// Module graph (docs/architecture.md §2): dependencies point downward only.
let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
    ],
    // Exact versions: every build resolves the same code. Pinned here rather than in a committed
    // Package.resolved, whose revision ids would be those of whichever git host resolved them
    // (a package mirror's ids differ from GitHub's, and a foreign id fails to check out).
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
    ],
    targets: [
        // C interop: system libraries found through pkg-config, no unsafeFlags.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // The process-group protocol (docs/architecture.md §3): no dependencies, so the model
        // (LlamaModel) and MPI (Collectives) both see it without seeing each other.
        .target(name: "ProcessGroups"),
        .target(name: "Collectives", dependencies: ["CMPI", "ProcessGroups"]),
        // Element-wise kernels in C: AVX-512 chosen at run time (Swift targets the SSE2 baseline).
        .target(name: "CKernels"),
        // Signal handler for a graceful stop (an atomic flag); only the executable uses it.
        .target(name: "CSignals"),
        .target(name: "Kernels", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Quantization", dependencies: ["CKernels"]),
        .target(name: "ModelFormats", dependencies: ["Quantization"]),
        // A Jinja engine for the chat templates models ship (no dependencies).
        .target(name: "Jinja"),
        .target(name: "Tokenization", dependencies: ["Jinja"]),
        .target(name: "LlamaModel", dependencies: ["ProcessGroups", "Kernels", "Quantization", "ModelFormats", "Tokenization"]),
        // Model I/O: paths, weight sources, loaders, presets, summaries, HF and GGUF export.
        .target(name: "ModelIO", dependencies: ["ProcessGroups", "Kernels", "Quantization", "ModelFormats", "Jinja", "Tokenization", "LlamaModel"]),
        .target(name: "LoRA", dependencies: ["Kernels", "ModelFormats", "LlamaModel"]),
        .target(name: "Parallelism", dependencies: ["ProcessGroups", "Collectives", "LlamaModel", "LoRA"]),
        .target(name: "Training", dependencies: ["ProcessGroups", "Kernels", "Jinja", "Tokenization", "ModelFormats", "LlamaModel", "ModelIO", "LoRA", "Parallelism"]),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "CSignals", "ProcessGroups", "Collectives", "Kernels", "Quantization", "ModelFormats", "Jinja", "Tokenization", "LlamaModel", "ModelIO", "LoRA", "Parallelism", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Multi-rank checks, launched by scripts/test.sh under mpirun (not by swift test).
        .executableTarget(name: "tessera-mpi-tests", dependencies: ["ProcessGroups", "Collectives", "Kernels", "Parallelism"], path: "Tests/MPITests"),

        .target(name: "TestSupport", dependencies: ["ProcessGroups"], path: "Tests/TestSupport"),
        .testTarget(name: "CollectivesTests", dependencies: ["Collectives", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels", "TestSupport"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "CKernels", "TestSupport"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "Quantization", "TestSupport"]),
        .testTarget(name: "JinjaTests", dependencies: ["Jinja", "TestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "Jinja", "ModelFormats", "LlamaModel", "ModelIO", "TestSupport"]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "ProcessGroups", "LlamaModel", "ModelIO", "ModelFormats", "Kernels", "TestSupport"]),
        .testTarget(name: "ParallelismTests", dependencies: ["Parallelism", "ProcessGroups", "LlamaModel", "ModelIO", "LoRA", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Parallelism", "ProcessGroups", "LoRA", "Jinja", "Tokenization", "LlamaModel", "ModelIO", "ModelFormats", "TestSupport"]),
        .testTarget(name: "LlamaModelTests", dependencies: ["LlamaModel", "ModelIO", "ProcessGroups", "ModelFormats", "Quantization", "Tokenization", "Kernels", "TestSupport"]),
    ]
)
