import ArgumentParser
import Foundation

/// `tessera plot metrics.jsonl -o loss.svg`: the train and eval loss curves and tokens/s of a
/// run as a self-contained SVG (written by hand: no dependencies, opens in any browser).
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw the loss curves and tokens/s of a training run as an SVG.",
        discussion: "Example: tessera plot out/metrics.jsonl -o loss.svg")

    @Argument(help: "metrics.jsonl written by tessera train.") var metrics: String
    @Option(name: [.short, .long], help: "Output SVG file.") var output = "loss.svg"

    func run() throws {
        guard let data = FileManager.default.contents(atPath: metrics) else {
            throw ValidationError("cannot read \(metrics)")
        }
        var train: [(Double, Double)] = [], eval: [(Double, Double)] = [], speed: [(Double, Double)] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let step = (object["step"] as? NSNumber)?.doubleValue else {
                throw ValidationError("\(metrics):\(number + 1): not a metrics line (a JSON object with \"step\")")
            }
            if let loss = (object["loss"] as? NSNumber)?.doubleValue { train.append((step, loss)) }
            if let loss = (object["eval_loss"] as? NSNumber)?.doubleValue { eval.append((step, loss)) }
            if let rate = (object["tokens_per_s"] as? NSNumber)?.doubleValue { speed.append((step, rate)) }
        }
        guard !train.isEmpty else { throw ValidationError("\(metrics) holds no steps") }
        var svg = SVGChart.header(width: 800, height: 620, title: "Training run: \((metrics as NSString).lastPathComponent)")
        svg += SVGChart.panel(top: 50, height: 330, yLabel: "loss",
                              series: [("train loss", "#1f77b4", train, false), ("eval loss", "#d62728", eval, true)])
        svg += SVGChart.panel(top: 440, height: 130, yLabel: "tokens/s", series: [("tokens/s", "#2ca02c", speed, false)])
        svg += "</svg>\n"
        try Data(svg.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        print("wrote \(output): \(train.count) steps, \(eval.count) evaluations")
    }
}

/// Minimal SVG line charts: a shared step axis, "nice" ticks, a legend per panel.
enum SVGChart {
    static let left = 80.0, right = 780.0

    static func header(width: Int, height: Int, title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="24" text-anchor="middle" font-size="16">\(escape(title))</text>

        """
    }

    /// One chart: `series` are (name, colour, points, draw markers).
    static func panel(top: Double, height: Double, yLabel: String,
                      series: [(String, String, [(Double, Double)], Bool)]) -> String {
        let points = series.flatMap(\.2)
        guard !points.isEmpty else { return "" }
        let xs = ticks(points.map(\.0).min() ?? 0, points.map(\.0).max() ?? 1)
        let ys = ticks(points.map(\.1).min() ?? 0, points.map(\.1).max() ?? 1)
        let (x0, x1, y0, y1) = (xs.first ?? 0, xs.last ?? 1, ys.first ?? 0, ys.last ?? 1)
        let bottom = top + height
        func px(_ x: Double) -> Double { left + (x - x0) / max(x1 - x0, 1e-12) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - y0) / max(y1 - y0, 1e-12) * height }
        var s = "<g>\n"
        for y in ys {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, py(y), right, py(y))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>\n", left - 6, py(y) + 4, label(y))
        }
        for x in xs {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", px(x), bottom, px(x), bottom + 5)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", px(x), bottom + 18, label(x))
        }
        s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", left, top, right - left, height)
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">step</text>\n", (left + right) / 2, bottom + 34)
        s += String(format: "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\">%@</text>\n", left - 55, top + height / 2, escape(yLabel))
        for (index, (name, colour, data, markers)) in series.enumerated() where !data.isEmpty {
            let path = data.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            if markers {
                for p in data { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%@\"/>\n", px(p.0), py(p.1), colour) }
            }
            let ly = top + 16 + Double(index) * 16
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"2\"/>\n", right - 130, ly - 4, right - 110, ly - 4, colour)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\">%@</text>\n", right - 104, ly, escape(name))
        }
        return s + "</g>\n"
    }

    /// Tick values at a 1-2-5 spacing covering [low, high] (about five of them).
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        let (low, high) = high > low ? (low, high) : (low - 1, high + 1)
        let raw = (high - low) / 5
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var value = (low / step).rounded(.down) * step
        var result: [Double] = []
        while value <= high + step * 0.5 && result.count < 20 {
            result.append(value)
            if value >= high { break }
            value += step
        }
        return result
    }

    static func label(_ value: Double) -> String {
        if abs(value) >= 1e4 || (abs(value) < 1e-3 && value != 0) { return String(format: "%.1e", value) }
        return value == value.rounded() ? String(format: "%.0f", value) : String(format: "%g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
