import NixFormats
import VouchStore
import XCTest

final class CredentialStorageTests: StoreTestCase {
    func testKeysAddRemoveAndConflict() async throws {
        let store = try openStore().metadata
        let alice = Fixture.key("alice-1").publicKey, bob = Fixture.key("bob-1").publicKey
        let created = try await store.addKey(alice)
        XCTAssertEqual(created, .created)
        let again = try await store.addKey(alice)
        XCTAssertEqual(again, .unchanged)
        _ = try await store.addKey(bob)
        let impostor = Fixture.key("alice-1").publicKey
        await assertConflict(kind: "key", key: "alice-1", mentions: [alice.description, impostor.description]) {
            try await store.addKey(impostor)
        }
        let keys = try await store.keys()
        XCTAssertEqual(keys, [alice, bob])
        let conflicts = try await store.conflicts(limit: 5)
        XCTAssertEqual(conflicts.map(\.kind), ["key"])

        let removed = try await store.removeKey(named: "alice-1")
        XCTAssertTrue(removed)
        let removedAgain = try await store.removeKey(named: "alice-1")
        XCTAssertFalse(removedAgain)
        let remaining = try await store.keys()
        XCTAssertEqual(remaining, [bob])
        // Once removed, the name is free for another key.
        let reused = try await store.addKey(impostor)
        XCTAssertEqual(reused, .created)
    }

    func testTokensAreFoundByDigestAndRevoked() async throws {
        let store = try openStore().metadata
        let ci = AccessToken(name: "ci", secretDigest: HashAlgorithm.sha256.digest(Array("secret-1".utf8)).bytes, createdAt: 1)
        let laptop = AccessToken(name: "laptop", secretDigest: HashAlgorithm.sha256.digest(Array("secret-2".utf8)).bytes, createdAt: 2)
        try await store.addToken(ci)
        try await store.addToken(laptop)
        try await store.addToken(ci)
        let found = try await store.token(secretDigest: laptop.secretDigest)
        XCTAssertEqual(found, laptop)
        let unknown = try await store.token(secretDigest: HashAlgorithm.sha256.digest(Array("guess".utf8)).bytes)
        XCTAssertNil(unknown)
        let all = try await store.tokens()
        XCTAssertEqual(all, [ci, laptop])

        await assertConflict(kind: "token", key: "ci", mentions: ["name"]) {
            try await store.addToken(AccessToken(name: "ci", secretDigest: HashAlgorithm.sha256.digest(Array("secret-3".utf8)).bytes, createdAt: 3))
        }
        await assertConflict(kind: "token", key: "other", mentions: ["laptop"]) {
            try await store.addToken(AccessToken(name: "other", secretDigest: laptop.secretDigest, createdAt: 3))
        }
        do {
            try await store.addToken(AccessToken(name: "short", secretDigest: [1, 2, 3], createdAt: 3))
            XCTFail("accepted a digest that is not SHA-256")
        } catch {
            guard case .invalidKey = error else { return XCTFail("\(error)") }
        }

        let revoked = try await store.revokeToken(named: "ci")
        XCTAssertTrue(revoked)
        let revokedAgain = try await store.revokeToken(named: "ci")
        XCTAssertFalse(revokedAgain)
        let gone = try await store.token(secretDigest: ci.secretDigest)
        XCTAssertNil(gone)
        let left = try await store.tokens()
        XCTAssertEqual(left, [laptop])
    }
}
