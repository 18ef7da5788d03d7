import Jinja

/// One message of a conversation, with every field its JSON row has: `role`, `content`, and for
/// tool use `tool_calls`, `tool_call_id`, `name`, `reasoning_content`, … The template reads them.
public struct ChatMessage: Sendable, Equatable {
    public private(set) var fields: JinjaObject

    public static let roles: Set<String> = ["system", "user", "assistant", "tool", "ipython", "developer"]

    public init(role: String, content: String) {
        fields = JinjaObject([("role", .string(role)), ("content", .string(content))])
    }

    /// A message from its JSON object; `index` is used in error messages.
    public init(json: JinjaValue, index: Int) throws(TokenizationError) {
        guard case .object(let object) = json else {
            throw TokenizationError.invalidConversation("messages[\(index)] is not an object")
        }
        guard case .string(let role)? = object["role"] else {
            throw TokenizationError.invalidConversation("messages[\(index)] needs a string \"role\"")
        }
        guard Self.roles.contains(role) else {
            throw TokenizationError.invalidConversation(
                "messages[\(index)] has role '\(role)'; expected one of \(Self.roles.sorted().joined(separator: ", "))")
        }
        switch object["content"] {
        case .string?: break
        case .some(JinjaValue.none), nil:
            guard object["tool_calls"] != nil else {
                throw TokenizationError.invalidConversation("messages[\(index)] needs a string \"content\" (or \"tool_calls\")")
            }
        default:
            throw TokenizationError.invalidConversation(
                "messages[\(index)] \"content\" must be a string; lists of content parts (images, audio) are not supported")
        }
        if let calls = object["tool_calls"] {
            guard case .array = calls else { throw TokenizationError.invalidConversation("messages[\(index)] \"tool_calls\" must be a list") }
        }
        fields = object
    }

    public var role: String { fields["role"]?.text ?? "" }
    /// The text content; empty for a message that only calls tools.
    public var content: String {
        if case .string(let text)? = fields["content"] { return text }
        return ""
    }
}

/// A conversation to render: its messages and the tools (JSON schemas) offered to the model.
public struct ChatConversation: Sendable, Equatable {
    public var messages: [ChatMessage]
    /// The `tools` list of the row, passed to the template as it is; nil when the row has none.
    public var tools: [JinjaValue]?

    public init(messages: [ChatMessage], tools: [JinjaValue]? = nil) {
        self.messages = messages
        self.tools = tools
    }

    /// Reads a `{"messages": [...], "tools": [...]}` row (other fields are ignored).
    public init(json row: JinjaObject) throws(TokenizationError) {
        guard case .array(let list)? = row["messages"], !list.isEmpty else {
            throw TokenizationError.invalidConversation("\"messages\" must be a non-empty array")
        }
        var messages: [ChatMessage] = []
        for (index, item) in list.enumerated() { messages.append(try ChatMessage(json: item, index: index)) }
        var tools: [JinjaValue]?
        switch row["tools"] {
        case nil, .some(JinjaValue.none): tools = nil
        case .array(let list)?: tools = list
        default: throw TokenizationError.invalidConversation("\"tools\" must be a list of JSON schemas")
        }
        self.init(messages: messages, tools: tools)
    }
}
