import Gemma

extension TrainingData {
    /// Pretraining text rows from a raw file (``text(_:tokenizer:seqLen:packing:overlong:skipBadRows:)``,
    /// tokenized now) or from a directory prepared by `gemma-train data prepare` (``PreparedRows``: the same
    /// rows, cut on demand from memory-mapped tokens; `skipBadRows` was decided when it was prepared).
    /// - Throws: ``DataError`` naming the file or the directory, e.g. a directory prepared with another
    ///   tokenizer.
    public static func textRows(_ path: String, tokenizer: SentencePieceTokenizer, seqLen: Int, packing: Bool,
                                overlong: Packer.Overlong, skipBadRows: Bool) throws
        -> (rows: any RowSource<PackedRow>, report: DataReport) {
        if PreparedIndex.isDirectory(path) {
            let rows = PreparedRows(tokens: try PreparedTokens(directory: path, tokenizer: tokenizer), seqLen: seqLen,
                                    padId: tokenizer.padId ?? 0, packing: packing, overlong: overlong)
            return (rows, rows.report)
        }
        let raw = try text(path, tokenizer: tokenizer, seqLen: seqLen, packing: packing, overlong: overlong,
                           skipBadRows: skipBadRows)
        return (raw.rows, raw.report)
    }

    /// Throws unless `path` is a file: prepared directories hold pretraining text only, so SFT and reward
    /// data must be given as files.
    public static func requireFile(_ path: String, format: String) throws {
        guard !PreparedIndex.isDirectory(path) else {
            throw DataError(file: path, line: nil, message: "is a directory: prepared token directories hold pretraining text only; give \(format) data as a .jsonl file")
        }
    }
}
