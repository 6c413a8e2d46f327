/// Encoding: normalization (normalizer.cc), BPE merging (bpe_model.cc) and byte fallback
/// (SentencePieceProcessor::PopulateSentencePieceText), in that order.
///
/// Legend: `n` = the normalized text's UTF-8 bytes; a symbol is a span of `n`; a pair is two adjacent symbols.
/// Merging is O(n log n): symbols form a doubly linked list over an array, candidate pairs sit in a max-heap keyed by
/// (score, -left index), and a popped pair whose symbols changed since it was pushed is skipped. Pieces are looked up
/// by byte span in `PieceTable`, so the loop allocates nothing per merge.
extension SentencePieceTokenizer {
    /// The ids of `text`, without `<bos>` or `<eos>` (as `sentencepiece`'s `encode`).
    public func encode(_ text: String) -> [Int32] {
        var ranges: [Range<Int>] = []
        return encode(text, offsets: false, ranges: &ranges)
    }

    /// The ids of `text` and, for each id, the UTF-8 byte range of `text` it covers. The byte pieces of one
    /// character all cover that character; pieces that cover no text (a dummy-prefix U+2581) have empty ranges.
    func encodeWithOffsets(_ text: String) -> (ids: [Int32], ranges: [Range<Int>]) {
        var ranges: [Range<Int>] = []
        let ids = encode(text, offsets: true, ranges: &ranges)
        return (ids, ranges)
    }

    private func encode(_ text: String, offsets: Bool, ranges: inout [Range<Int>]) -> [Int32] {
        var text = text
        return text.withUTF8 { input in
            let (normalized, normToOrig) = normalize(input, withOffsets: offsets)
            if normalized.isEmpty { return [] }
            return normalized.withUnsafeBufferPointer { n in
                let pieces = mergeChunks(n)
                var ids: [Int32] = []
                ids.reserveCapacity(pieces.count)
                var previousWasUnknown = false
                for piece in pieces {
                    let id = piece.id
                    let isUnknown = id == unkId
                    let end = Int(piece.start + piece.length)
                    let range = offsets ? Int(normToOrig[Int(piece.start)])..<Int(normToOrig[end]) : 0..<0
                    if isUnknown && byteFallback {
                        for k in 0..<Int(piece.length) {
                            ids.append(byteIds[Int(n[Int(piece.start) + k])])
                            if offsets { ranges.append(range) }
                        }
                    } else if isUnknown && previousWasUnknown {
                        // A run of unknown symbols is one <unk> (as SentencePiece).
                        if offsets { ranges[ranges.count - 1] = ranges.last!.lowerBound..<range.upperBound }
                    } else {
                        ids.append(id)
                        if offsets { ranges.append(range) }
                    }
                    previousWasUnknown = isUnknown
                }
                return ids
            }
        }
    }

    // MARK: Normalization

    /// `input` with `' '` -> U+2581 (if `escape_whitespaces`), a leading U+2581 (if `add_dummy_prefix`) and runs of
    /// spaces collapsed, leading and trailing ones removed (if `remove_extra_whitespaces`). `normToOrig[i]` is the
    /// input offset of normalized byte `i` (one extra entry for the end), computed only `withOffsets`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>, withOffsets: Bool) -> (bytes: [UInt8], normToOrig: [Int32]) {
        var out: [UInt8] = []
        var map: [Int32] = []
        if input.isEmpty { return (out, map) }
        out.reserveCapacity(input.count + input.count / 4 + 8)
        let space = escapeWhitespaces ? Self.spaceSymbol : [0x20]

        if !addDummyPrefix && !removeExtraWhitespaces {  // Gemma: a byte-wise map
            if withOffsets {
                map.reserveCapacity(input.count + input.count / 4 + 8)
                for (i, byte) in input.enumerated() {
                    if byte == 0x20 {
                        out.append(contentsOf: space)
                        for _ in space { map.append(Int32(i)) }
                    } else {
                        out.append(byte)
                        map.append(Int32(i))
                    }
                }
                map.append(Int32(input.count))
            } else if escapeWhitespaces {
                for byte in input {
                    if byte == 0x20 { out.append(0xE2); out.append(0x96); out.append(0x81) } else { out.append(byte) }
                }
            } else {
                out.append(contentsOf: input)
            }
            return (out, map)
        }

        // The general case, unit by unit as Normalizer::Normalize: a unit is a user-defined piece or one character.
        let base = input.baseAddress!
        func unitLength(_ at: Int) -> Int {
            let matched = userDefined.longestMatch(base + at, input.count - at)
            return matched > 0 ? matched : min(input.count - at, Self.utf8Length(input[at]))
        }
        var consumed = 0
        if removeExtraWhitespaces {
            while consumed < input.count && input[consumed] == 0x20 && unitLength(consumed) == 1 { consumed += 1 }
            if consumed == input.count { return (out, map) }
        }
        if addDummyPrefix {
            out.append(contentsOf: space)
            for _ in space { map.append(Int32(consumed)) }
        }
        var previousIsSpace = removeExtraWhitespaces
        while consumed < input.count {
            let length = unitLength(consumed)
            var start = consumed
            let end = consumed + length
            while previousIsSpace && start < end && input[start] == 0x20 { start += 1 }
            if start < end {
                for k in start..<end {
                    if escapeWhitespaces && input[k] == 0x20 {
                        out.append(contentsOf: Self.spaceSymbol)
                        map.append(contentsOf: [Int32(consumed), Int32(consumed), Int32(consumed)])
                    } else {
                        out.append(input[k])
                        map.append(Int32(consumed))
                    }
                }
                previousIsSpace = input[end - 1] == 0x20
            }
            consumed = end
            if !removeExtraWhitespaces { previousIsSpace = false }
        }
        if removeExtraWhitespaces {
            while out.count >= space.count && out[(out.count - space.count)...].elementsEqual(space) {
                let length = out.count - space.count
                consumed = Int(map[length])
                out.removeLast(space.count)
                map.removeLast(space.count)
            }
        }
        map.append(Int32(consumed))
        return (out, map)
    }

    /// The length of the UTF-8 sequence its lead byte announces (SentencePiece's `OneCharLen`).
    @inline(__always)
    static func utf8Length(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    // MARK: BPE

    struct Piece {
        var id: Int32
        var start: Int32
        var length: Int32
    }

    /// The pieces of `n`, merged in chunks of about `chunkBytes` when `mergesStopAtSpaces`: a chunk starts at a
    /// U+2581 that follows another character, and no piece spans such a point, so no merge crosses it and each
    /// chunk merges exactly as it would inside the whole text. This keeps the agenda small on long texts.
    private func mergeChunks(_ n: UnsafeBufferPointer<UInt8>) -> [Piece] {
        var pieces: [Piece] = []
        pieces.reserveCapacity(n.count / 2)
        let chunkBytes = 2048
        guard mergesStopAtSpaces && n.count > 2 * chunkBytes else {
            mergePieces(n, offset: 0, into: &pieces)
            return pieces
        }
        var start = 0
        var cut = chunkBytes
        while cut + 3 <= n.count {
            if n[cut] == 0xE2 && n[cut + 1] == 0x96 && n[cut + 2] == 0x81
                && !(n[cut - 3] == 0xE2 && n[cut - 2] == 0x96 && n[cut - 1] == 0x81)
            {
                mergePieces(UnsafeBufferPointer(rebasing: n[start..<cut]), offset: Int32(start), into: &pieces)
                start = cut
                cut += chunkBytes
            } else {
                cut += 1
            }
        }
        mergePieces(UnsafeBufferPointer(rebasing: n[start...]), offset: Int32(start), into: &pieces)
        return pieces
    }

    /// Splits `n` into symbols and merges them (Model::Encode in bpe_model.cc); appends the final pieces, UNUSED
    /// ones resegmented into the pieces they were merged from, with their starts shifted by `offset`.
    private func mergePieces(_ n: UnsafeBufferPointer<UInt8>, offset: Int32, into pieces: inout [Piece]) {
        var state = BPEState(tokenizer: self, n: n)
        defer { state.symbols.deallocate() }
        state.merge()
        let first = pieces.count
        var index: Int32 = 0
        while index >= 0 {
            let symbol = state.symbols[Int(index)]
            state.emit(symbol.start, symbol.length, into: &pieces)
            index = symbol.next
        }
        if offset != 0 {
            for k in first..<pieces.count { pieces[k].start += offset }
        }
    }
}

private struct Symbol {
    var start: Int32
    var length: Int32  // 0 once merged into its left neighbour
    var prev: Int32  // -1: none
    var next: Int32  // -1: none
    var frozen: Bool  // a user-defined piece: never merged
}

private struct Pair {
    var score: Float
    var left: Int32
    var right: Int32
    var length: Int32  // bytes of the merged piece, to detect stale pairs

    /// Pops first: the higher score, then the leftmost.
    @inline(__always)
    func outranks(_ other: Pair) -> Bool {
        score > other.score || (score == other.score && left < other.left)
    }
}

/// The symbols of one text and the agenda of candidate merges (a binary max-heap).
private struct BPEState {
    let table: PieceTable
    let scores: [Float]
    let types: [PieceType]
    let unkId: Int32
    let hasUnusedPieces: Bool
    let base: UnsafePointer<UInt8>
    let symbols: UnsafeMutableBufferPointer<Symbol>  // owned: deallocated by the caller
    var heap: [Pair] = []
    var revMerge: [Int32: (left: (Int32, Int32), right: (Int32, Int32))] = [:]  // UNUSED piece -> its halves

    init(tokenizer: SentencePieceTokenizer, n: UnsafeBufferPointer<UInt8>) {
        table = tokenizer.table
        scores = tokenizer.scores
        types = tokenizer.types
        unkId = tokenizer.unkId
        hasUnusedPieces = tokenizer.hasUnusedPieces
        base = n.baseAddress!
        let storage = UnsafeMutablePointer<Symbol>.allocate(capacity: n.count)
        let userDefined = tokenizer.userDefined
        let hasUserDefined = !userDefined.isEmpty
        var position = 0
        var count = 0
        while position < n.count {
            let matched = hasUserDefined ? userDefined.longestMatch(base + position, n.count - position) : 0
            let length = matched > 0 ? matched : min(n.count - position, SentencePieceTokenizer.utf8Length(n[position]))
            let index = Int32(count)
            (storage + count).initialize(
                to: Symbol(start: Int32(position), length: Int32(length), prev: index - 1,
                           next: position + length < n.count ? index + 1 : -1, frozen: matched > 0))
            count += 1
            position += length
        }
        symbols = UnsafeMutableBufferPointer(start: storage, count: count)
        heap.reserveCapacity(count)
    }

    mutating func merge() {
        let maxLength = table.maxNormalLength
        for i in 1..<symbols.count { addPair(Int32(i - 1), Int32(i), maxLength, sift: false) }
        heap.withUnsafeMutableBufferPointer { h in  // heapify: O(n)
            var i = h.count / 2 - 1
            while i >= 0 {
                Self.siftDown(h, from: i, h[i])
                i -= 1
            }
        }
        while !heap.isEmpty {
            let top = pop()
            let l = symbols[Int(top.left)]
            let r = symbols[Int(top.right)]
            if l.length == 0 || r.length == 0 || l.length + r.length != top.length { continue }  // stale
            symbols[Int(top.left)].length = top.length
            symbols[Int(top.left)].next = r.next
            if r.next >= 0 { symbols[Int(r.next)].prev = top.left }
            symbols[Int(top.right)].length = 0
            addPair(l.prev, top.left, maxLength)
            addPair(top.left, r.next, maxLength)
        }
    }

    /// Pushes the pair (left, right) if its concatenation is a NORMAL, USER_DEFINED or UNUSED piece.
    @inline(__always)
    private mutating func addPair(_ left: Int32, _ right: Int32, _ maxLength: Int, sift: Bool = true) {
        if left < 0 || right < 0 { return }
        let l = symbols[Int(left)]
        let r = symbols[Int(right)]
        if l.frozen || r.frozen { return }
        let length = Int(l.length + r.length)
        if length > maxLength { return }
        guard let entry = table.lookup(base + Int(l.start), length), entry.normal >= 0 else { return }
        let pair = Pair(score: scores[Int(entry.normal)], left: left, right: right, length: Int32(length))
        if sift { push(pair) } else { heap.append(pair) }
        if hasUnusedPieces && types[Int(entry.normal)] == .unused {
            revMerge[entry.normal] = ((l.start, l.length), (r.start, r.length))
        }
    }

    @inline(__always)
    private mutating func push(_ pair: Pair) {
        heap.append(pair)
        heap.withUnsafeMutableBufferPointer { h in
            var child = h.count - 1
            while child > 0 {
                let parent = (child - 1) >> 1
                if !pair.outranks(h[parent]) { break }
                h[child] = h[parent]
                child = parent
            }
            h[child] = pair
        }
    }

    @inline(__always)
    private mutating func pop() -> Pair {
        let last = heap.removeLast()
        if heap.isEmpty { return last }
        return heap.withUnsafeMutableBufferPointer { h in
            let top = h[0]
            Self.siftDown(h, from: 0, last)
            return top
        }
    }

    /// Puts `item` at `index` and moves it down until both children rank below it.
    @inline(__always)
    private static func siftDown(_ h: UnsafeMutableBufferPointer<Pair>, from index: Int, _ item: Pair) {
        let count = h.count
        var parent = index
        while true {
            var best = 2 * parent + 1
            if best >= count { break }
            if best + 1 < count && h[best + 1].outranks(h[best]) { best += 1 }
            if !h[best].outranks(item) { break }
            h[parent] = h[best]
            parent = best
        }
        h[parent] = item
    }

    /// Appends the piece at `n[start..<start+length]`, resegmenting UNUSED pieces (bpe_model.cc's `resegment`).
    func emit(_ start: Int32, _ length: Int32, into pieces: inout [SentencePieceTokenizer.Piece]) {
        var id = unkId
        if let entry = table.lookup(base + Int(start), Int(length)) {
            id = entry.reserved >= 0 ? entry.reserved : (entry.normal >= 0 ? entry.normal : unkId)
        }
        if hasUnusedPieces && types[Int(id)] == .unused, let halves = revMerge[id] {
            emit(halves.left.0, halves.left.1, into: &pieces)
            emit(halves.right.0, halves.right.1, into: &pieces)
            return
        }
        pieces.append(SentencePieceTokenizer.Piece(id: id, start: start, length: length))
    }
}
