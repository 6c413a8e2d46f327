import Foundation

/// A kind of personal or secret data that ``PIIScanner`` finds.
public enum PIIKind: String, CaseIterable, Sendable, Comparable {
    case email = "EMAIL", phone = "PHONE", ipAddress = "IP_ADDRESS", creditCard = "CREDIT_CARD", iban = "IBAN"
    case ssn = "SSN", secret = "SECRET"

    /// What replaces a match: `<EMAIL>`, `<PHONE>`, ...
    public var placeholder: String { "<\(rawValue)>" }

    public static func < (a: PIIKind, b: PIIKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One match: its kind and byte range in the scanned UTF-8 text.
public struct PIIMatch: Equatable, Sendable {
    public let kind: PIIKind
    public let range: Range<Int>
}

/// Finds e-mail addresses, phone numbers, IP addresses, payment card numbers, IBANs, US social security
/// numbers and secrets (API keys, key assignments, PEM private keys) in UTF-8 text, by hand-written
/// byte scanners (one pass, no regular expressions); Docs/Data.md lists what each one matches and
/// the near misses it deliberately leaves alone.
///
/// Numbers must stand alone: a match starts after a non-word byte (not after a digit and `.` or `-`)
/// and ends before one, so parts of longer numbers, dates, versions and identifiers never match. Card
/// numbers must pass the Luhn test, IBANs the mod-97 check, SSNs the issuing rules.
public struct PIIScanner: Sendable {
    public init() {}

    /// The matches in `text`, in order, not overlapping.
    public func matches(in text: [UInt8]) -> [PIIMatch] {
        text.withUnsafeBufferPointer { Scan(t: $0).run() }
    }

    /// `text` with every match replaced by its kind's placeholder, and the matches (ranges in `text`).
    public func scrub(_ text: [UInt8]) -> (text: [UInt8], matches: [PIIMatch]) {
        let found = matches(in: text)
        guard !found.isEmpty else { return (text, []) }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var last = 0
        for m in found {
            out += text[last..<m.range.lowerBound]
            out += m.kind.placeholder.utf8
            last = m.range.upperBound
        }
        out += text[last...]
        return (out, found)
    }

    /// `text` with every match replaced by its placeholder.
    public func scrub(_ text: String) -> String {
        String(decoding: scrub(Array(text.utf8)).text, as: UTF8.self)
    }
}

/// One scan of one text.
private struct Scan {
    let t: UnsafeBufferPointer<UInt8>
    var n: Int { t.count }

    func run() -> [PIIMatch] {
        let emails = self.emails()
        var out: [PIIMatch] = []
        var nextEmail = 0
        var i = 0
        while i < n {
            if nextEmail < emails.count, emails[nextEmail].range.lowerBound <= i {
                let email = emails[nextEmail]
                nextEmail += 1
                guard email.range.lowerBound == i else { continue }  // inside a match already taken
                out.append(email)
                i = email.range.upperBound
                continue
            }
            if let m = match(at: i) {
                out.append(m)
                i = m.range.upperBound
            } else {
                i += 1
            }
        }
        return out
    }

    // MARK: Character classes

    func isDigit(_ b: UInt8) -> Bool { b &- 48 < 10 }
    func isUpper(_ b: UInt8) -> Bool { b &- 65 < 26 }
    func isLower(_ b: UInt8) -> Bool { b &- 97 < 26 }
    func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isUpper(b) || isLower(b) }
    func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 97 < 6 }
    /// Letters, digits, `_` and every non-ASCII byte: what continues a word.
    func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 95 || b >= 0x80 }

    /// Whether a token may start at `i`: after a non-word byte, and not after a digit and `.` or `-`
    /// (the middle of a longer number).
    func startsToken(_ i: Int) -> Bool {
        guard i > 0 else { return true }
        let p = t[i - 1]
        if isWord(p) { return false }
        return !((p == 46 || p == 45) && i >= 2 && isDigit(t[i - 2]))
    }

    /// Whether a token may end at `j`: before a non-word byte, and not before `.` or `-` and a digit.
    func endsToken(_ j: Int) -> Bool {
        guard j < n else { return true }
        let b = t[j]
        if isWord(b) { return false }
        return !((b == 46 || b == 45) && j + 1 < n && isDigit(t[j + 1]))
    }

    /// The end of a run of digits starting at `i` (`i` when none).
    func digitRun(_ i: Int) -> Int {
        var j = i
        while j < n && isDigit(t[j]) { j += 1 }
        return j
    }

    func hasPrefix(_ prefix: StaticString, at i: Int) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard i + count <= n else { return false }
        let p = prefix.utf8Start
        for k in 0..<count where t[i + k] != p[k] { return false }
        return true
    }

    // MARK: Dispatch

    func match(at i: Int) -> PIIMatch? {
        let b = t[i]
        if b == 45 { return privateKey(at: i) }  // "-----BEGIN ... PRIVATE KEY-----"
        if b == 61 || b == 58, let m = assignment(at: i) { return m }  // "=" or ":"
        guard startsToken(i) else { return nil }
        if isDigit(b) {
            return card(at: i) ?? ssn(at: i) ?? ipv4(at: i) ?? nationalPhone(at: i) ?? ipv6(at: i)
        }
        if b == 40 { return nationalPhone(at: i) }  // "("
        if b == 43 { return internationalPhone(at: i) }  // "+"
        if isUpper(b) || isLower(b) {
            return (isUpper(b) ? iban(at: i) : nil) ?? keyToken(at: i) ?? (isHex(b) ? ipv6(at: i) : nil)
        }
        return nil
    }

    // MARK: E-mail

    /// Every `local@domain.tld`: a local part of `A-Za-z0-9._%+-`, a domain of two or more labels of
    /// letters, digits and inner hyphens, a top-level label of two or more letters.
    func emails() -> [PIIMatch] {
        var out: [PIIMatch] = []
        var floor = 0
        var at = 0
        while at < n {
            guard t[at] == 64 else { at += 1; continue }  // "@"
            var start = at
            while start > floor, isAlnum(t[start - 1]) || [46, 95, 37, 43, 45].contains(t[start - 1]) { start -= 1 }
            while start < at, t[start] == 46 { start += 1 }
            var end = at + 1
            while end < n, isAlnum(t[end]) || t[end] == 46 || t[end] == 45 { end += 1 }
            while end > at + 1, t[end - 1] == 46 || t[end - 1] == 45 { end -= 1 }
            if start < at, at - start <= 64, validDomain(at + 1..<end) {
                out.append(PIIMatch(kind: .email, range: start..<end))
                floor = end
                at = end
            } else {
                at += 1
            }
        }
        return out
    }

    func validDomain(_ r: Range<Int>) -> Bool {
        let labels = t[r].split(separator: 46, omittingEmptySubsequences: false)
        guard labels.count >= 2, let top = labels.last, top.count >= 2, top.allSatisfy({ isUpper($0) || isLower($0) }) else {
            return false
        }
        return labels.allSatisfy { !$0.isEmpty && $0.first != 45 && $0.last != 45 }
    }

    // MARK: Numbers

    /// 13-19 digits starting 2-6, together or in groups (4-4-4-4[-1..3], 4-6-5, 4-6-4) split by one kind
    /// of separator (space or `-`), not all one digit, passing the Luhn test.
    func card(at i: Int) -> PIIMatch? {
        var groups: [Int] = [], separator: UInt8?
        var j = i
        while true {
            let end = digitRun(j)
            groups.append(end - j)
            j = end
            guard groups.reduce(0, +) <= 19 else { return nil }  // never rescan a long run of numbers from each start
            guard j + 1 < n, t[j] == 32 || t[j] == 45, separator == nil || separator == t[j], isDigit(t[j + 1]) else { break }
            separator = t[j]
            j += 1
        }
        let total = groups.reduce(0, +)
        guard (13...19).contains(total), (50...54).contains(t[i]), endsToken(j) else { return nil }
        if groups.count > 1 {
            let fours = groups.dropLast().allSatisfy { $0 == 4 } && (1...4).contains(groups.last!)
            guard fours || groups == [4, 6, 5] || groups == [4, 6, 4] else { return nil }
        }
        let digits = t[i..<j].lazy.filter { self.isDigit($0) }
        guard digits.contains(where: { $0 != t[i] }), Checksums.luhn(digits) else { return nil }
        return PIIMatch(kind: .creditCard, range: i..<j)
    }

    /// `AAA-GG-SSSS` as issued: area not 000, 666 or 9xx, group not 00, serial not 0000.
    func ssn(at i: Int) -> PIIMatch? {
        guard i + 11 <= n, digitRun(i) == i + 3, t[i + 3] == 45, digitRun(i + 4) == i + 6, t[i + 6] == 45,
              digitRun(i + 7) == i + 11, endsToken(i + 11) else { return nil }
        func number(_ r: Range<Int>) -> Int { t[r].reduce(0) { $0 * 10 + Int($1) - 48 } }
        let area = number(i..<i + 3), group = number(i + 4..<i + 6), serial = number(i + 7..<i + 11)
        guard area != 0, area != 666, area < 900, group != 0, serial != 0 else { return nil }
        return PIIMatch(kind: .ssn, range: i..<i + 11)
    }

    /// A dotted quad of 0-255 without leading zeros, not after the word `version`, `ver` or `v`.
    func ipv4(at i: Int) -> PIIMatch? {
        var j = i
        for part in 0..<4 {
            let end = digitRun(j)
            guard (1...3).contains(end - j), end - j == 1 || t[j] != 48 else { return nil }
            guard t[j..<end].reduce(0, { $0 * 10 + Int($1) - 48 }) <= 255 else { return nil }
            j = end
            if part < 3 {
                guard j < n, t[j] == 46 else { return nil }
                j += 1
            }
        }
        guard endsToken(j), !afterVersionWord(i) else { return nil }
        return PIIMatch(kind: .ipAddress, range: i..<j)
    }

    /// Whether the word before `i` (spaces skipped) is `version`, `ver` or `v`, any case.
    func afterVersionWord(_ i: Int) -> Bool {
        var k = i
        while k > 0, t[k - 1] == 32 { k -= 1 }
        var start = k
        while start > 0, isUpper(t[start - 1]) || isLower(t[start - 1]) { start -= 1 }
        let word = String(decoding: t[start..<k].map { $0 | 0x20 }, as: UTF8.self)
        return ["version", "ver", "v"].contains(word)
    }

    /// National formats: `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `555 123 4567` (one kind of
    /// separator), and trunk-prefixed numbers `020 7946 0958`, `0161 496 0000`, `07700 900123` (a first
    /// group starting with 0, groups of 3 or more digits split by spaces, 10-11 digits in all).
    func nationalPhone(at i: Int) -> PIIMatch? {
        if t[i] == 40 {  // "(555) 123-4567"
            guard digitRun(i + 1) == i + 4, i + 5 < n, t[i + 4] == 41 else { return nil }
            var j = i + 5
            if t[j] == 32 { j += 1 }
            guard digitRun(j) == j + 3, j + 3 < n, t[j + 3] == 45 || t[j + 3] == 46 || t[j + 3] == 32,
                  digitRun(j + 4) == j + 8, endsToken(j + 8) else { return nil }
            return PIIMatch(kind: .phone, range: i..<j + 8)
        }
        if digitRun(i) == i + 3, i + 3 < n, [32, 45, 46].contains(t[i + 3]) {  // "555-123-4567"
            let s = t[i + 3]
            if digitRun(i + 4) == i + 7, i + 7 < n, t[i + 7] == s, digitRun(i + 8) == i + 12, endsToken(i + 12) {
                return PIIMatch(kind: .phone, range: i..<i + 12)
            }
        }
        guard t[i] == 48 else { return nil }  // a trunk prefix
        var groups: [Int] = []
        var j = i
        while true {
            let end = digitRun(j)
            groups.append(end - j)
            j = end
            guard groups.count < 3, j + 1 < n, t[j] == 32, isDigit(t[j + 1]) else { break }
            j += 1
        }
        let total = groups.reduce(0, +)
        guard groups.count >= 2, (3...5).contains(groups[0]), groups.allSatisfy({ $0 >= 3 }), (10...11).contains(total),
              endsToken(j) else { return nil }
        return PIIMatch(kind: .phone, range: i..<j)
    }

    /// `+` and a country code, then digits in groups split by single spaces, `-` or `.` (a group may be in
    /// parentheses, as in `+44 (0)20 7946 0958`): 8-15 digits in all.
    func internationalPhone(at i: Int) -> PIIMatch? {
        var j = i + 1, digits = 0
        guard j < n, isDigit(t[j]), t[j] != 48 else { return nil }
        while j < n, digits <= 15 {
            if isDigit(t[j]) {
                let end = digitRun(j)
                digits += end - j
                j = end
            } else if t[j] == 40, j > i + 1, case let end = digitRun(j + 1), end > j + 1, end < n, t[end] == 41 {
                digits += end - j - 1
                j = end + 1
            } else if [32, 45, 46].contains(t[j]), j + 1 < n, isDigit(t[j + 1]) || t[j + 1] == 40 {
                j += 1
            } else {
                break
            }
        }
        guard (8...15).contains(digits), endsToken(j) else { return nil }
        return PIIMatch(kind: .phone, range: i..<j)
    }

    /// Hex groups split by `:`: eight groups, or fewer with one `::`; groups of 1-4 hex digits; at least two
    /// groups and at least one decimal digit (so `a::b` in code is left alone); not after a colon.
    func ipv6(at i: Int) -> PIIMatch? {
        guard i == 0 || t[i - 1] != 58 else { return nil }  // inside a longer run of colons and groups
        var j = i
        while j < n, isHex(t[j]) || t[j] == 58 { j += 1 }
        if j - i >= 2, t[j - 1] == 58, t[j - 2] != 58 { j -= 1 }  // a sentence's colon after the address
        let text = t[i..<j]
        guard endsToken(j), text.contains(58), text.contains(where: isDigit) else { return nil }
        let doubles = (i..<j - 1).filter { t[$0] == 58 && t[$0 + 1] == 58 }.count
        let parts = text.split(separator: 58, omittingEmptySubsequences: false)
        let groups = parts.filter { !$0.isEmpty }
        guard groups.count >= 2, groups.allSatisfy({ $0.count <= 4 }) else { return nil }
        if doubles == 0 { return parts.count == 8 && groups.count == 8 ? PIIMatch(kind: .ipAddress, range: i..<j) : nil }
        // One "::" (":::" counts twice); a single colon never starts or ends the address.
        guard doubles == 1, groups.count <= 7, text.first != 58 || t[i + 1] == 58, text.last != 58 || t[j - 2] == 58 else {
            return nil
        }
        return PIIMatch(kind: .ipAddress, range: i..<j)
    }

    /// Two letters, two digits, then 11-30 letters and digits, together or in groups of four split by
    /// single spaces; the longest such run that passes the mod-97 check.
    func iban(at i: Int) -> PIIMatch? {
        guard i + 4 < n, isUpper(t[i + 1]), isDigit(t[i + 2]), isDigit(t[i + 3]) else { return nil }
        func ibanChar(_ b: UInt8) -> Bool { isUpper(b) || isDigit(b) }
        var ends: [Int] = []
        var j = i + 4
        if ibanChar(t[j]) {
            while j < n, ibanChar(t[j]) { j += 1 }
            ends = [j]
        } else {
            while j + 1 < n, t[j] == 32, ibanChar(t[j + 1]), ends.count < 8 {  // 34 characters at most
                let start = j + 1
                j = start
                while j < n, ibanChar(t[j]), j - start < 5 { j += 1 }
                guard j - start <= 4 else { break }
                ends.append(j)
                if j - start < 4 { break }
            }
        }
        for end in ends.reversed() where endsToken(end) {
            if Checksums.iban(t[i..<end].filter { $0 != 32 }) { return PIIMatch(kind: .iban, range: i..<end) }
        }
        return nil
    }

    // MARK: Secrets

    /// Vendor key formats: a fixed prefix, then a body of allowed bytes, of a minimum length (at most 512),
    /// holding a digit.
    static let keyFormats: [(prefix: StaticString, body: KeyBody, minimum: Int)] = [
        ("AKIA", .upperDigits, 16), ("ASIA", .upperDigits, 16), ("AIza", .urlSafe, 35),
        ("sk-", .urlSafe, 20), ("sk_live_", .alnum, 16), ("sk_test_", .alnum, 16), ("rk_live_", .alnum, 16),
        ("ghp_", .alnum, 36), ("gho_", .alnum, 36), ("ghu_", .alnum, 36), ("ghs_", .alnum, 36), ("ghr_", .alnum, 36),
        ("github_pat_", .urlSafe, 22), ("glpat-", .urlSafe, 20),
        ("xoxb-", .slack, 10), ("xoxp-", .slack, 10), ("xoxa-", .slack, 10), ("xoxs-", .slack, 10),
    ]

    enum KeyBody { case upperDigits, alnum, urlSafe, slack }

    func inBody(_ b: UInt8, _ body: KeyBody) -> Bool {
        switch body {
        case .upperDigits: return isUpper(b) || isDigit(b)
        case .alnum: return isAlnum(b)
        case .urlSafe: return isAlnum(b) || b == 95 || b == 45
        case .slack: return isAlnum(b) || b == 45
        }
    }

    /// An API key in a vendor's format (`AKIA...`, `sk-...`, `ghp_...`, `xoxb-...`, ...).
    func keyToken(at i: Int) -> PIIMatch? {
        guard [65, 115, 114, 103, 120].contains(t[i]) else { return nil }  // A s r g x: the prefixes' first letters
        for format in Self.keyFormats where hasPrefix(format.prefix, at: i) {
            let start = i + format.prefix.utf8CodeUnitCount
            var j = start
            while j < n, j - start <= 512, inBody(t[j], format.body) { j += 1 }
            if format.body == .upperDigits, j - start > format.minimum { return nil }
            guard (format.minimum...512).contains(j - start), endsToken(j), t[start..<j].contains(where: isDigit) else { continue }
            return PIIMatch(kind: .secret, range: i..<j)
        }
        return nil
    }

    /// Names whose last part (split at `_`, `-`, `.` and lower-to-upper case changes) marks a secret value.
    static let secretNames: Set<String> = ["key", "apikey", "token", "secret", "password", "passwd", "pwd"]

    /// The value of `name = value` or `name: value` (quotes allowed around either) when the name ends in a
    /// secret word (``secretNames``) and the value is a long random-looking token: 16 to 4096 bytes of
    /// `A-Za-z0-9_-+/.~` (then any `=` padding), two kinds of character among lower, upper and digits,
    /// over 3 bits of entropy per byte. Only the value is replaced.
    func assignment(at i: Int) -> PIIMatch? {
        var k = i
        while k > 0, t[k - 1] == 32 { k -= 1 }
        if k > 0, t[k - 1] == 34 || t[k - 1] == 39 { k -= 1 }
        var start = k
        while start > 0, isAlnum(t[start - 1]) || [95, 45, 46].contains(t[start - 1]) { start -= 1 }
        guard start < k, Self.secretNames.contains(lastNamePart(start..<k)) else { return nil }
        var v = i + 1
        while v < n, t[v] == 32 { v += 1 }
        if v < n, t[v] == 34 || t[v] == 39 { v += 1 }
        var end = v
        while end < n, end - v <= 4096, isAlnum(t[end]) || [95, 45, 43, 47, 46, 126].contains(t[end]) { end += 1 }
        while end > v, t[end - 1] == 46 { end -= 1 }  // a full stop after the value
        while end < n, end - v <= 4096, t[end] == 61 { end += 1 }  // base64 padding "=" ends a value
        let value = t[v..<end]
        guard (16...4096).contains(value.count), endsToken(end) || t[end] == 46 else { return nil }
        let kinds = [value.contains(where: isLower), value.contains(where: isUpper), value.contains(where: isDigit)]
        guard kinds.filter({ $0 }).count >= 2, entropy(value) > 3 else { return nil }
        return PIIMatch(kind: .secret, range: v..<end)
    }

    func lastNamePart(_ r: Range<Int>) -> String {
        var start = r.upperBound
        while start > r.lowerBound {
            let b = t[start - 1]
            if b == 95 || b == 45 || b == 46 { break }
            start -= 1
            if isUpper(b), start > r.lowerBound, isLower(t[start - 1]) { break }  // "apiKey"
        }
        return String(decoding: t[start..<r.upperBound].map { isUpper($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Shannon entropy of the byte distribution, bits per byte.
    func entropy(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        for b in bytes { counts[Int(b)] += 1 }
        let total = Double(bytes.count)
        return counts.reduce(0.0) { sum, c in c == 0 ? sum : sum - Double(c) / total * log2(Double(c) / total) }
    }

    /// A PEM private-key block, `-----BEGIN [...] PRIVATE KEY-----` to the matching `-----END [...] PRIVATE
    /// KEY-----`, or to the end of the text when the end line is missing (a cut key is still a secret).
    func privateKey(at i: Int) -> PIIMatch? {
        guard hasPrefix("-----BEGIN ", at: i) else { return nil }
        var j = i + 11
        while j < n, j - i < 64, isUpper(t[j]) || t[j] == 32 { j += 1 }
        guard j >= i + 11 + 11, hasPrefix("-----", at: j),
              String(decoding: t[i + 11..<j], as: UTF8.self).hasSuffix("PRIVATE KEY") else { return nil }
        var k = j + 5
        while k < n {
            if hasPrefix("-----END ", at: k) {
                var e = k + 9
                while e < n, e - k < 64, isUpper(t[e]) || t[e] == 32 { e += 1 }
                if hasPrefix("-----", at: e), String(decoding: t[k + 9..<e], as: UTF8.self).hasSuffix("PRIVATE KEY") {
                    return PIIMatch(kind: .secret, range: i..<e + 5)
                }
            }
            k += 1
        }
        return PIIMatch(kind: .secret, range: i..<n)
    }
}
