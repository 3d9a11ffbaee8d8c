import CEd25519
import Crypto
import XCTest

/// The challenge hashing runs SHA-512 on four messages at once (AVX2 lanes where the CPU has them):
/// every digest must be swift-crypto's, for every length around the block size and any mix of
/// lengths in a group, including empty messages and lanes that finish early.
final class SHA512x4Tests: XCTestCase {
    func digests(_ messages: [[UInt8]]) -> [[UInt8]] {
        var out = [UInt8](repeating: 0xee, count: 64 * messages.count)
        var lengths = messages.map(\.count)
        let pointers = messages.map { message -> UnsafeMutablePointer<UInt8> in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, message.count))
            p.initialize(from: message, count: message.count)
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        var constant: [UnsafePointer<UInt8>?] = pointers.map { UnsafePointer($0) }
        vouch_sha512_x4(&out, &constant, &lengths, Int32(messages.count))
        return (0..<messages.count).map { Array(out[($0 * 64)..<($0 * 64 + 64)]) }
    }

    func reference(_ message: [UInt8]) -> [UInt8] { Array(SHA512.hash(data: message)) }

    func testEveryLengthAlone() {
        for length in 0...700 {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
            XCTAssertEqual(digests([message]), [reference(message)], "\(length) bytes")
            var single = [UInt8](repeating: 0, count: 64)
            vouch_sha512(&single, message, message.count)
            XCTAssertEqual(single, reference(message), "vouch_sha512, \(length) bytes")
        }
    }

    func testGroupsOfMixedLengths() {
        var rng = SplitMix64(seed: 0x5124)
        let edges = [0, 1, 111, 112, 127, 128, 129, 239, 240, 255, 256, 3_391, 3_400]
        var groups = 0
        for first in edges {
            for second in edges {
                let group = [first, second, edges[(first + second) % edges.count], 3_400 - first].map { length in
                    (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
                for count in 1...4 {
                    XCTAssertEqual(digests(Array(group.prefix(count))), group.prefix(count).map(reference), "lengths \(group.prefix(count).map(\.count))")
                    groups += 1
                }
            }
        }
        for _ in 0..<300 {
            let count = Int(rng.next() % 9) + 1  // more than four: handled four at a time
            let group = (0..<count).map { _ in (0..<Int(rng.next() % 9_000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            XCTAssertEqual(digests(group), group.map(reference), "lengths \(group.map(\.count))")
            groups += 1
        }
        XCTAssertEqual(groups, edges.count * edges.count * 4 + 300)
    }
}
