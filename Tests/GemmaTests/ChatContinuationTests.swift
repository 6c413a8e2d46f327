import XCTest
@testable import Gemma

/// The ids `chat` feeds for a later turn continue the cached conversation exactly as the whole dialogue
/// encodes.
final class ChatContinuationTests: XCTestCase {
    func testContinuationEqualsTheTailOfTheWholeDialogue() throws {
        let template = try ChatTemplate(tokenizer: TokenizerTests.tokenizer())
        let first = try template.encode([.user(" Hi there!")], addGenerationPrompt: true).ids
        let reply = template.tokenizer.encode("Hello, how can I help?")
        let whole = try template.encode([.user(" Hi there!"), .model("Hello, how can I help?"), .user("Tell me a joke.\n")],
                                        addGenerationPrompt: true).ids
        let closed = first + reply + [template.endOfTurnId]
            + template.continuation(userText: "Tell me a joke.\n", previousReplyClosed: true)
        XCTAssertEqual(closed, whole)
        let cut = first + reply + template.continuation(userText: "Tell me a joke.\n", previousReplyClosed: false)
        XCTAssertEqual(cut, whole)
    }
}
