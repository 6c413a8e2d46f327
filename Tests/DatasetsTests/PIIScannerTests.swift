import XCTest
@testable import Datasets

/// `PIIScanner`: every pattern on true positives (the exact text matched) and on the near misses it must
/// leave alone (versions, dates, ISBNs, times, numbers failing Luhn or mod 97, invalid SSN ranges); the
/// Luhn and IBAN checks on their own; scrubbing.
final class PIIScannerTests: XCTestCase {
    let scanner = PIIScanner()

    /// `(kind, matched text)` of every match in `text`.
    func found(_ text: String) -> [[String]] {
        let bytes = Array(text.utf8)
        return scanner.matches(in: bytes).map { [$0.kind.rawValue, String(decoding: bytes[$0.range], as: UTF8.self)] }
    }

    /// Asserts that `text` holds exactly `expected` of `kind` and nothing else.
    func assertFinds(_ kind: PIIKind, _ expected: [String], in text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(found(text), expected.map { [kind.rawValue, $0] }, text, file: file, line: line)
    }

    func assertNothing(in text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(found(text), [], text, file: file, line: line)
    }

    func testEmail() {
        assertFinds(.email, ["john.doe@example.com"], in: "Write to john.doe@example.com.")
        assertFinds(.email, ["a+tag_1%x@mail.sub-domain.co.uk"], in: "(a+tag_1%x@mail.sub-domain.co.uk)")
        assertFinds(.email, ["x@y.io", "Z.Q@host.org"], in: "x@y.io,Z.Q@host.org")
        assertNothing(in: "user@localhost and @handle and a@b.c and foo@bar. and name@-bad.com and @@ and a@.com")
    }

    func testPhone() {
        assertFinds(.phone, ["(555) 123-4567"], in: "Call (555) 123-4567 today")
        assertFinds(.phone, ["555-123-4567", "555.123.4567", "555 123 4567"], in: "555-123-4567 or 555.123.4567 or 555 123 4567")
        assertFinds(.phone, ["020 7946 0958", "0161 496 0000", "07700 900123"], in: "020 7946 0958; 0161 496 0000; 07700 900123")
        assertFinds(.phone, ["+44 20 7946 0958", "+1 (555) 123-4567", "+33 1 23 45 67 89", "+4915112345678"],
                    in: "+44 20 7946 0958, +1 (555) 123-4567, +33 1 23 45 67 89, +4915112345678")
        assertFinds(.phone, ["+44 (0)20 7946 0958"], in: "tel: +44 (0)20 7946 0958.")
        // Dates, times, mixed separators, parts of longer numbers, too few or too many digits.
        assertNothing(in: "2024-01-15, 01/15/2024, 15.01.2024, 12:30:45, 555-123.4567, 1555-123-4567, 555-123-45678")
        assertNothing(in: "+1234 and 3+4=7 and +12 345 and 1+555-123-4567x and 02 1234 and 555-1234")
    }

    func testIPAddresses() {
        assertFinds(.ipAddress, ["192.168.1.10", "10.0.0.1", "255.255.255.255", "1.2.3.4"],
                    in: "hosts 192.168.1.10, 10.0.0.1:8080, 255.255.255.255 and 1.2.3.4.")
        assertFinds(.ipAddress, ["2001:db8::8a2e:370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "fe80::1"],
                    in: "v6 2001:db8::8a2e:370:7334 and 2001:0db8:85a3:0000:0000:8a2e:0370:7334 or fe80::1:")
        // Octets over 255, leading zeros, five parts, versions, times, MAC addresses, C++ scopes.
        assertNothing(in: "256.1.1.1 and 01.2.3.4 and 1.2.3.4.5 and 1.2.3")
        assertNothing(in: "v1.2.3.4, version 1.2.3.4, Version 10.0.0.1, ver 2.0.1.3")
        assertNothing(in: "12:30:45 and 00:1A:2B:3C:4D:5E and std::vector and a::b and 1:2:3:4:5:6:7:8:9 and 1::2::3")
    }

    func testCreditCards() {
        assertFinds(.creditCard, ["4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "3782 822463 10005", "6011000990139424"],
                    in: "4111 1111 1111 1111; 5500-0000-0000-0004; 340000000000009; 3782 822463 10005; 6011000990139424")
        // Luhn fails, other groupings, mixed separators, a first digit no card has, all one digit, too short.
        assertNothing(in: "4111 1111 1111 1112, 4111-1111 1111-1111, 41111 1111 1111 111, 9111111111111111 (Luhn-valid, starts 9)")
        assertNothing(in: "2222222222222222 and 411111111111 and order 12345678901234567 and ISBN 978-0-306-40615-7")
    }

    func testLuhn() {
        XCTAssertTrue(Checksums.luhn(Array("4111111111111111".utf8)))
        XCTAssertTrue(Checksums.luhn(Array("79927398713".utf8)))
        XCTAssertFalse(Checksums.luhn(Array("79927398710".utf8)))
        XCTAssertFalse(Checksums.luhn(Array("4111111111111112".utf8)))
        XCTAssertFalse(Checksums.luhn(Array("".utf8)))
        XCTAssertFalse(Checksums.luhn(Array("4111-1111".utf8)))
    }

    func testIBAN() {
        assertFinds(.iban, ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"],
                    in: "DE89 3704 0044 0532 0130 00 THEN GB82WEST12345698765432, FR14 2004 1010 0505 0001 3M02 606.")
        assertFinds(.iban, ["NL91 ABNA 0417 1643 00"], in: "IBAN NL91 ABNA 0417 1643 00 ABCD")
        // A wrong check digit, a changed digit, too short, lower case, glued to a word.
        assertNothing(in: "DE88 3704 0044 0532 0130 00, GB82WEST12345698765433, DE89 3704, de89370400440532013000, XDE89370400440532013000")
        XCTAssertTrue(Checksums.iban(Array("DE89370400440532013000".utf8)))
        XCTAssertTrue(Checksums.iban(Array("GB82WEST12345698765432".utf8)))
        XCTAssertFalse(Checksums.iban(Array("GB82WEST12345698765423".utf8)))
        XCTAssertFalse(Checksums.iban(Array("GB82".utf8)))
    }

    func testSSN() {
        assertFinds(.ssn, ["123-45-6789", "899-01-0001"], in: "SSN 123-45-6789, and 899-01-0001.")
        // Area 000, 666, 9xx; group 00; serial 0000; other shapes; inside longer numbers.
        assertNothing(in: "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000 123-456-789 1123-45-6789 123-45-67890 123 45 6789")
    }

    func testSecrets() {
        assertFinds(.secret, ["AKIAIOSFODNN7EXAMPLE"], in: "aws AKIAIOSFODNN7EXAMPLE here")
        assertFinds(.secret, ["sk-proj-4f9aB2cD3eF4gH5iJ6kL7mN8"], in: "OPENAI=sk-proj-4f9aB2cD3eF4gH5iJ6kL7mN8")
        assertFinds(.secret, ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"], in: "token ghp_abcdefghijklmnopqrstuvwxyz0123456789.")
        assertFinds(.secret, ["xoxb-123456789012-abcdefGHIJ"], in: "slack: xoxb-123456789012-abcdefGHIJ")
        assertFinds(.secret, ["AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"], in: "key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q")
        // Assignments: only the value, for names ending in a secret word, for random-looking values.
        assertFinds(.secret, ["a8F3kLq9ZxP2mN7vR4tY"], in: "api_key=\"a8F3kLq9ZxP2mN7vR4tY\"")
        assertFinds(.secret, ["Zm9vYmFyYmF6cXV4MTIzNDU2"], in: "\"clientSecret\": \"Zm9vYmFyYmF6cXV4MTIzNDU2\",")
        assertFinds(.secret, ["9f8e7d6c5b4a39281706f5e4d3c2b1a0"], in: "export GITHUB_TOKEN = 9f8e7d6c5b4a39281706f5e4d3c2b1a0.")
        assertFinds(.secret, ["c2VjcmV0LXRva2VuLTEyMzQ1Ng=="], in: "secret: 'c2VjcmV0LXRva2VuLTEyMzQ1Ng==' (base64)")
        // Not secrets: short or plain values, names that only end in the letters, prose, prefixes with short bodies.
        assertNothing(in: "password=hunter2 and token: aaaaaaaaaaaaaaaaaaaa and monkey=Abc123Def456Ghi789 and key: value")
        assertNothing(in: "the secret = averyveryverylongplainword and sk-learn and ghp_short and AKIA123 and xoxb-1")
        assertNothing(in: "AKIAIOSFODNN7EXAMPLEX (17 after the prefix) and TASKIAIOSFODNN7EXAMPLE")
    }

    func testPrivateKeyBlocks() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"
        assertFinds(.secret, [pem], in: "key:\n\(pem)\nthanks")
        let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU"
        assertFinds(.secret, [cut], in: "pasted \(cut)")
        assertNothing(in: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE----- and -----BEGIN PUBLIC KEY-----")
    }

    /// Runs that every position could start a match in are scanned once, not from each start: a megabyte
    /// of each takes well under the limit (a quadratic scan would take minutes).
    func testLongRunsScanInLinearTime() {
        for unit in ["1 ", "12-", "key=", "sk-", "AB12 ", "+1 ", "a@", "1.", "-----BEGIN RSA PRIVATE KEY-----"] {
            let text = Array(String(repeating: unit, count: (1 << 20) / unit.utf8.count).utf8)
            let start = ContinuousClock.now
            _ = scanner.matches(in: text)
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), unit)
        }
    }

    func testScrubReplacesEveryMatchWithItsPlaceholder() {
        XCTAssertEqual(scanner.scrub("Mail a@b.org, call 555-123-4567, card 4111111111111111, host 10.1.2.3, SSN 123-45-6789."),
                       "Mail <EMAIL>, call <PHONE>, card <CREDIT_CARD>, host <IP_ADDRESS>, SSN <SSN>.")
        XCTAssertEqual(scanner.scrub("IBAN GB82WEST12345698765432 key=Q2xhdWRlU2VjcmV0MTIzNDU2 ünïcödé"),
                       "IBAN <IBAN> key=<SECRET> ünïcödé")
        XCTAssertEqual(scanner.scrub("nothing here, 2024-01-15 at 12:30, v1.2.3.4"), "nothing here, 2024-01-15 at 12:30, v1.2.3.4")
        // Placeholders are themselves never matched again.
        XCTAssertEqual(scanner.scrub(scanner.scrub("a@b.org")), "<EMAIL>")
    }
}
