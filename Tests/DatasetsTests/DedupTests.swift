import XCTest
@testable import Datasets

/// Exact keys (case and whitespace folded, fields kept apart) and near deduplication: MinHash estimates
/// of constructed near-duplicates, the LSH banding, and `NearDuplicateIndex` keeping the first occurrence.
final class DedupTests: XCTestCase {
    /// `count` words drawn from a vocabulary of 5000 by a seeded generator.
    func words(_ count: Int, seed: UInt64) -> [String] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return "w\((state >> 33) % 5000)"
        }
    }

    func signature(_ words: [String]) -> [UInt32] {
        MinHash().signature(words: TextNormalization.wordHashes(Array(words.joined(separator: " ").utf8)))!
    }

    /// The Jaccard similarity of the two texts' sets of word 5-grams.
    func jaccard(_ a: [String], _ b: [String]) -> Double {
        func shingles(_ w: [String]) -> Set<[String]> { Set((0...(w.count - 5)).map { Array(w[$0..<$0 + 5]) }) }
        let x = shingles(a), y = shingles(b)
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }

    func testExactKeyFoldsCaseAndWhitespaceButNotPunctuationOrFieldBoundaries() {
        func key(_ fields: [String]) -> ExactKey { TextNormalization.exactKey(fields.map { Array($0.utf8) }) }
        XCTAssertEqual(key(["Hello   World\n"]), key(["hello world"]))
        XCTAssertEqual(key(["  a\tb  ", "C"]), key(["a b", "c"]))
        XCTAssertNotEqual(key(["hello world"]), key(["hello world!"]))
        XCTAssertNotEqual(key(["a b", "c"]), key(["a", "b c"]))
        XCTAssertNotEqual(key(["ab"]), key(["a b"]))
    }

    func testWordsAreLowerCasedAndStrippedOfPunctuation() {
        XCTAssertEqual(TextNormalization.wordHashes(Array("The QUICK, brown fox's -- (jump)!".utf8)),
                       TextNormalization.wordHashes(Array("the quick brown foxs jump".utf8)))
        XCTAssertEqual(TextNormalization.wordHashes(Array(" ... ".utf8)), [])
    }

    func testOneWordChangedInSixtyIsANearDuplicateAndAnotherTextIsNot() {
        let text = words(60, seed: 1)
        var changed = text
        changed[30] = "replaced"
        let other = words(60, seed: 2)
        XCTAssertEqual(jaccard(text, changed), 51.0 / 61.0, accuracy: 1e-12)
        XCTAssertEqual(MinHash.similarity(signature(text), signature(changed)), jaccard(text, changed), accuracy: 0.1)
        XCTAssertLessThan(MinHash.similarity(signature(text), signature(other)), 0.1)

        var index = NearDuplicateIndex(threshold: 0.8)
        XCTAssertNil(index.duplicate(of: signature(text), id: 1))
        XCTAssertEqual(index.duplicate(of: signature(changed), id: 2), 1)
        XCTAssertNil(index.duplicate(of: signature(other), id: 3))
        // The duplicate was not kept: a copy of it is matched to the first text, the other text is kept.
        XCTAssertEqual(index.duplicate(of: signature(changed), id: 4), 1)
        XCTAssertEqual(index.duplicate(of: signature(other), id: 5), 3)
    }

    /// Over 200 constructed pairs of 100-word texts: similarity 0.9 (one word changed) is caught every
    /// time, about 0.66 (four words changed, 22 or more apart) at most twice, about 0.3 (ten words) never.
    func testDuplicateRatesOnConstructedPairs() {
        func rate(changes: Int) -> (caught: Double, meanJaccard: Double) {
            var caught = 0, total = 0.0
            for pair in 0..<200 {
                let text = words(100, seed: UInt64(1000 + pair))
                var changed = text
                for k in 0..<changes { changed[5 + pair % 10 + k * 90 / changes] = "x\(k)" }  // never at an edge
                total += jaccard(text, changed)
                var index = NearDuplicateIndex(threshold: 0.8)
                _ = index.duplicate(of: signature(text), id: 0)
                if index.duplicate(of: signature(changed), id: 1) != nil { caught += 1 }
            }
            return (Double(caught) / 200, total / 200)
        }
        let near = rate(changes: 1), middle = rate(changes: 4), far = rate(changes: 10)
        XCTAssertEqual(near.meanJaccard, 0.90, accuracy: 0.01)
        XCTAssertEqual(near.caught, 1)
        XCTAssertEqual(middle.meanJaccard, 0.66, accuracy: 0.02)
        XCTAssertLessThanOrEqual(middle.caught, 0.01)
        XCTAssertLessThan(far.meanJaccard, 0.35)
        XCTAssertEqual(far.caught, 0)
    }

    func testBandingCatchesPairsAtTheThreshold() {
        let (bands, rows) = NearDuplicateIndex.bandsAndRows(threshold: 0.8, permutations: 128)
        XCTAssertLessThanOrEqual(bands * rows, 128)
        func compared(_ s: Double) -> Double { 1 - pow(1 - pow(s, Double(rows)), Double(bands)) }
        XCTAssertGreaterThan(compared(0.8), 0.9)
        XCTAssertGreaterThan(compared(0.9), 0.999)
        XCTAssertLessThan(compared(0.3), 0.01)
    }

    func testShortAndEmptyTexts() {
        let minHash = MinHash()
        XCTAssertNil(minHash.signature(words: []))
        let short = minHash.signature(words: TextNormalization.wordHashes(Array("two words".utf8)))!
        XCTAssertEqual(short, minHash.signature(words: TextNormalization.wordHashes(Array("Two, words.".utf8)))!)
        XCTAssertEqual(short.count, MinHash.permutations)
        XCTAssertNotEqual(short, minHash.signature(words: TextNormalization.wordHashes(Array("two other".utf8)))!)
    }
}
