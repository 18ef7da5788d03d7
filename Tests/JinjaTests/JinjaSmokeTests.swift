import Jinja
import Testing

@Suite struct JinjaSmokeTests {
    @Test func rendersALoop() throws {
        let template = try JinjaTemplate("{% for m in messages %}{{ m.role }}:{{ m['content'] | trim }}\n{% endfor %}")
        let messages = JinjaValue.array([
            .object(JinjaObject([("role", .string("user")), ("content", .string(" hi "))], messageIndex: 0)),
        ])
        #expect(try template.render(["messages": messages]).text == "user:hi\n")
    }
}
