import Foundation
import XCTest
import Training

/// CRC-32C against published vectors (RFC 3720 B.4, the "123456789" check value) and against a bitwise
/// reference on every length and alignment the slicing-by-8 loop can see.
final class CRC32CTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0 ..< 32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0 ..< 32).reversed().map { UInt8($0) }), 0x113F_DB5C)
    }

    func testMask() {
        XCTAssertEqual(CRC32C.mask(0), 0xA282_EAD8)
        // rotate right by 15 then add, wrapping: 0xE3069283 -> 0x2507C60D + 0xA282EAD8
        XCTAssertEqual(CRC32C.mask(0xE306_9283), 0x2507_C60D &+ 0xA282_EAD8)
    }

    func testSlicingMatchesBitwiseAndChains() {
        func bitwise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = ~0
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0 ..< 8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        var rng = SystemRandomNumberGenerator()
        let data = (0 ..< 80).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        for start in 0 ..< 8 {
            for end in start ... data.count {
                XCTAssertEqual(CRC32C.checksum(data[start ..< end]), bitwise(data[start ..< end]), "\(start)..<\(end)")
            }
        }
        let split = data.withUnsafeBytes { r in
            CRC32C.update(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: r[..<37])), UnsafeRawBufferPointer(rebasing: r[37...]))
        }
        XCTAssertEqual(split, CRC32C.checksum(data))
    }
}
