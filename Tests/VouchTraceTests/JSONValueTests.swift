import NixFormats
import VouchTrace
import XCTest

/// The strict parser and canonical encoder every signed Vouch statement goes through.
final class JSONValueTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    func assertRefused(_ bytes: [UInt8], _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try JSONValue(parsing: bytes), "\(message) \(Base16.encode(bytes))", file: file, line: line) { error in
            XCTAssertTrue(error is JSONError, file: file, line: line)
        }
    }

    func assertRefused(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertRefused(Array(text.utf8), "'\(text)'", file: file, line: line)
    }

    // MARK: accepted

    func testParsesEveryKindOfValue() throws {
        let value = try parse(#" { "a" : [ 1 , -2 , 0 , -0 , true , false , null , "s" , { } , [ ] ] ,"b":{"c":9223372036854775807,"d":-9223372036854775808} } "#)
        XCTAssertEqual(value, .object([
            "a": .array([.int(1), .int(-2), .int(0), .int(0), .bool(true), .bool(false), .null, .string("s"), .object([:]), .array([])]),
            "b": .object(["c": .int(Int64.max), "d": .int(Int64.min)]),
        ]))
        XCTAssertEqual(try parse("\t\r\n 42 \n"), .int(42))
        XCTAssertEqual(try parse(#""""#), .string(""))
    }

    func testEscapesDecode() throws {
        XCTAssertEqual(try parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try parse(#""\u0041\u00e9\u00E9\u20ac\uFFFF""#), .string("Aéé€\u{FFFF}"))
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try parse(#""\uD834\uDD1E""#), .string("𝄞"))
        XCTAssertEqual(try parse(#""\udbff\udfff""#), .string("\u{10FFFF}"))
        XCTAssertEqual(try parse(#""\u0000""#), .string("\u{0}"))
        XCTAssertEqual(try parse("\"é😀\u{7f}\""), .string("é😀\u{7f}"), "raw UTF-8 and DEL pass through")
        XCTAssertEqual(try parse(#"{"\u0061":1}"#), .object(["a": .int(1)]))
    }

    // MARK: refused

    func testRejectsDuplicateKeys() {
        assertRefused(#"{"a":1,"a":2}"#)
        assertRefused(#"{"a":1,"a":1}"#)
        assertRefused(#"{"a":1,"\u0061":2}"#)
        assertRefused(#"{"x":{"a":1,"b":2,"a":3}}"#)
        assertRefused(#"[{"k":null,"k":null}]"#)
        XCTAssertNoThrow(try parse(#"{"a":{"a":1},"b":{"a":2}}"#), "the same key in sibling objects is fine")
        // Keys are compared as Swift strings, so canonically equivalent spellings collide (refused rather than merged).
        assertRefused(#"{"\u00e9":1,"e\u0301":2}"#)
    }

    func testRejectsTrailingBytes() {
        for text in ["1 2", "{}x", "{}{}", "[] ]", "nullx", "\"a\"\"b\"", "1,", "{} \u{0}", "true false"] {
            assertRefused(text)
        }
        assertRefused(Array("{}".utf8) + [0])
        assertRefused(Array("{}".utf8) + [0xef, 0xbb, 0xbf])
    }

    func testRejectsLeadingZerosFractionsAndOtherNumbers() {
        for text in ["01", "00", "-01", "-00", "007", "1.0", "1.", ".5", "0.5", "-0.0", "1e5", "1E5", "1e-5", "0e0", "+1", "- 1", "-",
                     "0x10", "NaN", "Infinity", "-Infinity", "9223372036854775808", "-9223372036854775809", "99999999999999999999", "1_000"] {
            assertRefused(text)
            assertRefused("[\(text)]")
        }
    }

    func testRejectsControlCharactersInStrings() {
        for byte in UInt8(0)..<0x20 {
            assertRefused([0x22, byte, 0x22], "raw control \(byte)")
            assertRefused([0x22, 0x61, byte, 0x62, 0x22], "raw control \(byte) mid-string")
        }
    }

    func testRejectsBadEscapes() {
        for text in [#""\x41""#, #""\a""#, #""\'""#, #""\U0041""#, #""\u41""#, #""\u004""#, #""\u00G1""#, #""\u""#, #""\""#,
                     #""\u 041""#, #""\0""#, #""\ ""#, "\"\\\n\""] {
            assertRefused(text)
        }
    }

    func testRejectsSignedHexInUnicodeEscapes() {
        // `\u` takes exactly four hex digits; a sign is not a hex digit.
        for text in [#""\u+041""#, #""\u-000""#, #""\u+fff""#, #""\ud83d\u+e00""#] {
            assertRefused(text)
        }
    }

    func testRejectsLoneSurrogates() {
        for text in [#""\ud800""#, #""\udc00""#, #""\udfff""#, #""\ud800x""#, #""\ud800\u0041""#, #""\ud800\ud800""#,
                     #""\ud800\n""#, #""\ude00\ud83d""#, #""\uDBFF""#, #""\ud83d\""#, #""\ud83d\u""#] {
            assertRefused(text)
        }
    }

    func testRejectsInvalidUTF8() {
        let cases: [[UInt8]] = [
            [0x22, 0xff, 0x22],                   // never valid
            [0x22, 0xc0, 0xaf, 0x22],             // overlong '/'
            [0x22, 0xe0, 0x80, 0xaf, 0x22],       // overlong
            [0x22, 0xe2, 0x82, 0x22],             // truncated euro sign
            [0x22, 0x80, 0x22],                   // lone continuation byte
            [0x22, 0xed, 0xa0, 0x80, 0x22],       // UTF-8 encoded surrogate
            [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
            [0x22, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x22],
            [0xc3, 0xa9],                         // non-ASCII outside a string
            Array(#"{""#.utf8) + [0xff] + Array(#"":1}"#.utf8), // in a key
        ]
        for bytes in cases { assertRefused(bytes) }
    }

    func testRejectsStructuralErrors() {
        for text in ["", " ", "[", "]", "{", "}", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}",
                     "{1:1}", "{\"a\":1 \"b\":2}", "'a'", "\"abc", "tru", "nul", "True", "NULL", "[1]/*c*/", "// c\n1", "{\"a\"}", "[\"a\":1]"] {
            assertRefused(text)
        }
    }

    func testNestingDepthIsBounded() throws {
        XCTAssertEqual(JSONValue.maximumDepth, 64)
        func arrays(_ depth: Int, inner: String) -> String { String(repeating: "[", count: depth) + inner + String(repeating: "]", count: depth) }
        func objects(_ depth: Int) -> String { String(repeating: "{\"k\":", count: depth) + "1" + String(repeating: "}", count: depth) }
        XCTAssertNoThrow(try parse(arrays(64, inner: "1")), "64 levels of arrays")
        XCTAssertNoThrow(try parse(arrays(64, inner: "")), "64 nested empty arrays")
        XCTAssertNoThrow(try parse(objects(64)), "64 levels of objects")
        assertRefused(arrays(65, inner: "1"))
        assertRefused(objects(65))
        assertRefused(arrays(65, inner: ""))
        assertRefused(arrays(100_000, inner: ""))
        assertRefused(String(repeating: "{\"k\":[", count: 50_000))
    }

    func testOversizedDocumentIsRefused() {
        assertRefused([UInt8](repeating: 0x20, count: JSONValue.maximumSize + 1))
    }

    // MARK: canonical encoding

    func testCanonicalEncodingSortsKeysBytewise() throws {
        let value = JSONValue.object([
            "b": .int(1), "a": .int(2), "B": .int(3), "aa": .int(4), "é": .int(5), "\u{FFFF}": .int(6), "\u{10000}": .int(7),
            "_": .int(8), "": .int(9), "a\u{0}": .int(10),
        ])
        // UTF-8 byte order: "" < "B" < "_" < "a" < "a\0" < "aa" < "b" < "é" (c3 a9) < U+FFFF (ef bf bf) < U+10000 (f0 90 80 80).
        // (UTF-16 order would put U+10000 before U+FFFF.)
        XCTAssertEqual(String(decoding: value.canonicalBytes, as: UTF8.self),
                       "{\"\":9,\"B\":3,\"_\":8,\"a\":2,\"a\\u0000\":10,\"aa\":4,\"b\":1,\"é\":5,\"\u{FFFF}\":6,\"\u{10000}\":7}")
        XCTAssertEqual(try JSONValue(parsing: value.canonicalBytes), value)
    }

    func testCanonicalEncodingHasNoWhitespaceAndMinimalEscapes() throws {
        let value = JSONValue.object(["list": .array([.int(-1), .int(0), .bool(true), .null, .string("x")]), "nested": .object(["z": .object([:]), "y": .array([])])])
        XCTAssertEqual(String(decoding: value.canonicalBytes, as: UTF8.self),
                       #"{"list":[-1,0,true,null,"x"],"nested":{"y":[],"z":{}}}"#)
        let text = "q\"b\\s/\u{8}\u{c}\n\r\t\u{0}\u{1}\u{1f}\u{7f}é😀"
        XCTAssertEqual(String(decoding: JSONValue.string(text).canonicalBytes, as: UTF8.self),
                       "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\u{7f}é😀\"")
        XCTAssertEqual(try parse(String(decoding: JSONValue.string(text).canonicalBytes, as: UTF8.self)), .string(text))
        XCTAssertEqual(String(decoding: JSONValue.int(Int64.min).canonicalBytes, as: UTF8.self), "-9223372036854775808")
    }

    func testCanonicalFormIsAFixedPoint() throws {
        let inputs = [
            #"{ "z" : 1, "a" : [ { "y" : "\u00e9", "x" : "\/" } ], "m" : { } }"#,
            #"[ "\ud83d\ude00", -0, "\u001F" ]"#,
        ]
        for input in inputs {
            let value = try parse(input)
            let canonical = value.canonicalBytes
            XCTAssertEqual(try JSONValue(parsing: canonical), value)
            XCTAssertEqual(try JSONValue(parsing: canonical).canonicalBytes, canonical)
        }
        XCTAssertEqual(String(decoding: try parse(inputs[0]).canonicalBytes, as: UTF8.self), #"{"a":[{"x":"/","y":"é"}],"m":{},"z":1}"#)
        XCTAssertEqual(String(decoding: try parse(inputs[1]).canonicalBytes, as: UTF8.self), "[\"😀\",0,\"\\u001f\"]")
    }

    func testErrorsCarryAnOffset() {
        do throws(JSONError) {
            _ = try JSONValue(parsing: Array(#"{"a":1,"a":2}"#.utf8))
            XCTFail("accepted a duplicate key")
        } catch {
            XCTAssertEqual(error.offset, 7)
            XCTAssertTrue(error.description.contains("duplicate"), error.description)
        }
    }
}
