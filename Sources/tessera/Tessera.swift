import ArgumentParser

/// The `tessera` command line: thin commands over the library modules.
struct Tessera: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Distributed LoRA/QLoRA fine-tuning of Llama-family models on CPU clusters.",
        discussion: "Run several processes with mpirun, for example: mpirun -np 2 tessera info",
        version: TesseraVersion.string,
        subcommands: [InfoCommand.self, TrainCommand.self, EvalCommand.self, GenerateCommand.self, TokenizeCommand.self, BenchCommand.self, ExportCommand.self, MergeCommand.self, PlanCommand.self, PlotCommand.self]
    )
}

enum TesseraVersion {
    static let string = "0.1.0"
}
