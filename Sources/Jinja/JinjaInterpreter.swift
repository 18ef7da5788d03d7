// Executes a template's syntax tree: scopes, loops, macros, and the output with the spans the
// chat renderer needs (what each conversation message's loop iteration printed, and what
// `{% generation %}` blocks printed).

/// How a statement list finished: normally, or by `break` / `continue` inside a loop.
enum JinjaFlow {
    case normal
    case breakLoop
    case continueLoop
}

/// The text printed so far, with its spans in UTF-8 byte offsets.
struct JinjaOutput {
    var text = ""
    var byteCount = 0
    var messageSpans: [JinjaRendering.MessageSpan] = []
    var generationSpans: [Range<Int>] = []

    mutating func append(_ piece: String, messageIndex: Int?) {
        guard !piece.isEmpty else { return }
        let start = byteCount
        text += piece
        byteCount += piece.utf8.count
        guard let messageIndex else { return }
        if let last = messageSpans.last, last.messageIndex == messageIndex, last.bytes.upperBound == start {
            messageSpans[messageSpans.count - 1].bytes = last.bytes.lowerBound..<byteCount
        } else {
            messageSpans.append(.init(messageIndex: messageIndex, bytes: start..<byteCount))
        }
    }
}

final class JinjaInterpreter {
    /// Innermost last. Scope 0 holds the caller's variables and the template's top-level `set`s.
    var scopes: [[String: JinjaValue]]
    var namespaces: [JinjaObject] = []
    var macros: [JinjaMacro] = []
    /// Output buffers: the rendering, then one per capture (macro call, `set` block, `filter` block).
    var outputs: [JinjaOutput] = [JinjaOutput()]
    /// The conversation message each enclosing loop iteration is bound to (nil: not a message).
    var messageStack: [Int?] = []
    let now: Double?
    /// Guards against runaway recursion in macros.
    var callDepth = 0
    /// The body of a `{% call %}` block, handed to the macro it calls as `caller`.
    var pendingCaller: JinjaValue?

    init(globals: [String: JinjaValue], now: Double?) {
        scopes = [globals]
        self.now = now
    }

    func render(_ nodes: [JinjaNode]) throws(JinjaError) -> JinjaRendering {
        _ = try execute(nodes)
        let output = outputs[0]
        return JinjaRendering(text: output.text, messageSpans: output.messageSpans, generationSpans: output.generationSpans)
    }

    func emit(_ text: String) {
        let messageIndex = outputs.count == 1 ? messageStack.last(where: { $0 != nil }) ?? nil : nil
        outputs[outputs.count - 1].append(text, messageIndex: messageIndex)
    }

    /// Runs `body` with a fresh output buffer and returns what it printed.
    func capture(_ body: () throws(JinjaError) -> Void) throws(JinjaError) -> String {
        outputs.append(JinjaOutput())
        defer { outputs.removeLast() }
        try body()
        return outputs[outputs.count - 1].text
    }

    func lookup(_ name: String) -> JinjaValue {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        if JinjaBuiltins.functions.contains(name) { return .callable(.function(name)) }
        return .undefined(name)
    }

    func assign(_ name: String, _ value: JinjaValue) {
        scopes[scopes.count - 1][name] = value
    }

    // MARK: Statements

    func execute(_ nodes: [JinjaNode]) throws(JinjaError) -> JinjaFlow {
        for node in nodes {
            let flow = try execute(node)
            if case .normal = flow { continue }
            return flow
        }
        return .normal
    }

    private func execute(_ node: JinjaNode) throws(JinjaError) -> JinjaFlow {
        switch node {
        case .text(let text):
            emit(text)
        case .output(let expression):
            let value = try evaluate(expression)
            if case .callable = value { throw JinjaError.type("a function cannot be printed; call it with ()") }
            emit(value.text)
        case .conditional(let branches, let otherwise):
            for branch in branches where try evaluate(branch.condition).isTruthy {
                return try execute(branch.body)
            }
            return try execute(otherwise)
        case .loop(let targets, let iterable, let filter, let body, let otherwise):
            try loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
        case .assignment(let target, let expression):
            let value = try evaluate(expression)
            switch target {
            case .name(let name): assign(name, value)
            case .names(let names):
                let items = try JinjaBuiltins.iterate(value)
                guard items.count == names.count else {
                    throw JinjaError.type("cannot unpack \(items.count) values into \(names.count) names")
                }
                for (name, item) in zip(names, items) { assign(name, item) }
            case .attribute(let object, let attribute):
                guard case .namespace(let id) = lookup(object) else {
                    throw JinjaError.type("cannot assign attribute '\(attribute)' on '\(object)', which is not a namespace")
                }
                // transformers' sandbox refuses these; so does the engine, with its words.
                guard !attribute.hasPrefix("_") else {
                    throw JinjaError.type("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attribute)'. Please rename the attribute.")
                }
                namespaces[id][attribute] = value
            }
        case .blockAssignment(let name, let body, let filters):
            var value = JinjaValue.string(try capture { () throws(JinjaError) in _ = try execute(body) })
            for filter in filters { value = try applyFilter(filter, to: value) }
            assign(name, value)
        case .macro(let macro):
            macros.append(macro)
            assign(macro.name, .callable(.macro(macros.count - 1)))
        case .generation(let body):
            let start = outputs[outputs.count - 1].byteCount
            let flow = try execute(body)
            if outputs.count == 1 {
                let end = outputs[0].byteCount
                if end > start { outputs[0].generationSpans.append(start..<end) }
            }
            return flow
        case .filterBlock(let filters, let body):
            var value = JinjaValue.string(try capture { () throws(JinjaError) in _ = try execute(body) })
            for filter in filters { value = try applyFilter(filter, to: value) }
            emit(value.text)
        case .callBlock(let call, let body):
            macros.append(JinjaMacro(name: "caller", parameters: [], body: body))
            pendingCaller = .callable(.macro(macros.count - 1))
            defer { pendingCaller = nil }
            emit(try evaluate(call).text)
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        case .evaluate(let expression): _ = try evaluate(expression)
        }
        return .normal
    }

    private func loop(targets: [String], iterable: JinjaExpression, filter: JinjaExpression?,
                      body: [JinjaNode], otherwise: [JinjaNode]) throws(JinjaError) {
        var items = try JinjaBuiltins.iterate(try evaluate(iterable))
        scopes.append([:])
        defer { scopes.removeLast() }
        func bind(_ item: JinjaValue) throws(JinjaError) {
            if targets.count == 1 {
                assign(targets[0], item)
            } else {
                let parts = try JinjaBuiltins.iterate(item)
                guard parts.count == targets.count else {
                    throw JinjaError.type("cannot unpack \(parts.count) values into \(targets.count) loop variables")
                }
                for (name, part) in zip(targets, parts) { assign(name, part) }
            }
        }
        if let filter {
            var kept: [JinjaValue] = []
            for item in items {
                try bind(item)
                if try evaluate(filter).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(otherwise)
            return
        }
        for (index, item) in items.enumerated() {
            try bind(item)
            assign("loop", .object(JinjaObject([
                ("index", .int(index + 1)), ("index0", .int(index)),
                ("revindex", .int(items.count - index)), ("revindex0", .int(items.count - index - 1)),
                ("first", .bool(index == 0)), ("last", .bool(index == items.count - 1)),
                ("length", .int(items.count)), ("depth", .int(1)), ("depth0", .int(0)),
                ("previtem", index > 0 ? items[index - 1] : .undefined("loop.previtem")),
                ("nextitem", index + 1 < items.count ? items[index + 1] : .undefined("loop.nextitem")),
                ("cycle", .callable(.method(receiver: .int(index), name: "loop.cycle"))),
            ])))
            if case .object(let object) = item { messageStack.append(object.messageIndex) } else { messageStack.append(nil) }
            let flow = try execute(body)
            messageStack.removeLast()
            if case .breakLoop = flow { break }
        }
    }

    // MARK: Calls

    func callMacro(_ id: Int, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws(JinjaError) -> JinjaValue {
        let macro = macros[id]
        guard callDepth < 200 else { throw JinjaError.type("macro '\(macro.name)' recurses too deeply") }
        guard positional.count <= macro.parameters.count else {
            throw JinjaError.type("macro '\(macro.name)' takes \(macro.parameters.count) arguments, \(positional.count) given")
        }
        var locals: [String: JinjaValue] = [:]
        if let caller = pendingCaller {
            locals["caller"] = caller
            pendingCaller = nil
        }
        let saved = scopes
        scopes = [scopes[0]]
        defer {
            scopes = saved
            callDepth -= 1
        }
        callDepth += 1
        for (index, parameter) in macro.parameters.enumerated() {
            if index < positional.count {
                locals[parameter.name] = positional[index]
            } else if let keyword = keywords.first(where: { $0.0 == parameter.name }) {
                locals[parameter.name] = keyword.1
            } else if let defaultValue = parameter.defaultValue {
                scopes.append(locals)
                locals[parameter.name] = try evaluate(defaultValue)
                scopes.removeLast()
            } else {
                locals[parameter.name] = .undefined(parameter.name)
            }
        }
        for (name, _) in keywords where !macro.parameters.contains(where: { $0.name == name }) {
            throw JinjaError.type("macro '\(macro.name)' has no parameter '\(name)'")
        }
        scopes.append(locals)
        let text = try capture { () throws(JinjaError) in _ = try execute(macro.body) }
        return .string(text)
    }

    func applyFilter(_ filter: JinjaFilterCall, to value: JinjaValue) throws(JinjaError) -> JinjaValue {
        let positional = try filter.arguments.positional.map { (expression) throws(JinjaError) in try evaluate(expression) }
        var keywords: [(String, JinjaValue)] = []
        for (name, expression) in filter.arguments.keywords { keywords.append((name, try evaluate(expression))) }
        return try JinjaBuiltins.filter(filter.name, value, JinjaCallArguments(positional: positional, keywords: keywords), self)
    }
}
