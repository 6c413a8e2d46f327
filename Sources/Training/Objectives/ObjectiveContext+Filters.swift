import Datasets
import Foundation

extension ObjectiveContext {
    /// `load(data.train)`, or with `data.filters` `load` of a filtered copy (rows of `format`, the one the
    /// objective reads): `data filter` with `pii` (scrub)
    /// and `dedup` (exact) as listed, its summary logged. The copy is a temporary file that keeps the
    /// input's line numbers (``DataFiltering/keepLineNumbers``), so the report and any error name
    /// `data.train` and its lines; it is removed once loaded. Every rank filters for itself (the result
    /// does not depend on the rank or the thread count).
    func loadTraining<Rows>(format: RowFormat, _ load: (String) throws -> (rows: Rows, report: DataReport)) throws
        -> (rows: Rows, report: DataReport) {
        let d = config.data
        guard !d.filters.isEmpty else { return try load(d.train) }
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-train-filtered-\(UUID().uuidString).jsonl").path
        defer { unlink(copy) }
        var filtering = DataFiltering(input: d.train, output: copy)
        filtering.format = format
        filtering.pii = d.filters.contains(.pii) ? .scrub : .off
        filtering.dedup = d.filters.contains(.dedup) ? .exact : .off
        filtering.skipBadRows = d.skipBadRows
        filtering.keepLineNumbers = true
        let report = try filtering.run()
        log("data.filters [\(d.filters.map(\.rawValue).joined(separator: ", "))]: \(report.summary)")
        do {
            var loaded = try load(copy)
            loaded.report.file = d.train
            return loaded
        } catch let error as DataError where error.file == copy {
            throw DataError(file: d.train, line: error.line, message: error.message)
        }
    }
}
