import XCTest
@testable import Training

/// `data.filters`: a YAML list (flow or block) or a `--set` value, `[]` by default, written back by
/// `yaml()`; a choice that is not a filter, a nested list and a training file that is not JSONL are errors
/// naming the key.
final class DataFiltersConfigTests: XCTestCase {
    func parse(_ yaml: String, _ overrides: [String] = []) throws -> RunConfig {
        try RunConfig.parse(yaml: yaml, overrides: overrides)
    }

    func testListsInYAMLAndOverrides() throws {
        XCTAssertEqual(try parse("data: {train: d.jsonl}\n").data.filters, [])
        XCTAssertEqual(try parse("data: {train: d.jsonl, filters: [pii, dedup]}\n").data.filters, [.pii, .dedup])
        XCTAssertEqual(try parse("data:\n  train: d.jsonl\n  filters:\n    - dedup\n").data.filters, [.dedup])
        XCTAssertEqual(try parse("data: {train: d.jsonl, filters: []}\n").data.filters, [])
        XCTAssertEqual(try parse("data: {train: d.jsonl}\n", ["data.filters=pii,dedup"]).data.filters, [.pii, .dedup])
        XCTAssertEqual(try parse("data: {train: d.jsonl}\n", ["data.filters=[dedup]"]).data.filters, [.dedup])
        XCTAssertEqual(try parse("data: {train: d.jsonl, filters: [pii]}\n", ["data.filters=[]"]).data.filters, [])
    }

    func testYAMLRoundTrip() throws {
        let config = try parse("data: {train: d.jsonl, filters: [dedup, pii]}\n")
        XCTAssertTrue(config.yaml().contains("  filters: [dedup, pii]\n"), config.yaml())
        XCTAssertEqual(try parse(config.yaml()), config)
        XCTAssertTrue(try parse("data: {train: d.jsonl}\n").yaml().contains("  filters: []\n"))
    }

    func testErrorsNameTheKey() throws {
        func message(_ yaml: String) -> String {
            do { _ = try parse(yaml) } catch let error as RunConfigError { return error.description } catch { return "\(error)" }
            return "no error"
        }
        let choice = message("data: {train: d.jsonl, filters: [pii, names]}\n")
        XCTAssertTrue(choice.contains("data.filters") && choice.contains("invalid choice 'pii,names'; valid choices: pii, dedup"), choice)
        let nested = message("data: {train: d.jsonl, filters: [[pii]]}\n")
        XCTAssertTrue(nested.contains("data.filters") && nested.contains("expected a list of pii, dedup, got a list"), nested)
        let text = message("data: {train: corpus.txt, filters: [pii]}\n")
        XCTAssertTrue(text.contains("data.filters") && text.contains("filters read a .jsonl data.train") && text.contains("corpus.txt"), text)
    }
}
