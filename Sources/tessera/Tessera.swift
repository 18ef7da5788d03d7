import ArgumentParser

@main
struct Tessera: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Distributed LoRA/QLoRA fine-tuning of Llama-family models on CPU clusters.",
        version: TesseraVersion.string
    )
}

enum TesseraVersion {
    static let string = "0.1.0"
}
