import Foundation
import XCTest

@testable import Gemma

/// Gemma's turn format and its SFT loss mask, against dialogues rendered and masked in Python by
/// Fixtures/tokenizer/make_tokenizer.py (sentencepiece ids; masks from character offsets, cross-checked there with
/// transformers' `apply_chat_template(return_assistant_tokens_mask=True)` and TRL's Gemma training templates).
final class ChatTemplateTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var messages: [ChatMessage]
            var add_generation_prompt: Bool
            var fold_system: Bool
            var text: String
            var ids: [Int32]
            var mask: [Int]
        }
        var hf_checked: Int?
        var cases: [Case]
    }

    static func template(_ systemMessages: ChatTemplate.SystemMessages = .reject) throws -> ChatTemplate {
        try ChatTemplate(tokenizer: TokenizerTests.tokenizer(), systemMessages: systemMessages)
    }

    func testMatchesPythonRenderingAndTRLMasks() throws {
        let fixture = try JSONDecoder().decode(
            Fixture.self, from: Data(contentsOf: TokenizerTests.fixtureURL("chat_cases.json")))
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 15)
        let tok = try TokenizerTests.tokenizer()
        var straddling = 0
        for c in fixture.cases {
            let template = try Self.template(c.fold_system ? .foldIntoFirstUserTurn : .reject)
            let rendered = try template.render(c.messages, addGenerationPrompt: c.add_generation_prompt)
            XCTAssertEqual(rendered.text, c.text)
            let encoded = try template.encode(c.messages, addGenerationPrompt: c.add_generation_prompt)
            XCTAssertEqual(encoded.ids, c.ids, c.text.debugDescription)
            XCTAssertEqual(encoded.mask.map { $0 ? 1 : 0 }, c.mask, c.text.debugDescription)
            for k in 1..<encoded.ids.count where encoded.mask[k] && !encoded.mask[k - 1] {
                if tok.piece(of: encoded.ids[k])!.hasPrefix("\n") { straddling += 1 }
            }
        }
        XCTAssertGreaterThan(straddling, 0, "the fixtures should include a token straddling a span start")
    }

    func testMaskCoversRepliesAndEndOfTurnOnly() throws {
        let template = try Self.template()
        let tok = template.tokenizer
        let encoded = try template.encode([
            .user("Hello!"), .model("Hi, how can I help?"), .user("Bye"),
            ChatMessage(role: .assistant, content: "Bye."),
        ])
        XCTAssertEqual(encoded.ids.first, tok.bosId)
        XCTAssertFalse(encoded.mask[0])  // <bos>
        let newline = try XCTUnwrap(tok.id(of: "\n"))
        // Each masked run: the reply, then <end_of_turn>, then "\n"; preceded by the unmasked "model\n" header.
        var runs: [[Int32]] = []
        var current: [Int32] = []
        for (id, masked) in zip(encoded.ids, encoded.mask) {
            if masked { current.append(id) } else if !current.isEmpty { runs.append(current); current = [] }
        }
        if !current.isEmpty { runs.append(current) }
        XCTAssertEqual(runs.count, 2)
        for run in runs { XCTAssertEqual(Array(run.suffix(2)), [template.endOfTurnId, newline]) }
        XCTAssertEqual(tok.decode(runs[0]), "Hi, how can I help?<end_of_turn>\n")
        XCTAssertEqual(tok.decode(runs[1]), "Bye.<end_of_turn>\n")
        XCTAssertEqual(encoded.maskedCount, runs[0].count + runs[1].count)
        // <bos> (control) decodes to nothing; the turn pieces are user-defined, so they decode as their text.
        XCTAssertEqual(tok.decode(encoded.ids), try template.render([
            .user("Hello!"), .model("Hi, how can I help?"), .user("Bye"), .model("Bye."),
        ]).text)
    }

    func testGenerationPrompt() throws {
        let template = try Self.template()
        let rendered = try template.render([.user("  What is 2+2? ")], addGenerationPrompt: true)
        XCTAssertEqual(rendered.text, "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertEqual(rendered.modelSpans, [])
        let encoded = try template.encode([.user("What is 2+2?")], addGenerationPrompt: true)
        XCTAssertEqual(Array(encoded.ids.suffix(3)),
                       [template.startOfTurnId] + template.tokenizer.encode("model\n"))
        XCTAssertEqual(encoded.maskedCount, 0)
    }

    func testSystemMessages() throws {
        let dialogue: [ChatMessage] = [.system(" Be brief. "), .user(" Hi "), .model("Hello.")]
        XCTAssertThrowsError(try Self.template().render(dialogue, line: 7)) { error in
            XCTAssertEqual(error as? ChatTemplateError, ChatTemplateError(.systemMessage(index: 0), line: 7))
            XCTAssertTrue("\(error)".hasPrefix("line 7: message 1 has role \"system\""), "\(error)")
        }
        // Folded as the Gemma 3 template does: the system text untrimmed, "\n\n", then the trimmed user text.
        let folded = try Self.template(.foldIntoFirstUserTurn).render(dialogue)
        XCTAssertEqual(
            folded.text,
            "<start_of_turn>user\n Be brief. \n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n")
        XCTAssertThrowsError(try Self.template(.foldIntoFirstUserTurn).render([.user("a"), .system("b")])) { error in
            XCTAssertEqual((error as? ChatTemplateError)?.reason, .misplacedSystemMessage(index: 1))
        }
        XCTAssertThrowsError(try Self.template(.foldIntoFirstUserTurn).render([.system("only")], line: 3)) { error in
            XCTAssertEqual(error as? ChatTemplateError, ChatTemplateError(.emptyDialogue(onlySystem: true), line: 3))
        }
    }

    func testRoleOrderErrors() throws {
        let template = try Self.template()
        func reason(_ messages: [ChatMessage], line: Int? = nil) -> ChatTemplateError? {
            do {
                _ = try template.encode(messages, line: line)
                return nil
            } catch {
                return error as? ChatTemplateError
            }
        }
        XCTAssertEqual(reason([])?.reason, .emptyDialogue(onlySystem: false))
        XCTAssertEqual(reason([.model("hi")])?.reason, .roleOrder(index: 0, role: .model, expected: .user))
        XCTAssertEqual(reason([.user("a"), .user("b")])?.reason, .roleOrder(index: 1, role: .user, expected: .model))
        XCTAssertEqual(reason([.user("a"), .model("b"), .model("c")])?.reason,
                       .roleOrder(index: 2, role: .model, expected: .user))
        let error = reason([.user("a"), .user("b")], line: 12)
        XCTAssertEqual(error?.line, 12)
        XCTAssertEqual(error?.description,
                       "line 12: message 2 has role \"user\" but model (or assistant) was expected: roles must "
                           + "alternate user, model, user, ... starting with user")
        XCTAssertNil(reason([.user("a"), .model("b"), .user("c")]))  // ending on a user turn is allowed
    }

    func testTrimIsPythonStrip() {
        XCTAssertEqual(ChatTemplate.trim(" \t\n x y \r\n"), "x y")
        XCTAssertEqual(ChatTemplate.trim("\u{1F}\u{A0}\u{2003}\u{3000}x\u{85}\u{2028}"), "x")
        XCTAssertEqual(ChatTemplate.trim(" \u{301}x"), "\u{301}x")  // by scalar: the space goes, the accent stays
        XCTAssertEqual(ChatTemplate.trim("\u{200B}x\u{FEFF}"), "\u{200B}x\u{FEFF}")  // not whitespace in Python
        XCTAssertEqual(ChatTemplate.trim("   "), "")
        XCTAssertEqual(ChatTemplate.trim(""), "")
    }

    func testMessagesDecodeFromJSONL() throws {
        let row = #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "id": 3}"#
        let dialogue = try JSONDecoder().decode(ChatDialogue.self, from: Data(row.utf8))
        XCTAssertEqual(dialogue.messages, [.user("Hi"), ChatMessage(role: .assistant, content: "Hello")])
        XCTAssertTrue(dialogue.messages[1].role.isModel)
        let bad = #"{"messages": [{"role": "bot", "content": "Hi"}]}"#
        XCTAssertThrowsError(try JSONDecoder().decode(ChatDialogue.self, from: Data(bad.utf8))) { error in
            XCTAssertTrue("\(error)".contains("unknown role \"bot\""), "\(error)")
        }
    }

    func testRequiresTurnPieces() throws {
        let tok = try SentencePieceTokenizer(data: ModelBytes.bpe(pieces: [("a", 0, 1)]))
        XCTAssertThrowsError(try ChatTemplate(tokenizer: tok)) { error in
            XCTAssertTrue("\(error)".contains("<start_of_turn>"), "\(error)")
        }
    }
}
