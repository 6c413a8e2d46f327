import XCTest
@testable import Datasets

/// `Packer` and `Batch` against rows written out by hand from the rules in Packer.swift and Docs/Training.md:
/// positions restart at 0 per document (and per piece of a streamed document), each document of a row gets
/// the next id from 0, and padding is `padId` with target -100, position = its index in the row and document
/// -(position + 1).
final class PackerTests: XCTestCase {
    /// An example whose targets are its ids + 10, so a target shows which id it came with.
    func example(_ ids: [Int32]) -> Example { Example(ids: ids, targets: ids.map { $0 + 10 }) }

    func row(_ ids: [Int32], _ targets: [Int32], _ positions: [Int32], _ documents: [Int32]) -> PackedRow {
        PackedRow(ids: ids, targets: targets, positions: positions, documents: documents)
    }

    func testStreamCutsEverySeqLenAndRestartsPositions() {
        let packer = Packer(seqLen: 4, padId: 99, mode: .stream, overlong: .truncate)
        let result = packer.pack([example([1, 2, 3]), example([4, 5, 6, 7, 8]), example([9])])
        XCTAssertEqual(result.rows, [
            // A whole (document 0), then the first token of B (document 1).
            row([1, 2, 3, 4], [11, 12, 13, 14], [0, 1, 2, 0], [0, 0, 0, 1]),
            // The rest of B continues in the next row, its positions restarting at 0.
            row([5, 6, 7, 8], [15, 16, 17, 18], [0, 1, 2, 3], [0, 0, 0, 0]),
            // C, then padding at positions 1...3 with documents -2, -3, -4.
            row([9, 99, 99, 99], [19, -100, -100, -100], [0, 1, 2, 3], [0, -2, -3, -4]),
        ])
        XCTAssertEqual(result.rows.map(\.isPacked), [true, false, false])
        XCTAssertEqual(result.rows.map(\.tokenCount), [4, 4, 1])
        XCTAssertEqual(result.truncated, 0)
        XCTAssertEqual(result.dropped, 0)
    }

    func testStreamNeverTruncatesOrDrops() {
        for overlong in [Packer.Overlong.truncate, .drop] {
            let result = Packer(seqLen: 3, padId: 0, mode: .stream, overlong: overlong).pack([example([1, 2, 3, 4, 5, 6, 7])])
            XCTAssertEqual(result.rows, [
                row([1, 2, 3], [11, 12, 13], [0, 1, 2], [0, 0, 0]),
                row([4, 5, 6], [14, 15, 16], [0, 1, 2], [0, 0, 0]),
                row([7, 0, 0], [17, -100, -100], [0, 1, 2], [0, -2, -3]),
            ])
            XCTAssertEqual(result.truncated, 0)
            XCTAssertEqual(result.dropped, 0)
        }
    }

    func testStreamExactFitMakesNoEmptyRow() {
        let result = Packer(seqLen: 2, padId: 0, mode: .stream, overlong: .truncate).pack([example([1, 2]), example([3, 4])])
        XCTAssertEqual(result.rows, [
            row([1, 2], [11, 12], [0, 1], [0, 0]),
            row([3, 4], [13, 14], [0, 1], [0, 0]),
        ])
        XCTAssertTrue(Packer(seqLen: 2, padId: 0, mode: .stream, overlong: .truncate).pack([]).rows.isEmpty)
    }

    func testPackStartsANewRowWhenTheNextExampleDoesNotFit() {
        let packer = Packer(seqLen: 5, padId: 99, mode: .pack, overlong: .truncate)
        let result = packer.pack([example([1, 2, 3]), example([4, 5, 6]), example([7, 8]), example([9, 10, 11, 12, 13])])
        XCTAssertEqual(result.rows, [
            // B (3 tokens) does not fit in the 2 left after A: A's row is padded.
            row([1, 2, 3, 99, 99], [11, 12, 13, -100, -100], [0, 1, 2, 3, 4], [0, 0, 0, -4, -5]),
            // B and C fill a row exactly.
            row([4, 5, 6, 7, 8], [14, 15, 16, 17, 18], [0, 1, 2, 0, 1], [0, 0, 0, 1, 1]),
            // D is exactly seq_len: neither truncated nor dropped.
            row([9, 10, 11, 12, 13], [19, 20, 21, 22, 23], [0, 1, 2, 3, 4], [0, 0, 0, 0, 0]),
        ])
        XCTAssertEqual(result.rows.map(\.isPacked), [false, true, false])
        XCTAssertEqual(result.truncated, 0)
        XCTAssertEqual(result.dropped, 0)
    }

    func testPackOverlongTruncatedKeepingTheStartOrDropped() {
        let examples = [example([1, 2]), example([3, 4, 5, 6, 7, 8, 9]), example([10])]
        let truncated = Packer(seqLen: 4, padId: 0, mode: .pack, overlong: .truncate).pack(examples)
        XCTAssertEqual(truncated.rows, [
            row([1, 2, 0, 0], [11, 12, -100, -100], [0, 1, 2, 3], [0, 0, -3, -4]),
            row([3, 4, 5, 6], [13, 14, 15, 16], [0, 1, 2, 3], [0, 0, 0, 0]),
            row([10, 0, 0, 0], [20, -100, -100, -100], [0, 1, 2, 3], [0, -2, -3, -4]),
        ])
        XCTAssertEqual(truncated.truncated, 1)
        XCTAssertEqual(truncated.dropped, 0)

        let dropped = Packer(seqLen: 4, padId: 0, mode: .pack, overlong: .drop).pack(examples)
        XCTAssertEqual(dropped.rows, [
            row([1, 2, 10, 0], [11, 12, 20, -100], [0, 1, 0, 3], [0, 0, 1, -4]),
        ])
        XCTAssertEqual(dropped.truncated, 0)
        XCTAssertEqual(dropped.dropped, 1)
    }

    func testSingleIsOneExamplePerRow() {
        let examples = [example([1, 2, 3]), example([4]), example([5, 6, 7, 8, 9]), example([1, 2, 3, 4])]
        let truncated = Packer(seqLen: 4, padId: 7, mode: .single, overlong: .truncate).pack(examples)
        XCTAssertEqual(truncated.rows, [
            row([1, 2, 3, 7], [11, 12, 13, -100], [0, 1, 2, 3], [0, 0, 0, -4]),
            row([4, 7, 7, 7], [14, -100, -100, -100], [0, 1, 2, 3], [0, -2, -3, -4]),
            row([5, 6, 7, 8], [15, 16, 17, 18], [0, 1, 2, 3], [0, 0, 0, 0]),
            row([1, 2, 3, 4], [11, 12, 13, 14], [0, 1, 2, 3], [0, 0, 0, 0]),
        ])
        XCTAssertEqual(truncated.rows.map(\.isPacked), [false, false, false, false])
        XCTAssertEqual(truncated.truncated, 1)
        XCTAssertEqual(truncated.dropped, 0)

        let dropped = Packer(seqLen: 4, padId: 7, mode: .single, overlong: .drop).pack(examples)
        XCTAssertEqual(dropped.rows.map(\.ids), [[1, 2, 3, 7], [4, 7, 7, 7], [1, 2, 3, 4]])
        XCTAssertEqual(dropped.truncated, 0)
        XCTAssertEqual(dropped.dropped, 1)
    }

    func testBatchKeepsDocumentIdsUniqueAcrossRows() {
        let rows = [
            row([1, 2, 3, 4], [11, 12, 13, 14], [0, 1, 2, 0], [0, 0, 0, 1]),
            row([9, 0, 0, 0], [19, -100, -100, -100], [0, 1, 2, 3], [0, -2, -3, -4]),
        ]
        let batch = Batch(rows, time: 4)
        XCTAssertEqual(batch.rows, 2)
        XCTAssertEqual(batch.time, 4)
        XCTAssertEqual(batch.ids, [1, 2, 3, 4, 9, 0, 0, 0])
        XCTAssertEqual(batch.targets, [11, 12, 13, 14, 19, -100, -100, -100])
        XCTAssertEqual(batch.positions, [0, 1, 2, 0, 0, 1, 2, 3])
        // The second row's documents are shifted by 4 (the tokens before it): real ones up, padding down.
        XCTAssertEqual(batch.documents, [0, 0, 0, 1, 4, -6, -7, -8])
        XCTAssertTrue(batch.isPacked)
        XCTAssertEqual(batch.attentionDocuments, [0, 0, 0, 1, 4, -6, -7, -8])
        XCTAssertEqual(batch.tokenCount, 5)

        let unpacked = Batch([rows[1], rows[1]], time: 4)
        XCTAssertEqual(unpacked.documents, [0, -2, -3, -4, 4, -6, -7, -8])
        XCTAssertFalse(unpacked.isPacked)
        XCTAssertNil(unpacked.attentionDocuments)
        XCTAssertEqual(unpacked.tokenCount, 2)

        let empty = Batch([PackedRow](), time: 4)
        XCTAssertEqual(empty.rows, 0)
        XCTAssertEqual(empty.ids, [])
        XCTAssertEqual(empty.tokenCount, 0)
    }
}
