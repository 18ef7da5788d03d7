// The syntax tree of a template: statements (nodes) and expressions.

/// A statement or piece of output.
indirect enum JinjaNode {
    case text(String)
    case output(JinjaExpression)
    /// `if` / `elif` branches in order, then the `else` body.
    case conditional([(condition: JinjaExpression, body: [JinjaNode])], otherwise: [JinjaNode])
    /// `for targets in iterable [if filter]` … `else` … `endfor`.
    case loop(targets: [String], iterable: JinjaExpression, filter: JinjaExpression?, body: [JinjaNode], otherwise: [JinjaNode])
    /// `set target = value`; the target is a name, a tuple of names, or `namespace.attribute`.
    case assignment(JinjaAssignTarget, JinjaExpression)
    /// `set name %}…{% endset` (optionally through filters).
    case blockAssignment(name: String, body: [JinjaNode], filters: [JinjaFilterCall])
    case macro(JinjaMacro)
    /// `{% generation %}…{% endgeneration %}`: the assistant's text, for the loss mask.
    case generation([JinjaNode])
    /// `{% filter name %}…{% endfilter %}`.
    case filterBlock([JinjaFilterCall], body: [JinjaNode])
    /// `{% call macro(…) %}…{% endcall %}`: the body is the macro's `caller()`.
    case callBlock(JinjaExpression, body: [JinjaNode])
    case breakLoop
    case continueLoop
    /// `{% do expression %}`: evaluated for its effect.
    case evaluate(JinjaExpression)
}

enum JinjaAssignTarget {
    case name(String)
    case names([String])
    case attribute(object: String, attribute: String)
}

struct JinjaMacro {
    let name: String
    let parameters: [(name: String, defaultValue: JinjaExpression?)]
    let body: [JinjaNode]
}

struct JinjaFilterCall {
    let name: String
    let arguments: JinjaArguments
}

struct JinjaArguments {
    var positional: [JinjaExpression] = []
    var keywords: [(String, JinjaExpression)] = []
}

indirect enum JinjaExpression {
    case literal(JinjaValue)
    case name(String)
    case list([JinjaExpression])
    case dictionary([(JinjaExpression, JinjaExpression)])
    case attribute(JinjaExpression, String)
    case subscriptItem(JinjaExpression, JinjaExpression)
    case slice(JinjaExpression, start: JinjaExpression?, stop: JinjaExpression?, step: JinjaExpression?)
    case call(JinjaExpression, JinjaArguments)
    case filter(JinjaExpression, JinjaFilterCall)
    case test(JinjaExpression, name: String, arguments: JinjaArguments, negated: Bool)
    case unary(String, JinjaExpression)
    case binary(String, JinjaExpression, JinjaExpression)
    case conditional(JinjaExpression, then: JinjaExpression, otherwise: JinjaExpression?)
}
