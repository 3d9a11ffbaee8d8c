import NixFormats
import XCTest

/// Vectors from `nix hash file`, `nix-hash` and `nix hash to-base32/16` (Nix 2.8.0), input "hello\n".
final class HashEncodingTests: XCTestCase {
    let hello = Array("hello\n".utf8)

    func testSHA256EncodingsMatchNix() throws {
        let hash = HashAlgorithm.sha256.digest(hello)
        XCTAssertEqual(hash.sri, "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=")
        XCTAssertEqual(hash.base16, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        XCTAssertEqual(hash.nix32, "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq")
        XCTAssertEqual(hash.base64, "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=")
        XCTAssertEqual(hash.description, "sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq")
    }

    func testOtherAlgorithmsMatchNixHash() {
        XCTAssertEqual(HashAlgorithm.sha1.digest(hello).base16, "f572d396fae9206628714fb2ce00f72e94f2258f")
        XCTAssertEqual(HashAlgorithm.sha1.digest(hello).nix32, "iwjz551fyw0cxcjgf4l6c879zabd6wpm")
        XCTAssertEqual(HashAlgorithm.md5.digest(hello).base16, "b1946ac92492d2347c6235b4d2611184")
        XCTAssertEqual(HashAlgorithm.md5.digest(hello).nix32, "4425hx5d1mc9y39llj4k4nm55i")
        XCTAssertEqual(HashAlgorithm.sha512.digest(hello).nix32,
                       "0lrc0dwnvipqviibf7qfm1y492qvjwb1zhkcyi05cndmva1mr5gjcgrnz1x36djmk0sfg8djd2n0qv68vib2jg590mwznar9jcjphp7")
    }

    func testNix32BitOrder() throws {
        var last = [UInt8](repeating: 0, count: 32); last[31] = 1
        XCTAssertEqual(NixBase32.encode(last), "0080000000000000000000000000000000000000000000000000")
        var first = [UInt8](repeating: 0, count: 32); first[0] = 0x80
        XCTAssertEqual(NixBase32.encode(first), "0000000000000000000000000000000000000000000000000040")
        first[0] = 0xff
        XCTAssertEqual(NixBase32.encode(first), "000000000000000000000000000000000000000000000000007z")
    }

    func testParsingAcceptsEveryNixForm() throws {
        let expected = HashAlgorithm.sha256.digest(hello)
        for text in [
            "sha256:5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03",
            "sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq",
            "sha256:WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=",
            "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=",
        ] {
            XCTAssertEqual(try NixHash(parsing: text), expected, text)
        }
        XCTAssertEqual(try NixHash(parsing: "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq", algorithm: .sha256), expected)
    }

    func testLeadingOneSetsTheTopBit() throws {
        let hash = try NixHash(parsing: "sha256:10xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq")
        XCTAssertEqual(hash.base16, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be83")
    }

    func testInvalidHashesAreRejected() {
        for text in [
            "sha256:20xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq",  // carry past 256 bits
            "sha256:WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM",  // base64 without padding: wrong length
            "sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4ae",  // 'e' is not nix32
            "sha256:5891b5b5",  // too short
            "sha257:5891b5b5",  // unknown algorithm
            "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq",  // no algorithm
            "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgN=",  // non-canonical trailing bits
        ] {
            XCTAssertThrowsError(try NixHash(parsing: text), text)
        }
        XCTAssertThrowsError(try NixHash(parsing: "sha1:f572d396fae9206628714fb2ce00f72e94f2258f", algorithm: .sha256))
    }

    func testNix32RoundTripsRandomBytes() {
        var rng = SplitMix64(seed: 0x5eed)
        for size in [1, 16, 20, 32, 64, 7, 33] {
            for _ in 0..<50 {
                let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let text = NixBase32.encode(bytes)
                XCTAssertEqual(text.count, NixBase32.encodedLength(size))
                XCTAssertEqual(NixBase32.decode(text), bytes)
                XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
                XCTAssertEqual(Base16.decode(Base16.encode(bytes)), bytes)
            }
        }
    }

    func testCompressHashXorFolds() {
        let hash = try! NixHash(parsing: "sha256:fe50c26088fb1e2ba70dc3de7815d4b7fe5c6f8a83fb6464fb3da70023809016")
        XCTAssertEqual(Base16.encode(hash.compressed(to: 20)), "7daba60473c6b92b848d53c87815d4b7fe5c6f8a")
    }
}

/// Seeded generator for reproducible property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
