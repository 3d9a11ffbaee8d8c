import CEd25519
import NixFormats
import XCTest

/// Verification inverts with safegcd in variable time; it must agree with the Fermat inversion
/// (a^(p-2)) on every input the field code can pass it, redundant limbs included.
final class FieldInversionTests: XCTestCase {
    static let mask51: UInt64 = (1 << 51) - 1

    func inverses(_ limbs: [UInt64]) -> (fermat: [UInt8], safegcd: [UInt8]) {
        var fermat = [UInt8](repeating: 0, count: 32), safegcd = [UInt8](repeating: 0, count: 32)
        vouch_ed25519_field_inverses(limbs, &fermat, &safegcd)
        return (fermat, safegcd)
    }

    /// Five 51-bit limbs of a value below 2^255.
    func limbs(_ value: [UInt8]) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: 5)
        for bit in 0..<255 where value[bit / 8] >> (bit % 8) & 1 == 1 { bits[bit / 51] |= 1 << UInt64(bit % 51) }
        return bits
    }

    /// Inverses computed independently (Python's pow(a, -1, p)).
    func testKnownInverses() {
        let cases: [([UInt64], String)] = [
            ([1, 0, 0, 0, 0], "0100000000000000000000000000000000000000000000000000000000000000"),
            ([2, 0, 0, 0, 0], "f7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f"),
            ([3, 0, 0, 0, 0], "4955555555555555555555555555555555555555555555555555555555555555"),
            ([Self.mask51 - 19, Self.mask51, Self.mask51, Self.mask51, Self.mask51], "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  // p - 1
            ([0, 0, 1 << 26, 0, 0], "f2ffffffffffffffffffffffffffff7f0de53594d7505e43790de53594d7505e"),  // 2^128
            ([12_345_678_901_234_567_890 & Self.mask51, 12_345_678_901_234_567_890 >> 51, 0, 0, 0],
             "6cea8aae5168f582f08db1de45f6998f064b3981c1f9aa145e611aa54603577a"),
            ([Self.mask51 - 18, Self.mask51, Self.mask51, Self.mask51, Self.mask51], String(repeating: "00", count: 32)),  // p
            ([0, 0, 0, 0, 0], String(repeating: "00", count: 32)),
            ([2 * (Self.mask51 - 18), 2 * Self.mask51, 2 * Self.mask51, 2 * Self.mask51, 2 * Self.mask51], String(repeating: "00", count: 32)),  // 2p
        ]
        for (a, expected) in cases {
            let (fermat, safegcd) = inverses(a)
            XCTAssertEqual(Base16.encode(safegcd), expected, "\(a)")
            XCTAssertEqual(fermat, safegcd, "\(a)")
        }
    }

    /// Every five-limb combination of edge values (0, 1, around 2^51 and 2^54), then random values,
    /// canonical and redundant.
    func testAgreesWithFermatOnEdgesAndRandomValues() {
        let edges: [UInt64] = [0, 1, 19, Self.mask51 - 19, Self.mask51 - 18, Self.mask51, 1 << 51, (1 << 54) - 19, (1 << 54) - 1]
        var count = 0
        for a in edges { for b in edges { for c in edges { for d in edges { for e in edges {
            let (fermat, safegcd) = inverses([a, b, c, d, e])
            if fermat != safegcd { XCTFail("limbs \([a, b, c, d, e])") }
            count += 1
        } } } } }
        var rng = SplitMix64(seed: 0x1_2255)
        for round in 0..<30_000 {
            let bound: UInt64 = round % 2 == 0 ? Self.mask51 : (1 << 54) - 1
            let a = (0..<5).map { _ in rng.next() & bound >> (rng.next() % 4 == 0 ? rng.next() % 51 : 0) }
            let (fermat, safegcd) = inverses(a)
            if fermat != safegcd { XCTFail("limbs \(a)") }
            count += 1
        }
        // Powers of two and their neighbours.
        for bit in 0..<255 {
            var value = [UInt8](repeating: 0, count: 32)
            value[bit / 8] = 1 << (bit % 8)
            for delta: UInt64 in [0, 1] {
                var a = limbs(value)
                a[0] += delta
                let (fermat, safegcd) = inverses(a)
                if fermat != safegcd { XCTFail("2^\(bit) + \(delta)") }
                count += 1
            }
        }
        XCTAssertEqual(count, 9 * 9 * 9 * 9 * 9 + 30_000 + 510)
    }
}
