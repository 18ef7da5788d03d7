// Builds the syntax tree from the lexer's pieces. Expression precedence follows Jinja2 (lowest
// first): `x if c else y`, `or`, `and`, `not`, comparisons and `in`, `+ -`, `~`, `* / // %`, `**`,
// unary `-`, then postfix `.attr`, `[index]`, `(call)`, `| filter` and `is test`.

struct JinjaParser {
    private let pieces: [TemplatePiece]
    private var index = 0

    init(_ pieces: [TemplatePiece]) { self.pieces = pieces }

    mutating func parse() throws(JinjaError) -> [JinjaNode] {
        let (nodes, end) = try block(until: [])
        if let end { throw JinjaError.syntax("unexpected '\(end.keyword)'", line: end.line) }
        return nodes
    }

    private struct BlockEnd {
        let keyword: String
        let tokens: [JinjaToken]
        let line: Int
    }

    /// Nodes up to a statement whose keyword is in `keywords` (returned, consumed).
    private mutating func block(until keywords: Set<String>) throws(JinjaError) -> ([JinjaNode], BlockEnd?) {
        var nodes: [JinjaNode] = []
        while index < pieces.count {
            let piece = pieces[index]
            index += 1
            switch piece {
            case .text(let text): nodes.append(.text(text))
            case .output(let tokens, let line):
                var expression = ExpressionParser(tokens, line: line)
                nodes.append(.output(try expression.parseAll()))
            case .statement(let tokens, let line):
                guard case .name(let keyword)? = tokens.first else { throw JinjaError.syntax("a statement must start with a keyword", line: line) }
                if keywords.contains(keyword) { return (nodes, BlockEnd(keyword: keyword, tokens: tokens, line: line)) }
                nodes.append(try statement(keyword, Array(tokens.dropFirst()), line: line))
            }
        }
        if !keywords.isEmpty {
            let expected = keywords.sorted().joined(separator: "' or '")
            throw JinjaError.syntax("the template ends before '\(expected)'", line: lastLine)
        }
        return (nodes, nil)
    }

    private var lastLine: Int {
        for piece in pieces.reversed() {
            switch piece {
            case .output(_, let line), .statement(_, let line): return line
            case .text: continue
            }
        }
        return 1
    }

    private mutating func statement(_ keyword: String, _ tokens: [JinjaToken], line: Int) throws(JinjaError) -> JinjaNode {
        var parser = ExpressionParser(tokens, line: line)
        switch keyword {
        case "if":
            var branches: [(condition: JinjaExpression, body: [JinjaNode])] = []
            var condition = try parser.parseAll()
            while true {
                let (body, end) = try block(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                guard let end else { throw JinjaError.syntax("'if' is never closed", line: line) }
                switch end.keyword {
                case "elif":
                    var next = ExpressionParser(Array(end.tokens.dropFirst()), line: end.line)
                    condition = try next.parseAll()
                case "else":
                    let (otherwise, close) = try block(until: ["endif"])
                    guard close != nil else { throw JinjaError.syntax("'if' is never closed", line: line) }
                    return .conditional(branches, otherwise: otherwise)
                default:
                    return .conditional(branches, otherwise: [])
                }
            }
        case "for":
            var targets = [try parser.name()]
            while parser.accept(.symbol(",")) { targets.append(try parser.name()) }
            try parser.expect(.name("in"))
            let iterable = try parser.expression(allowConditional: false)
            var filter: JinjaExpression?
            if parser.accept(.name("if")) { filter = try parser.expression() }
            _ = parser.accept(.name("recursive"))
            try parser.end()
            let (body, end) = try block(until: ["else", "endfor"])
            var otherwise: [JinjaNode] = []
            if end?.keyword == "else" {
                let (elseBody, close) = try block(until: ["endfor"])
                guard close != nil else { throw JinjaError.syntax("'for' is never closed", line: line) }
                otherwise = elseBody
            } else if end == nil {
                throw JinjaError.syntax("'for' is never closed", line: line)
            }
            return .loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
        case "set":
            let first = try parser.name()
            if parser.accept(.symbol(".")) {
                let attribute = try parser.name()
                try parser.expect(.symbol("="))
                return .assignment(.attribute(object: first, attribute: attribute), try parser.parseAll())
            }
            var names = [first]
            while parser.accept(.symbol(",")) { names.append(try parser.name()) }
            if parser.accept(.symbol("=")) {
                return .assignment(names.count == 1 ? .name(first) : .names(names), try parser.parseAll())
            }
            let filters = try parser.filterChain()
            try parser.end()
            let (body, end) = try block(until: ["endset"])
            guard end != nil else { throw JinjaError.syntax("'set' block is never closed", line: line) }
            return .blockAssignment(name: first, body: body, filters: filters)
        case "macro":
            let name = try parser.name()
            try parser.expect(.symbol("("))
            var parameters: [(name: String, defaultValue: JinjaExpression?)] = []
            while !parser.accept(.symbol(")")) {
                if !parameters.isEmpty { try parser.expect(.symbol(",")) }
                let parameter = try parser.name()
                parameters.append((parameter, parser.accept(.symbol("=")) ? try parser.expression() : nil))
            }
            try parser.end()
            let (body, end) = try block(until: ["endmacro"])
            guard end != nil else { throw JinjaError.syntax("macro '\(name)' is never closed", line: line) }
            return .macro(JinjaMacro(name: name, parameters: parameters, body: body))
        case "generation":
            try parser.end()
            let (body, end) = try block(until: ["endgeneration"])
            guard end != nil else { throw JinjaError.syntax("'generation' is never closed", line: line) }
            return .generation(body)
        case "filter":
            let filters = try parser.filterChain(leadingPipe: false)
            try parser.end()
            let (body, end) = try block(until: ["endfilter"])
            guard end != nil else { throw JinjaError.syntax("'filter' is never closed", line: line) }
            return .filterBlock(filters, body: body)
        case "call":
            let call = try parser.parseAll()
            let (body, end) = try block(until: ["endcall"])
            guard end != nil else { throw JinjaError.syntax("'call' is never closed", line: line) }
            return .callBlock(call, body: body)
        case "break":
            try parser.end()
            return .breakLoop
        case "continue":
            try parser.end()
            return .continueLoop
        case "do":
            return .evaluate(try parser.parseAll())
        default:
            throw JinjaError.syntax("unknown statement '\(keyword)'", line: line)
        }
    }
}

/// A recursive-descent parser over the tokens of one tag.
struct ExpressionParser {
    private let tokens: [JinjaToken]
    private var position = 0
    private let line: Int

    init(_ tokens: [JinjaToken], line: Int) {
        self.tokens = tokens
        self.line = line
    }

    private var current: JinjaToken? { position < tokens.count ? tokens[position] : nil }

    private func error(_ detail: String) -> JinjaError { .syntax(detail, line: line) }

    mutating func accept(_ token: JinjaToken) -> Bool {
        guard current == token else { return false }
        position += 1
        return true
    }

    mutating func expect(_ token: JinjaToken) throws(JinjaError) {
        guard accept(token) else { throw error("expected \(Self.describe(token)), found \(current.map(Self.describe) ?? "the end of the tag")") }
    }

    mutating func end() throws(JinjaError) {
        if let current { throw error("unexpected \(Self.describe(current))") }
    }

    static func describe(_ token: JinjaToken) -> String {
        switch token {
        case .name(let name): return "'\(name)'"
        case .string(let text): return "string '\(text)'"
        case .int(let value): return "\(value)"
        case .double(let value): return "\(value)"
        case .symbol(let symbol): return "'\(symbol)'"
        }
    }

    mutating func name() throws(JinjaError) -> String {
        guard case .name(let name)? = current else { throw error("expected a name, found \(current.map(Self.describe) ?? "the end of the tag")") }
        position += 1
        return name
    }

    /// A whole tag: one expression (a bare tuple `a, b` becomes a list).
    mutating func parseAll() throws(JinjaError) -> JinjaExpression {
        let first = try expression()
        if current == .symbol(",") {
            var items = [first]
            while accept(.symbol(",")) { if current == nil { break }; items.append(try expression()) }
            try end()
            return .list(items)
        }
        try end()
        return first
    }

    mutating func filterChain(leadingPipe: Bool = true) throws(JinjaError) -> [JinjaFilterCall] {
        var filters: [JinjaFilterCall] = []
        if !leadingPipe, current != nil { filters.append(try filterCall()) }
        while accept(.symbol("|")) { filters.append(try filterCall()) }
        return filters
    }

    mutating func expression(allowConditional: Bool = true) throws(JinjaError) -> JinjaExpression {
        let value = try or()
        guard allowConditional, accept(.name("if")) else { return value }
        let condition = try or()
        let otherwise = accept(.name("else")) ? try expression() : nil
        return .conditional(condition, then: value, otherwise: otherwise)
    }

    private mutating func or() throws(JinjaError) -> JinjaExpression {
        var left = try and()
        while accept(.name("or")) { left = .binary("or", left, try and()) }
        return left
    }

    private mutating func and() throws(JinjaError) -> JinjaExpression {
        var left = try not()
        while accept(.name("and")) { left = .binary("and", left, try not()) }
        return left
    }

    private mutating func not() throws(JinjaError) -> JinjaExpression {
        if accept(.name("not")) { return .unary("not", try not()) }
        return try comparison()
    }

    private mutating func comparison() throws(JinjaError) -> JinjaExpression {
        var left = try sum()
        while true {
            if case .symbol(let symbol)? = current, ["==", "!=", "<", "<=", ">", ">="].contains(symbol) {
                position += 1
                left = .binary(symbol, left, try sum())
            } else if accept(.name("in")) {
                left = .binary("in", left, try sum())
            } else if current == .name("not"), position + 1 < tokens.count, tokens[position + 1] == .name("in") {
                position += 2
                left = .binary("not in", left, try sum())
            } else {
                return left
            }
        }
    }

    private mutating func sum() throws(JinjaError) -> JinjaExpression {
        var left = try concatenation()
        while case .symbol(let symbol)? = current, symbol == "+" || symbol == "-" {
            position += 1
            left = .binary(symbol, left, try concatenation())
        }
        return left
    }

    private mutating func concatenation() throws(JinjaError) -> JinjaExpression {
        var left = try product()
        while accept(.symbol("~")) { left = .binary("~", left, try product()) }
        return left
    }

    private mutating func product() throws(JinjaError) -> JinjaExpression {
        var left = try power()
        while case .symbol(let symbol)? = current, ["*", "/", "//", "%"].contains(symbol) {
            position += 1
            left = .binary(symbol, left, try power())
        }
        return left
    }

    private mutating func power() throws(JinjaError) -> JinjaExpression {
        var left = try unary()
        while accept(.symbol("**")) { left = .binary("**", left, try unary()) }
        return left
    }

    private mutating func unary() throws(JinjaError) -> JinjaExpression {
        if accept(.symbol("-")) { return try filtered(.unary("-", try unary(withFilters: false))) }
        if accept(.symbol("+")) { return try filtered(try unary(withFilters: false)) }
        return try filtered(try postfix(try primary()))
    }

    private mutating func unary(withFilters: Bool) throws(JinjaError) -> JinjaExpression {
        if accept(.symbol("-")) { return .unary("-", try unary(withFilters: false)) }
        return try postfix(try primary())
    }

    /// `| filter(args)` and `is [not] test args`, in any order, repeatedly.
    private mutating func filtered(_ base: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var node = base
        while true {
            if accept(.symbol("|")) {
                node = .filter(node, try filterCall())
            } else if accept(.name("is")) {
                let negated = accept(.name("not"))
                var name = try name()
                while accept(.symbol(".")) { name += "." + (try self.name()) }
                var arguments = JinjaArguments()
                if current == .symbol("(") {
                    position += 1
                    arguments = try callArguments()
                } else if let current, startsTestArgument(current) {
                    arguments.positional = [try postfix(try primary())]
                }
                node = .test(node, name: name, arguments: arguments, negated: negated)
            } else {
                return node
            }
        }
    }

    /// Jinja2 lets a test take one argument without parentheses: `x is divisibleby 3`.
    private func startsTestArgument(_ token: JinjaToken) -> Bool {
        switch token {
        case .string, .int, .double: return true
        case .name(let name): return !["and", "or", "if", "else", "not", "in", "is"].contains(name)
        case .symbol(let symbol): return symbol == "[" || symbol == "{"
        }
    }

    private mutating func filterCall() throws(JinjaError) -> JinjaFilterCall {
        var name = try name()
        while accept(.symbol(".")) { name += "." + (try self.name()) }
        var arguments = JinjaArguments()
        if accept(.symbol("(")) { arguments = try callArguments() }
        return JinjaFilterCall(name: name, arguments: arguments)
    }

    /// Arguments after `(`, through `)`.
    private mutating func callArguments() throws(JinjaError) -> JinjaArguments {
        var arguments = JinjaArguments()
        while !accept(.symbol(")")) {
            if !arguments.positional.isEmpty || !arguments.keywords.isEmpty { try expect(.symbol(",")) }
            if accept(.symbol(")")) { break }
            if case .name(let keyword)? = current, position + 1 < tokens.count, tokens[position + 1] == .symbol("=") {
                position += 2
                arguments.keywords.append((keyword, try expression()))
            } else {
                arguments.positional.append(try expression())
            }
        }
        return arguments
    }

    private mutating func postfix(_ base: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var node = base
        while true {
            if accept(.symbol(".")) {
                if case .int(let index)? = current {
                    position += 1
                    node = .subscriptItem(node, .literal(.int(index)))
                } else {
                    node = .attribute(node, try name())
                }
            } else if accept(.symbol("[")) {
                node = try subscriptOrSlice(node)
            } else if accept(.symbol("(")) {
                node = .call(node, try callArguments())
            } else {
                return node
            }
        }
    }

    private mutating func subscriptOrSlice(_ base: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var parts: [JinjaExpression?] = [nil]
        var isSlice = false
        while !accept(.symbol("]")) {
            if accept(.symbol(":")) {
                isSlice = true
                parts.append(nil)
                continue
            }
            guard parts[parts.count - 1] == nil else { throw error("expected ']' or ':'") }
            parts[parts.count - 1] = try expression()
        }
        if !isSlice {
            guard let index = parts[0] else { throw error("empty subscript") }
            return .subscriptItem(base, index)
        }
        guard parts.count <= 3 else { throw error("a slice has at most three parts") }
        return .slice(base, start: parts[0], stop: parts.count > 1 ? parts[1] : nil, step: parts.count > 2 ? parts[2] : nil)
    }

    private mutating func primary() throws(JinjaError) -> JinjaExpression {
        guard let token = current else { throw error("expected an expression, found the end of the tag") }
        position += 1
        switch token {
        case .string(var text):
            // Adjacent string literals are joined, as in Python.
            while case .string(let more)? = current { text += more; position += 1 }
            return .literal(.string(text))
        case .int(let value): return .literal(.int(value))
        case .double(let value): return .literal(.double(value))
        case .name(let name):
            switch name {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(name)
            }
        case .symbol("("):
            if accept(.symbol(")")) { return .list([]) }
            let first = try expression()
            if accept(.symbol(")")) { return first }
            var items = [first]
            while accept(.symbol(",")) {
                if current == .symbol(")") { break }
                items.append(try expression())
            }
            try expect(.symbol(")"))
            return .list(items)
        case .symbol("["):
            var items: [JinjaExpression] = []
            while !accept(.symbol("]")) {
                if !items.isEmpty { try expect(.symbol(",")); if accept(.symbol("]")) { break } }
                items.append(try expression())
            }
            return .list(items)
        case .symbol("{"):
            var pairs: [(JinjaExpression, JinjaExpression)] = []
            while !accept(.symbol("}")) {
                if !pairs.isEmpty { try expect(.symbol(",")); if accept(.symbol("}")) { break } }
                let key = try expression()
                try expect(.symbol(":"))
                pairs.append((key, try expression()))
            }
            return .dictionary(pairs)
        default:
            throw error("unexpected \(Self.describe(token))")
        }
    }
}
