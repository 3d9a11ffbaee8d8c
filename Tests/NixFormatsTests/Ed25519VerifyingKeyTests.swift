import Crypto
import Foundation
import NixFormats
import XCTest

/// `Ed25519VerifyingKey` must accept exactly what swift-crypto's `Curve25519.Signing.PublicKey`
/// accepts on Linux (BoringSSL's `ED25519_verify`). Every case is checked against swift-crypto itself.
final class Ed25519VerifyingKeyTests: XCTestCase {
    /// RFC 8032 §7.1: TEST 1, 2, 3, 1024 and SHA(abc) as (public key, message, signature).
    func testRFC8032Vectors() throws {
        let vectors: [(String, [UInt8], String)] = [
            ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", [],
             "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
            ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", hex("72"),
             "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
            ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", hex("af82"),
             "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
            ("278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e", hex(Self.test1024Message),
             "d686294b743c6760c6a78a2c4c2fc76115c2600b8f083acde59e7cee32578c0f59ea4219ab9b5896795e4e2b87a30270aa0e3099eee944e9e67a1b22df41ff07"),
            ("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf", Array(SHA512.hash(data: Array("abc".utf8))),
             "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
        ]
        XCTAssertEqual(vectors[3].1.count, 1023)
        for (publicKey, message, signature) in vectors {
            let key = try XCTUnwrap(Ed25519VerifyingKey(rawRepresentation: hex(publicKey)))
            XCTAssertTrue(key.isValidSignature(hex(signature), for: message), publicKey)
            var wrong = hex(signature)
            wrong[7] ^= 0x10
            XCTAssertFalse(key.isValidSignature(wrong, for: message), publicKey)
            XCTAssertFalse(key.isValidSignature(hex(signature), for: message + [0]), publicKey)
            XCTAssertFalse(key.isValidSignature(Array(hex(signature).dropLast()), for: message), "63-byte signature")
            XCTAssertFalse(key.isValidSignature(hex(signature) + [0], for: message), "65-byte signature")
        }
        let nixKey = try NixPublicKey(parsing: "rfc8032-1:" + Base64.encode(hex(vectors[0].0)))
        XCTAssertEqual(Ed25519VerifyingKey(nixKey)?.isValidSignature(hex(vectors[0].2), for: []), true)
        XCTAssertNil(Ed25519VerifyingKey(rawRepresentation: [UInt8](repeating: 1, count: 31)))
    }

    /// Random keys and messages (0…5000 bytes): valid signatures, then each mutated.
    func testDifferentialOnRandomSignatures() throws {
        var rng = SplitMix64(seed: 0x8032)
        var check = Differential()
        for _ in 0..<12 {
            let seed = rng.bytes(32)
            let signer = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
            let publicKey = Array(signer.publicKey.rawRepresentation)
            for _ in 0..<40 {
                let message = rng.bytes(Int(rng.next() % 5001))
                let signature = Array(try signer.signature(for: message))
                XCTAssertTrue(check(publicKey, signature, message), "a valid signature")

                var r = signature
                r[Int(rng.next() % 32)] ^= 1 << (rng.next() % 8)
                check(publicKey, r, message)
                var s = signature
                s[32 + Int(rng.next() % 32)] ^= 1 << (rng.next() % 8)
                check(publicKey, s, message)
                var m = message.isEmpty ? [0] : message
                if !message.isEmpty { m[Int(rng.next() % UInt64(m.count))] ^= 1 << (rng.next() % 8) }
                check(publicKey, signature, m)
                XCTAssertFalse(check(publicKey, Array(signature[..<32]) + plusL(Array(signature[32...])), message), "S + L")
                if rng.next() % 4 == 0 {
                    var k = publicKey
                    k[Int(rng.next() % 32)] ^= 1 << (rng.next() % 8)
                    check(k, signature, message)
                }
            }
        }
        check.assertExercisedBoth()
        check.assertBatchAgrees()
    }

    /// Keys of small order (all eight, x = 0 with the sign bit set), non-canonical keys (y = p + i,
    /// either sign bit) and random bytes, under signatures whose [S]B is known: such a key accepts
    /// R = [S]B exactly when [k]A is the identity.
    func testDifferentialOnSmallOrderAndNonCanonicalKeys() throws {
        var rng = SplitMix64(seed: 25519)
        var keys = Self.smallOrderPoints.map(hex)
        keys += [hex("0100000000000000000000000000000000000000000000000000000000000080"),  // identity, x = 0 signed
                 hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")]  // order 2, x = 0 signed
        for i in 0..<19 {
            var y = hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")  // p
            y[0] += UInt8(i)
            keys.append(y)
            y[31] |= 0x80
            keys.append(y)
        }
        for _ in 0..<8 { keys.append(rng.bytes(32)) }

        // (R, S) with R = [S]B: the public key of a seed and its secret scalar mod L.
        var knownMultiples: [([UInt8], [UInt8])] = [(Self.basePoint, [1] + [UInt8](repeating: 0, count: 31))]
        for _ in 0..<6 {
            let seed = rng.bytes(32)
            knownMultiples.append((Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed).publicKey.rawRepresentation), secretScalar(seed)))
        }
        var check = Differential()
        var decodable = 0
        for key in keys {
            if Ed25519VerifyingKey(rawRepresentation: key) != nil { decodable += 1 }
            for (r, s) in knownMultiples {
                for _ in 0..<3 { check(key, r + s, rng.bytes(Int(rng.next() % 100))) }
            }
        }
        check.assertExercisedBoth()
        XCTAssert(decodable > 8 && decodable < keys.count, "decodable keys: \(decodable) of \(keys.count)")

        // BoringSSL's decoding, pinned: a key is taken mod p and x = 0 may carry the sign bit, so all
        // of these are the identity, under which R = [S]B verifies for every message.
        for identity in ["0100000000000000000000000000000000000000000000000000000000000000",
                         "0100000000000000000000000000000000000000000000000000000000000080",
                         "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                         "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"] {
            for (r, s) in knownMultiples { XCTAssertTrue(check(hex(identity), r + s, rng.bytes(10)), identity) }
        }
        // y = 2 is not on the curve.
        XCTAssertNil(Ed25519VerifyingKey(rawRepresentation: hex("0200000000000000000000000000000000000000000000000000000000000000")))
    }

    /// R is compared as bytes with the canonical encoding of [S]B − [k]A; S must be below L.
    func testNonCanonicalRAndS() throws {
        var check = Differential()
        let identity = hex("0100000000000000000000000000000000000000000000000000000000000000")
        let zero = [UInt8](repeating: 0, count: 32)
        XCTAssertTrue(check(identity, identity + zero, [1, 2, 3]), "[0]B − [k]O = O")
        XCTAssertFalse(check(identity, hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f") + zero, [1, 2, 3]), "R = O as y = p + 1")
        XCTAssertFalse(check(identity, hex("0100000000000000000000000000000000000000000000000000000000000080") + zero, [1, 2, 3]), "R = O with the sign bit")
        let one = [1] + [UInt8](repeating: 0, count: 31)
        XCTAssertTrue(check(identity, Self.basePoint + one, []))
        XCTAssertFalse(check(identity, Self.basePoint + plusL(one), []), "S = 1 + L")
        XCTAssertFalse(check(identity, identity + Self.groupOrder, []), "S = L")
        var lMinusOne = Self.groupOrder
        lMinusOne[0] -= 1
        var minusB = Self.basePoint
        minusB[31] ^= 0x80
        XCTAssertTrue(check(identity, minusB + lMinusOne, []), "S = L − 1, R = [L − 1]B = −B")
        for top: UInt8 in [0x20, 0x40, 0x80] {
            var s = one
            s[31] |= top
            XCTAssertFalse(check(identity, Self.basePoint + s, []), "S with bit \(top) of byte 31")
        }
        // Under the order-4 key T (y = 0), S = 0 gives [S]B − [k]T = ±T for odd k: R = ±T verifies
        // for some messages when encoded canonically (y = 0), never as y = p.
        let order4 = hex(Self.smallOrderPoints[2])
        var canonicalAccepted = 0
        for message in 0..<16 {
            for sign: UInt8 in [0, 0x80] {
                var r = order4
                r[31] |= sign
                if check(order4, r + zero, [UInt8(message)]) { canonicalAccepted += 1 }
                var y = hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
                y[31] |= sign
                XCTAssertFalse(check(order4, y + zero, [UInt8(message)]), "R = ±T as y = p")
            }
        }
        XCTAssert(canonicalAccepted > 0)
        check.assertExercisedBoth()
    }

    /// Keys A = [a]B + T with T of order 2, 4 or 8 (generated with a separate big-integer model of
    /// BoringSSL's rule): "cofactored-only" signatures satisfy [8][S]B = [8](R + [k]A) but not the
    /// cofactorless equation BoringSSL checks; the last two separate k mod L from the full 512-bit k.
    func testMixedOrderKeys() {
        var check = Differential()
        for (name, key, signature, message, valid) in Self.mixedOrderVectors {
            XCTAssertEqual(check(hex(key), hex(signature), hex(message)), valid, name)
        }
        check.assertExercisedBoth()
    }

    // MARK: - Helpers

    /// Runs a case through both verifiers, asserts they agree, and returns the verdict.
    /// A signature prepared for one key does not verify under another, even one that signed the same message.
    func testPreparedSignatureChecksOnlyUnderItsKey() throws {
        let alice = Curve25519.Signing.PrivateKey(), bob = Curve25519.Signing.PrivateKey()
        let message = Array("DSSEv1 28 application/vnd.in-toto+json 2 {}".utf8)
        let signature = Array(try alice.signature(for: message))
        let aliceKey = try XCTUnwrap(Ed25519VerifyingKey(rawRepresentation: alice.publicKey.rawRepresentation))
        let bobKey = try XCTUnwrap(Ed25519VerifyingKey(rawRepresentation: bob.publicKey.rawRepresentation))
        let forAlice = try XCTUnwrap(message.withUnsafeBytes { Ed25519PreparedSignature(signature, publicKey: aliceKey.rawRepresentation, message: $0) })
        let forBob = try XCTUnwrap(message.withUnsafeBytes { Ed25519PreparedSignature(signature, publicKey: bobKey.rawRepresentation, message: $0) })
        XCTAssertTrue(aliceKey.isValid(forAlice))
        XCTAssertFalse(bobKey.isValid(forAlice), "prepared for another key")
        XCTAssertFalse(aliceKey.isValid(forBob), "prepared for another key")
        XCTAssertFalse(bobKey.isValid(forBob), "not Bob's signature")
        let other = Array("DSSEv1 28 application/vnd.in-toto+json 2 []".utf8)
        XCTAssertFalse(aliceKey.isValid(try XCTUnwrap(other.withUnsafeBytes { Ed25519PreparedSignature(signature, publicKey: aliceKey.rawRepresentation, message: $0) })))
        XCTAssertNil(message.withUnsafeBytes { Ed25519PreparedSignature(Array(signature.dropLast()), publicKey: aliceKey.rawRepresentation, message: $0) })
        XCTAssertNil(message.withUnsafeBytes { Ed25519PreparedSignature(signature, publicKey: Array(aliceKey.rawRepresentation.dropLast()), message: $0) })
    }

    /// A key's table is built by its first verification: threads verifying under a fresh key at once
    /// (one builds, the others wait for it) all get swift-crypto's verdicts, for several fresh keys.
    func testConcurrentFirstVerificationsOfFreshKeys() throws {
        for round in 0..<4 {
            let signer = Curve25519.Signing.PrivateKey()
            let publicKey = Array(signer.publicKey.rawRepresentation)
            let key = try XCTUnwrap(Ed25519VerifyingKey(rawRepresentation: publicKey))
            let cases: [(signature: [UInt8], message: [UInt8], valid: Bool)] = try (0..<16).map { i in
                let message = Array("round \(round) case \(i)".utf8)
                var signature = Array(try signer.signature(for: message))
                if i % 3 == 2 { signature[i] ^= 0x40 }
                let reference = signer.publicKey.isValidSignature(signature, for: message)
                return (signature, message, reference)
            }
            XCTAssertEqual(cases.filter(\.valid).count, 11, "the unmodified signatures are valid and the others not")
            let verdicts = ConcurrentVerdicts(count: cases.count)
            DispatchQueue.concurrentPerform(iterations: cases.count) { i in
                verdicts.set(i, key.isValidSignature(cases[i].signature, for: cases[i].message))
            }
            XCTAssertEqual(verdicts.values, cases.map { Optional($0.valid) }, "round \(round)")
        }
    }

    final class ConcurrentVerdicts: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Bool?]
        init(count: Int) { stored = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ value: Bool) { lock.withLock { stored[i] = value } }
        /// nil where no thread reported.
        var values: [Bool?] { lock.withLock { stored } }
    }

    struct Differential {
        var accepted = 0
        var rejected = 0
        var prepared: [[UInt8]: Ed25519VerifyingKey?] = [:]
        var cases: [(key: [UInt8], signature: [UInt8], message: [UInt8], reference: Bool)] = []

        @discardableResult
        mutating func callAsFunction(_ key: [UInt8], _ signature: [UInt8], _ message: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Bool {
            let reference = (try? Curve25519.Signing.PublicKey(rawRepresentation: key))?.isValidSignature(signature, for: message) ?? false
            if prepared[key] == nil { prepared[key] = .some(Ed25519VerifyingKey(rawRepresentation: key)) }
            let ours = prepared[key]!?.isValidSignature(signature, for: message) ?? false
            XCTAssertEqual(ours, reference, "key \(hexString(key)) signature \(hexString(signature)) message \(message.count) bytes", file: file, line: line)
            // The same check with the challenge computed ahead, from the message in two pieces.
            let cut = message.count / 3
            let ahead = message.withUnsafeBytes { m in
                Ed25519PreparedSignature(signature, publicKey: key, message: UnsafeRawBufferPointer(rebasing: m[..<cut]), UnsafeRawBufferPointer(rebasing: m[cut...]))
            }
            XCTAssertEqual(ahead.map { prepared[key]!?.isValid($0) ?? false } ?? false, reference, "prepared signature", file: file, line: line)
            cases.append((key, signature, message, reference))
            if reference { accepted += 1 } else { rejected += 1 }
            return reference
        }

        /// Every case so far, prepared in one batch (hashed four at a time, messages in two parts).
        func assertBatchAgrees(file: StaticString = #filePath, line: UInt = #line) {
            let batch = Ed25519PreparedSignature.prepare(cases.map { ($0.signature, $0.key, [Array($0.message.prefix(7)), Array($0.message.dropFirst(7))]) })
            XCTAssertEqual(batch.count, cases.count, file: file, line: line)
            for (item, prepared) in zip(cases, batch) {
                let ours = prepared.map { self.prepared[item.key]!?.isValid($0) ?? false } ?? false
                XCTAssertEqual(ours, item.reference, "batch: key \(hexString(item.key)) message \(item.message.count) bytes", file: file, line: line)
            }
        }

        func assertExercisedBoth(file: StaticString = #filePath, line: UInt = #line) {
            XCTAssert(accepted > 0 && rejected > 0, "accepted \(accepted), rejected \(rejected)", file: file, line: line)
        }
    }

    /// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    static let groupOrder = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
    static let basePoint = hex("5866666666666666666666666666666666666666666666666666666666666666")
    static let smallOrderPoints = [
        "0100000000000000000000000000000000000000000000000000000000000000",  // identity
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  // order 4
        "0000000000000000000000000000000000000000000000000000000000000080",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ]

    static let mixedOrderVectors: [(String, String, String, String, Bool)] = [
        ("order 8, cofactored-only", "097babe0ccfd8989c728a139393d9f210d29521f28f19820f468992c0a8ae1a7",
         "eff688a50c52dd52fca5dbf66d57d2c8deedc0103558536140ae1f19e17261fd462d17ef294ba15a6b28ff7b147dea8d40b42da8ae9b63de7956cd7a6b09f90e", "010000", false),
        ("order 8, valid", "097babe0ccfd8989c728a139393d9f210d29521f28f19820f468992c0a8ae1a7",
         "7bd19f12aec07ab77c75b1edcb0661b77b2e8dc74e3643aeb94bec9831a40f0efa739dcd9ce99e79b3ef4852579ffa7d08b820f06c2fb6b0b19688b620f8030e", "010700", true),
        ("order 4, cofactored-only", "baba1cfca314f1a73839b06351dad16484cb858d21002b21fff2bec44b19786a",
         "624e0b92ccc599ae0f4faac01381a9f3934c4df47412ae31e5e91b118248d9e9925e9d469a2b9af8fa3ceebd4f8abe11ccf343b8d6be051a61df04db7941c805", "020000", false),
        ("order 4, valid", "baba1cfca314f1a73839b06351dad16484cb858d21002b21fff2bec44b19786a",
         "31f0dbc8a683f21d64d175a5accba00ba665f2eedf0eaee36c0e623a81e2eb0a7bbc553c92a2ea64f620e9df8b596ce2e10ece35cf661b26cd12f03d346dc105", "020100", true),
        ("order 2, valid", "c05a19dbf9141593e01af8ef5a03e55e7ba062c173551136437fe0f01a555873",
         "ef41c9be0a64d119f6c786e809c2f5d82a51984dc23255516f75d2a3985401eb30766f0ba1a4a54f9fef29bf47952d739bdd057ad6597bd6cdb0f626e281a107", "040000", true),
        ("order 2, cofactored-only", "c05a19dbf9141593e01af8ef5a03e55e7ba062c173551136437fe0f01a555873",
         "af715c208c52d227f26dd2c28aa58db044c17283c38fb2c2082df109a4edc867d1cff1677044fb0729b7ade22e7ce3f86c8ac2bab60f2581900c6518e1f2f20a", "040100", false),
        ("order 8, cofactored-only", "c6cdce3e071ac7ba9c42ebf3b7097bb4b185fdfc835c508c27995a238f818771",
         "dcb5e6772cada7a6e83dc7caf75e78de516e5e81dd25db983b472b633b9004c1d1b1e3ab217d50cd7e2a606e3e856c631f85308975df52c286e7c366eb07a10a", "070000", false),
        ("order 8, valid", "c6cdce3e071ac7ba9c42ebf3b7097bb4b185fdfc835c508c27995a238f818771",
         "ddc53a9f6ca9c152319104a55b80d6fc76c7422a03dca0c1fbe006aaecffd0d1249704b8d7e28d76732bf45df53ce9aeb4d34bc433886623010365898b21310b", "070200", true),
        ("order 8, valid only with k reduced mod L", "cea6fbe5cf9c2213bd7705cdeac730c49a0b8dae3429bf7379e48be4db78d518",
         "3f71524c0554d955783d8aa00213429d621196b3f3af593cdb3c020a7b6ea85e3f4f77c5acde7f9b7b5d0553c21b5c95744771a2f3b89d0bc1d89c49dde78d09", "6d6f64204c200100", true),
        ("order 8, valid only with the unreduced k", "cea6fbe5cf9c2213bd7705cdeac730c49a0b8dae3429bf7379e48be4db78d518",
         "ee7a7c46387bf4e6ac695125d14bb4c4b7719fc27bb7df7938de8fe8230b5eb4934deab64b65a4e470bd5745d95f77cdfad41c38a71d1bacf164473d6915b70a", "6d6f64204c200000", false),
    ]

    static let test1024Message = """
        08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8\
        79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc\
        1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e\
        06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbeffefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec\
        7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb\
        2d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27\
        088d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b0\
        7e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51ad\
        dd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb75\
        1fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8c\
        a61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d\
        78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e48\
        8acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e6\
        aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50\
        d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380db\
        2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d00
        """
}

private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

private func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// s + L for a 32-byte little-endian s < 2^255 − L.
private func plusL(_ s: [UInt8]) -> [UInt8] {
    var out = s
    var carry = 0
    for i in 0..<32 {
        let sum = Int(s[i]) + Int(Ed25519VerifyingKeyTests.groupOrder[i]) + carry
        out[i] = UInt8(sum & 0xff)
        carry = sum >> 8
    }
    return out
}

/// The Ed25519 secret scalar of a seed (clamped first half of SHA-512(seed)), reduced mod L.
private func secretScalar(_ seed: [UInt8]) -> [UInt8] {
    var a = Array(SHA512.hash(data: seed).prefix(32))
    a[0] &= 248
    a[31] = (a[31] & 127) | 64
    let l = Ed25519VerifyingKeyTests.groupOrder
    func atLeastL(_ x: [UInt8]) -> Bool {
        for i in (0..<32).reversed() where x[i] != l[i] { return x[i] > l[i] }
        return true
    }
    while atLeastL(a) {
        var borrow = 0
        for i in 0..<32 {
            let difference = Int(a[i]) - Int(l[i]) - borrow
            a[i] = UInt8((difference + 256) & 0xff)
            borrow = difference < 0 ? 1 : 0
        }
    }
    return a
}

extension SplitMix64 {
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
