import Testing
@testable import LlamaModel

@Suite struct StopStringMatcherTests {
    /// Feeds chunks one by one (as tokens arrive); returns what was released after each and the end.
    private func stream(_ chunks: [String], stops: [String]) throws -> (released: [String], final: String, stopped: Bool) {
        var matcher = try StopStringMatcher(stops)
        var released: [String] = []
        for chunk in chunks {
            released.append(matcher.feed(chunk))
            if matcher.isStopped { break }
        }
        let rest = matcher.finish()
        return (released, released.joined() + rest, matcher.isStopped)
    }

    @Test func stopInsideOneChunkCutsBeforeIt() throws {
        let r = try stream(["Hello", " world.\nUser: hi", " more"], stops: ["\nUser:"])
        #expect(r.stopped && r.final == "Hello world." && r.released.count == 2)
    }

    @Test func stopSpanningTokensIsFound() throws {
        let r = try stream(["The answer", " is 4", "2.", "\n", "Us", "er", ": next"], stops: ["\nUser:"])
        #expect(r.stopped && r.final == "The answer is 42.")
        // "\n", "Us" and "er" are held back: nothing is released while they could start the stop.
        #expect(r.released == ["The answer", " is 4", "2.", "", "", "", ""])
    }

    @Test func heldBackPartialMatchIsReleasedWhenItDiverges() throws {
        var matcher = try StopStringMatcher(["###"])
        #expect(matcher.feed("a #") == "a ")
        #expect(matcher.feed("#") == "")
        #expect(matcher.feed("x") == "##x")
        #expect(!matcher.isStopped)
        #expect(matcher.feed("b#") == "b")
        #expect(matcher.finish() == "#")      // the end of generation releases the held tail
    }

    @Test func earliestOfSeveralStopsWins() throws {
        let r = try stream(["one END two STOP"], stops: ["STOP", "END"])
        #expect(r.stopped && r.final == "one ")
        let overlapping = try stream(["ab", "c"], stops: ["bcd", "abc"])
        #expect(overlapping.stopped && overlapping.final == "")
    }

    @Test func noStopsReleasesEverything() throws {
        var matcher = try StopStringMatcher([])
        #expect(matcher.feed("abc") == "abc" && matcher.finish() == "" && !matcher.isStopped)
    }

    @Test func multiByteTextIsCutOnWholeCharacters() throws {
        let r = try stream(["Grüß", "e — ", "fin"], stops: ["— f"])
        #expect(r.stopped && r.final == "Grüße ")
    }

    @Test func emptyStopStringIsRefused() {
        #expect(throws: LlamaModelError.self) { try StopStringMatcher(["ok", ""]) }
    }
}
