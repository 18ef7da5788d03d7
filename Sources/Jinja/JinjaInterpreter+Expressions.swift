// Evaluating expressions: names, attribute and item access, slices, calls, filters, tests and
// operators, with Python's semantics.

/// Evaluated call arguments.
struct JinjaCallArguments {
    var positional: [JinjaValue]
    var keywords: [(String, JinjaValue)]

    /// The argument at `position`, or the keyword `name`, or nil.
    func value(_ position: Int, _ name: String) -> JinjaValue? {
        if position < positional.count { return positional[position] }
        return keywords.first { $0.0 == name }?.1
    }
}

extension JinjaInterpreter {
    func evaluate(_ expression: JinjaExpression) throws(JinjaError) -> JinjaValue {
        switch expression {
        case .literal(let value): return value
        case .name(let name): return lookup(name)
        case .list(let items): return .array(try items.map { (item) throws(JinjaError) in try evaluate(item) })
        case .dictionary(let pairs):
            var object = JinjaObject()
            for (key, value) in pairs { object[try evaluate(key).text] = try evaluate(value) }
            return .object(object)
        case .attribute(let base, let name): return try attribute(try evaluate(base), name, describing: base)
        case .subscriptItem(let base, let index): return try item(try evaluate(base), try evaluate(index), describing: base)
        case .slice(let base, let start, let stop, let step):
            return try slice(try evaluate(base), try start.map(evaluate), try stop.map(evaluate), try step.map(evaluate))
        case .call(let callee, let arguments):
            let function = try evaluate(callee)
            let evaluated = try evaluateArguments(arguments)
            guard case .callable(let callable) = function else {
                throw JinjaError.type("'\(Self.describe(callee))' is \(function.isUndefined ? "undefined" : "a \(function.typeName)"), not a function")
            }
            switch callable {
            case .macro(let id): return try callMacro(id, evaluated.positional, evaluated.keywords)
            case .function(let name): return try JinjaBuiltins.call(name, evaluated, self)
            case .method(let receiver, let name): return try JinjaBuiltins.method(name, on: receiver, evaluated, self)
            }
        case .filter(let base, let filter):
            return try applyFilter(filter, to: try evaluate(base))
        case .test(let base, let name, let arguments, let negated):
            let result = try JinjaBuiltins.test(name, try evaluate(base), try evaluateArguments(arguments), self)
            return .bool(result != negated)
        case .unary(let op, let operand):
            let value = try evaluate(operand)
            if op == "not" { return .bool(!value.isTruthy) }
            switch value {
            case .int(let number): return .int(-number)
            case .double(let number): return .double(-number)
            default: throw JinjaError.type("bad operand for unary -: '\(value.typeName)'")
            }
        case .binary(let op, let left, let right):
            switch op {
            case "and":
                let value = try evaluate(left)
                return value.isTruthy ? try evaluate(right) : value
            case "or":
                let value = try evaluate(left)
                return value.isTruthy ? value : try evaluate(right)
            default:
                return try JinjaBuiltins.binary(op, try evaluate(left), try evaluate(right))
            }
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            return try otherwise.map(evaluate) ?? .undefined("conditional expression")
        }
    }

    private func evaluateArguments(_ arguments: JinjaArguments) throws(JinjaError) -> JinjaCallArguments {
        var result = JinjaCallArguments(positional: [], keywords: [])
        for expression in arguments.positional { result.positional.append(try evaluate(expression)) }
        for (name, expression) in arguments.keywords { result.keywords.append((name, try evaluate(expression))) }
        return result
    }

    /// `base.name`: Python attribute first (methods), then the item.
    func attribute(_ base: JinjaValue, _ name: String, describing expression: JinjaExpression) throws(JinjaError) -> JinjaValue {
        switch base {
        case .object(let object):
            if JinjaBuiltins.objectMethods.contains(name) { return .callable(.method(receiver: base, name: name)) }
            return object[name] ?? .undefined("\(Self.describe(expression)).\(name)")
        case .namespace(let id):
            return namespaces[id][name] ?? .undefined("\(Self.describe(expression)).\(name)")
        case .string:
            if JinjaBuiltins.stringMethods.contains(name) { return .callable(.method(receiver: base, name: name)) }
        case .array:
            if JinjaBuiltins.listMethods.contains(name) { return .callable(.method(receiver: base, name: name)) }
        case .undefined(let missing):
            throw JinjaError.type("'\(missing)' is undefined, so it has no attribute '\(name)'")
        default:
            break
        }
        return .undefined("\(Self.describe(expression)).\(name)")
    }

    /// `base[index]`: the item first, then a Python attribute.
    func item(_ base: JinjaValue, _ index: JinjaValue, describing expression: JinjaExpression) throws(JinjaError) -> JinjaValue {
        switch (base, index) {
        case (.object(let object), .string(let key)):
            if let value = object[key] { return value }
            if JinjaBuiltins.objectMethods.contains(key) { return .callable(.method(receiver: base, name: key)) }
            return .undefined("\(Self.describe(expression))['\(key)']")
        case (.namespace(let id), .string(let key)):
            return namespaces[id][key] ?? .undefined("\(Self.describe(expression))['\(key)']")
        case (.array(let values), .int(let position)):
            let resolved = position < 0 ? values.count + position : position
            return values.indices.contains(resolved) ? values[resolved] : .undefined("\(Self.describe(expression))[\(position)]")
        case (.string(let text), .int(let position)):
            let scalars = Array(text.unicodeScalars)
            let resolved = position < 0 ? scalars.count + position : position
            return scalars.indices.contains(resolved) ? .string(String(scalars[resolved])) : .undefined("\(Self.describe(expression))[\(position)]")
        case (.undefined(let missing), _):
            throw JinjaError.type("'\(missing)' is undefined, so it cannot be indexed")
        case (.string, .string(let name)), (.array, .string(let name)):
            return try attribute(base, name, describing: expression)
        default:
            return .undefined("\(Self.describe(expression))[\(index.repr)]")
        }
    }

    /// Python slicing of lists and strings.
    func slice(_ base: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?) throws(JinjaError) -> JinjaValue {
        func integer(_ value: JinjaValue?) throws(JinjaError) -> Int? {
            switch value {
            case nil, .some(JinjaValue.none): return nil
            case .int(let number)?: return number
            default: throw JinjaError.type("slice indices must be integers or None")
            }
        }
        let step = try integer(step) ?? 1
        guard step != 0 else { throw JinjaError.type("slice step cannot be zero") }
        func indices(count: Int) throws(JinjaError) -> [Int] {
            func clamp(_ value: Int?, _ defaultValue: Int) -> Int {
                guard var value else { return defaultValue }
                if value < 0 { value += count }
                return step > 0 ? min(max(value, 0), count) : min(max(value, -1), count - 1)
            }
            let from = clamp(try integer(start), step > 0 ? 0 : count - 1)
            let to = clamp(try integer(stop), step > 0 ? count : -1)
            return Array(stride(from: from, to: to, by: step))
        }
        switch base {
        case .array(let values): return .array(try indices(count: values.count).map { values[$0] })
        case .string(let text):
            let scalars = Array(text.unicodeScalars)
            var out = String.UnicodeScalarView()
            for index in try indices(count: scalars.count) { out.append(scalars[index]) }
            return .string(String(out))
        case .undefined(let missing): throw JinjaError.type("'\(missing)' is undefined, so it cannot be sliced")
        default: throw JinjaError.type("a \(base.typeName) cannot be sliced")
        }
    }

    /// A short source-like description of an expression, for error messages.
    static func describe(_ expression: JinjaExpression) -> String {
        switch expression {
        case .name(let name): return name
        case .attribute(let base, let name): return describe(base) + "." + name
        case .subscriptItem(let base, .literal(let index)): return describe(base) + "[" + index.repr + "]"
        case .subscriptItem(let base, _): return describe(base) + "[…]"
        case .call(let base, _): return describe(base) + "()"
        case .literal(let value): return value.repr
        default: return "expression"
        }
    }
}
