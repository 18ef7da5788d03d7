// A Jinja template, parsed once and rendered many times. The engine covers the Jinja2 that model
// chat templates are written in, configured as transformers renders them (trim_blocks,
// lstrip_blocks, loop controls, `tojson` without HTML escaping, `raise_exception`,
// `strftime_now`, `{% generation %}`).

/// What a rendering printed, and which parts of it came from where.
public struct JinjaRendering: Sendable, Equatable {
    /// A run of output printed while a loop variable was bound to one conversation message
    /// (an object passed in with a `messageIndex`). UTF-8 byte offsets into `text`.
    public struct MessageSpan: Sendable, Equatable {
        public var messageIndex: Int
        public var bytes: Range<Int>

        public init(messageIndex: Int, bytes: Range<Int>) {
            self.messageIndex = messageIndex
            self.bytes = bytes
        }
    }

    public var text: String
    public var messageSpans: [MessageSpan]
    /// What `{% generation %}` blocks printed, as UTF-8 byte ranges of `text`.
    public var generationSpans: [Range<Int>]
}

public struct JinjaTemplate: Sendable {
    let nodes: [JinjaNode]

    /// Parses a template; a syntax error names its line.
    public init(_ source: String) throws(JinjaError) {
        var lexer = JinjaLexer(source)
        var parser = JinjaParser(try lexer.pieces())
        nodes = try parser.parse()
    }

    /// True when the template marks the assistant's text with `{% generation %}` blocks.
    public var hasGenerationBlocks: Bool { Self.containsGeneration(nodes) }

    /// Renders with the given variables (`messages`, `tools`, `add_generation_prompt`,
    /// `bos_token`, …); `now` is what `strftime_now` formats.
    public func render(_ context: [String: JinjaValue], now: Double? = nil) throws(JinjaError) -> JinjaRendering {
        let interpreter = JinjaInterpreter(globals: context, now: now)
        return try interpreter.render(nodes)
    }

    private static func containsGeneration(_ nodes: [JinjaNode]) -> Bool {
        nodes.contains { node in
            switch node {
            case .generation: return true
            case .conditional(let branches, let otherwise):
                return branches.contains { containsGeneration($0.body) } || containsGeneration(otherwise)
            case .loop(_, _, _, let body, let otherwise): return containsGeneration(body) || containsGeneration(otherwise)
            case .blockAssignment(_, let body, _), .filterBlock(_, let body), .callBlock(_, let body): return containsGeneration(body)
            case .macro(let macro): return containsGeneration(macro.body)
            default: return false
            }
        }
    }
}

// The syntax tree holds only values and strings; it is never mutated after parsing.
extension JinjaNode: @unchecked Sendable {}
