import NixFormats
@testable import VouchTrace
import XCTest

/// The canonical reader decodes base64 with a C decoder (AVX2 where the CPU has it). It must accept
/// exactly what `reference` accepts, with the same bytes: valid encodings of every length up to
/// and past the vector width, and each kind of corruption in the vector bulk and in the tail.
final class Base64DecoderTests: XCTestCase {
    /// The rules spelled out byte by byte: padded standard alphabet, length a multiple of 4, one or
    /// two `=` only at the very end, the bits the padding drops zero.
    static func reference(_ chars: [UInt8]) -> [UInt8]? {
        guard chars.count % 4 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): 62
            case UInt8(ascii: "/"): 63
            default: nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            let last = i + 4 == chars.count
            let padding = last ? (chars[i + 3] == UInt8(ascii: "=") ? (chars[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var word: UInt32 = 0
            for k in 0..<(4 - padding) {
                guard let v = value(chars[i + k]) else { return nil }
                word |= v << (18 - 6 * UInt32(k))
            }
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            if padding < 2 { out.append(UInt8(truncatingIfNeeded: word >> 8)) } else if word & 0xffff != 0 { return nil }
            if padding < 1 { out.append(UInt8(truncatingIfNeeded: word)) } else if word & 0xff != 0 { return nil }
            i += 4
        }
        return out
    }

    func decode(_ chars: [UInt8]) -> [UInt8]? {
        chars.withUnsafeBufferPointer { CanonicalTraceReader.base64($0) }
    }

    func assertSame(_ chars: [UInt8], _ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let expected = Self.reference(chars)
        XCTAssertEqual(decode(chars), expected, "\(what()) (\(chars.count) chars)", file: file, line: line)
        return expected != nil
    }

    func testValidEncodingsOfEveryLength() {
        var rng = SeededGenerator(seed: 64)
        for count in 0...700 {
            let bytes = (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            let text = Array(Base64.encode(bytes).utf8)
            XCTAssertEqual(decode(text), bytes, "\(count) bytes")
            XCTAssertTrue(assertSame(text, "valid"))
        }
    }

    /// Every byte value at a position in the vector bulk, near its end and in the last quantum, of
    /// encodings around the vector widths (32 and 64 characters) and of a payload-sized one.
    func testEveryByteValueInTheBulkAndTheTail() {
        var rng = SeededGenerator(seed: 65)
        var accepted = 0, rejected = 0
        for count in [1, 2, 3, 23, 24, 25, 47, 48, 49, 71, 72, 96, 2_480] {
            let text = Array(Base64.encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }).utf8)
            for position in Set([0, text.count / 2, max(0, text.count - 12), text.count - 5, text.count - 3, text.count - 2, text.count - 1]) where position >= 0 {
                for byte in UInt8.min...UInt8.max {
                    var edited = text
                    edited[position] = byte
                    if assertSame(edited, "byte \(byte) at \(position)") { accepted += 1 } else { rejected += 1 }
                }
            }
        }
        XCTAssert(accepted > 1_000 && rejected > 1_000, "accepted \(accepted), rejected \(rejected)")
    }

    func testPaddingAndLengthErrors() {
        var rng = SeededGenerator(seed: 66)
        for count in [0, 1, 2, 3, 30, 31, 32, 33, 100] {
            let text = Array(Base64.encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }).utf8)
            let equals = UInt8(ascii: "=")
            var cases: [([UInt8], String)] = [
                (text + [equals], "one '=' more"), (text + Array("====".utf8), "a quantum of '='"), (Array(text.dropLast()), "one byte short"),
                (text + Array("QQ==".utf8), "a padded quantum appended"), (Array("QQ==".utf8) + text, "a padded quantum first"),
                (text + Array("Q===".utf8), "three '='"), (text + Array("Q=Q=".utf8), "'=' inside the quantum"), (text + Array("=QQQ".utf8), "'=' first"),
            ]
            if text.count >= 8 { cases.append((Array(text[..<4]) + Array("AB=C".utf8) + Array(text[4...]), "'=' in the middle")) }
            // Every value of the last character before the padding: only those with the dropped bits zero decode.
            if text.last == equals {
                let at = text[text.count - 2] == equals ? text.count - 3 : text.count - 2
                for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8 {
                    var edited = text
                    edited[at] = c
                    cases.append((edited, "last character '\(Character(Unicode.Scalar(c)))'"))
                }
            }
            for (chars, what) in cases { _ = assertSame(chars, what) }
        }
    }

    /// Every last quantum over the alphabet's edges, '=' and bytes just outside, after 0 and after
    /// 76 characters (past two vector blocks).
    func testEveryLastQuantumOverAnEdgeAlphabet() {
        let symbols = Array("AZaz09+/=-_\u{0}".utf8) + [0x7f, 0x80, 0xff, UInt8(ascii: "B"), UInt8(ascii: "Q")]
        for prefix in [[UInt8](), Array(repeating: UInt8(ascii: "w"), count: 76)] {
            for a in symbols { for b in symbols { for c in symbols { for d in symbols {
                _ = assertSame(prefix + [a, b, c, d], "quantum \([a, b, c, d])")
            } } } }
        }
    }
}
