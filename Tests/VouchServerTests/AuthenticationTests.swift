import Crypto
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NixFormats
import VouchServer
import VouchStore
import XCTest

final class AuthenticationTests: XCTestCase {
    static let now: Int64 = 1_800_000_000

    static func app(_ f: ServerFixture) -> Application<VouchResponder> { f.app(clock: { now }) }

    static func signedHeaders(_ key: NixSecretKey, method: String, target: String, body: [UInt8], date: Int64? = nil) -> HTTPFields {
        let date = String(date ?? now)
        let message = "vouch-request-v1\n\(method)\n\(target)\n\(date)\n\(Base16.encode(Array(SHA256.hash(data: body))))"
        return [HTTPField.Name("X-Vouch-Date")!: date,
                HTTPField.Name("X-Vouch-Signature")!: key.sign(Array(message.utf8)).description]
    }

    func testMissingCredentialsAre401WithABasicChallenge() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("auth")
        try await Self.app(f).test(.router) { client in
            try await client.execute(uri: upload.narURI, method: .put, body: ByteBuffer(bytes: upload.file)) { response in
                f.assertRefusal(response, .unauthorized, containing: "credentials")
                XCTAssertEqual(response.headers[.wwwAuthenticate], "Basic realm=\"vouch\"")
            }
        }
        XCTAssertFalse(try f.blobExists("nar/\(upload.fileName)"))
    }

    func testWrongTokenIs403AndBasicPasswordWorks() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("basic")
        let basic = "Basic " + Base64.encode(Array("vouch:\(f.token)".utf8))
        let wrongBasic = "Basic " + Base64.encode(Array("vouch:nope".utf8))
        try await Self.app(f).test(.router) { client in
            for header in ["Bearer nope", wrongBasic, "Digest abc", "Basic !!!"] {
                try await client.execute(uri: upload.narURI, method: .put, headers: [.authorization: header], body: ByteBuffer(bytes: upload.file)) {
                    f.assertRefusal($0, .forbidden)
                }
            }
            try await client.execute(uri: upload.narURI, method: .put, headers: [.authorization: basic], body: ByteBuffer(bytes: upload.file)) {
                XCTAssertEqual($0.status, .created)
            }
        }
    }

    func testRevokedTokenStopsWorkingAtOnce() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let upload = try f.makeUpload("revoke")
        try await Self.app(f).test(.router) { client in
            let revoked = try await f.store.metadata.revokeToken(named: "uploader")
            XCTAssertTrue(revoked)
            try await client.execute(uri: upload.narURI, method: .put, headers: f.bearer, body: ByteBuffer(bytes: upload.file)) {
                f.assertRefusal($0, .forbidden, containing: "token")
            }
        }
    }

    func testSignedRequestByARegisteredKeyWorksAndTamperingFails() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        let builder = try NixSecretKey(generatingNamed: "builder-1")
        let stranger = try NixSecretKey(generatingNamed: "builder-2")
        _ = try await f.store.metadata.addKey(builder.publicKey)
        let upload = try f.makeUpload("signed")
        let target = upload.narURI
        try await Self.app(f).test(.router) { client in
            var tampered = upload.file
            tampered[0] ^= 1
            // Signature over other bytes than the body.
            try await client.execute(uri: target, method: .put, headers: Self.signedHeaders(builder, method: "PUT", target: target, body: tampered),
                                     body: ByteBuffer(bytes: upload.file)) { f.assertRefusal($0, .forbidden, containing: "does not verify") }
            // Another path, another method, a stale date, an unregistered key.
            try await client.execute(uri: target, method: .put, headers: Self.signedHeaders(builder, method: "PUT", target: "/other", body: upload.file),
                                     body: ByteBuffer(bytes: upload.file)) { f.assertRefusal($0, .forbidden) }
            try await client.execute(uri: target, method: .put, headers: Self.signedHeaders(builder, method: "POST", target: target, body: upload.file),
                                     body: ByteBuffer(bytes: upload.file)) { f.assertRefusal($0, .forbidden) }
            try await client.execute(uri: target, method: .put,
                                     headers: Self.signedHeaders(builder, method: "PUT", target: target, body: upload.file, date: Self.now - 301),
                                     body: ByteBuffer(bytes: upload.file)) { f.assertRefusal($0, .forbidden, containing: "X-Vouch-Date") }
            try await client.execute(uri: target, method: .put, headers: Self.signedHeaders(stranger, method: "PUT", target: target, body: upload.file),
                                     body: ByteBuffer(bytes: upload.file)) { f.assertRefusal($0, .forbidden, containing: "not registered") }
            XCTAssertFalse(try f.blobExists("nar/\(upload.fileName)"))
            try await client.execute(uri: target, method: .put, headers: Self.signedHeaders(builder, method: "PUT", target: target, body: upload.file),
                                     body: ByteBuffer(bytes: upload.file)) { XCTAssertEqual($0.status, .created) }
            let info = upload.info.text
            try await client.execute(uri: upload.infoURI, method: .put,
                                     headers: Self.signedHeaders(builder, method: "PUT", target: upload.infoURI, body: Array(info.utf8)),
                                     body: ByteBuffer(string: info)) { XCTAssertEqual($0.status, .created) }
        }
    }

    func testPrivateReadsNeedCredentials() async throws {
        let f = try await ServerFixture()
        defer { f.cleanUp() }
        try await f.app(privateReads: true).test(.router) { client in
            try await client.execute(uri: "/nix-cache-info", method: .get) { f.assertRefusal($0, .unauthorized) }
            try await client.execute(uri: "/nix-cache-info", method: .get, headers: f.bearer) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/api/v1/signers", method: .get, headers: [.authorization: "Bearer wrong"]) {
                f.assertRefusal($0, .forbidden)
            }
        }
    }
}
