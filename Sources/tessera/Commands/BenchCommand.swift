import ArgumentParser

/// `tessera bench ...`: measurements, never pass/fail tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure GEMM throughput and collective latency/bandwidth.",
        subcommands: [BenchGEMMCommand.self, BenchCollectivesCommand.self, BenchTokenizerCommand.self, BenchForwardCommand.self, BenchTrainCommand.self, BenchLinearCommand.self, BenchLoadCommand.self])
}
