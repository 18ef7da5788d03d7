import ArgumentParser
import Collectives
import Foundation

/// `tessera bench collectives`: latency and bandwidth of allReduce, allGather and broadcast.
struct BenchCollectivesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collectives",
        abstract: "Measure allReduce, allGather and broadcast from 1 K to 16 M floats.")

    @Option(help: "Smallest message in floats.") var minFloats = 1 << 10
    @Option(help: "Largest message in floats.") var maxFloats = 1 << 24
    @Option(help: "Write the measurements as JSON to this file ('-' for standard output).") var json: String?

    func validate() throws {
        guard minFloats > 0, maxFloats >= minFloats else {
            throw ValidationError("need 0 < --min-floats <= --max-floats")
        }
    }

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            var sizes: [Int] = []
            var size = minFloats
            while size <= maxFloats { sizes.append(size); size *= 4 }
            let results = try CollectiveBenchmark.run(on: world, sizes: sizes)
            guard world.isRoot else { return }
            let rows = results.map { r -> [String: Any] in
                ["operation": r.operation, "floats": r.floats, "bytes": r.floats * 4,
                 "latency_us": r.seconds * 1e6, "algorithm_GBps": r.algorithmBandwidth / 1e9,
                 "bus_GBps": r.busBandwidth / 1e9]
            }
            let document: [String: Any] = ["ranks": world.size, "mpi_library": MPIEnvironment.libraryVersion, "results": rows]
            if json == "-" {
                Console.print(Console.json(document))
                return
            }
            Console.print("collectives over \(world.size) rank(s); latency is the median, slowest rank")
            Console.print(Console.table(
                header: ["operation", "floats", "bytes", "latency (µs)", "alg GB/s", "bus GB/s"],
                rows: results.map { r in
                    [r.operation, String(r.floats), byteString(r.floats * 4), String(format: "%.1f", r.seconds * 1e6),
                     String(format: "%.2f", r.algorithmBandwidth / 1e9), String(format: "%.2f", r.busBandwidth / 1e9)]
                }))
            if let json {
                try Console.json(document).write(toFile: json, atomically: true, encoding: .utf8)
                Console.print("wrote \(json)")
            }
        }
    }

    private func byteString(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
    }
}
