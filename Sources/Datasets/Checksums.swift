/// The check-digit tests that tell a payment card number or an IBAN from any other run of digits.
public enum Checksums {
    /// The Luhn test (ISO/IEC 7812) of a card number: from the rightmost digit, every second digit is
    /// doubled (minus 9 when over 9) and the sum of all must be a multiple of 10.
    /// - Parameter digits: ASCII digits only.
    public static func luhn(_ digits: some Collection<UInt8>) -> Bool {
        var sum = 0
        for (position, b) in digits.reversed().enumerated() {
            var d = Int(b) - 48
            guard (0...9).contains(d) else { return false }
            if position % 2 == 1 { d = d * 2 > 9 ? d * 2 - 9 : d * 2 }
            sum += d
        }
        return !digits.isEmpty && sum % 10 == 0
    }

    /// The IBAN check (ISO 13616): 15-34 characters, two letters then two digits then letters and digits;
    /// moved to the back the first four, each letter read as 10-35, the number mod 97 must be 1.
    /// - Parameter characters: The IBAN without spaces, upper-case ASCII.
    public static func iban(_ characters: some Collection<UInt8>) -> Bool {
        let c = Array(characters)
        guard (15...34).contains(c.count), isUpper(c[0]), isUpper(c[1]), isDigit(c[2]), isDigit(c[3]) else { return false }
        var remainder = 0
        for b in c[4...] + c[..<4] {
            if isDigit(b) {
                remainder = (remainder * 10 + Int(b) - 48) % 97
            } else if isUpper(b) {
                remainder = (remainder * 100 + Int(b) - 55) % 97
            } else {
                return false
            }
        }
        return remainder == 1
    }

    static func isDigit(_ b: UInt8) -> Bool { b &- 48 < 10 }
    static func isUpper(_ b: UInt8) -> Bool { b &- 65 < 26 }
}
