import Crypto
import HTTPTypes
import Hummingbird
import NixFormats
import VouchStore

/// Checks write (and, with private reads, read) credentials, per docs/http-api.md:
/// an access token as `Bearer` or as the Basic password, or a request signed by a registered
/// builder key (`X-Vouch-Date`, `X-Vouch-Signature`). Keys and tokens are read from the store on
/// every request, so an admin's change applies at once.
struct RequestAuthenticator: Sendable {
    /// Largest accepted difference between `X-Vouch-Date` and the server clock, in seconds.
    static let maximumClockSkew: Int64 = 300

    let storage: any CacheStorage
    let clock: @Sendable () -> Int64

    /// Who made a request, as far as can be told before its body is read.
    enum Credential: Sendable {
        /// A valid access token.
        case token(name: String)
        /// A request signature by a registered key, still to be checked against the body.
        case signature(SignedRequest)

        /// Finishes the check once the body's SHA-256 is known.
        /// - Throws: `403` when the request signature does not verify.
        func confirm(bodySHA256: [UInt8]) throws(ServerError) {
            guard case .signature(let signed) = self else { return }
            guard signed.key.isValid(signature: signed.signature, for: signed.message(bodySHA256: bodySHA256)) else {
                throw ServerError(.forbidden, "request signature by key '\(signed.key.name)' does not verify")
            }
        }

        var description: String {
            switch self {
            case .token(let name): "token '\(name)'"
            case .signature(let signed): "key '\(signed.key.name)'"
            }
        }
    }

    /// The parts of a signed request.
    struct SignedRequest: Sendable {
        let key: NixPublicKey
        let signature: NixSignature
        let method: String
        let target: String
        let date: String

        func message(bodySHA256: [UInt8]) -> [UInt8] {
            RequestSigning.message(method: method, target: target, date: date, bodySHA256: bodySHA256)
        }
    }

    static let dateField = HTTPField.Name(RequestSigning.dateHeader)!
    static let signatureField = HTTPField.Name(RequestSigning.signatureHeader)!

    /// Identifies the request's credential.
    /// - Throws: `401` (with `WWW-Authenticate: Basic realm="vouch"`) when there is none; `403`
    ///   for an unknown token, an unknown key, a malformed signature or a stale date.
    func authenticate(_ request: Request) async throws -> Credential {
        if let signatureText = request.headers[Self.signatureField] {
            return try await signedRequest(request, signatureText: signatureText)
        }
        guard let authorization = request.headers[.authorization] else {
            throw ServerError(.unauthorized, "credentials required: an access token (Bearer or Basic password) or a signed request",
                              headers: [.wwwAuthenticate: "Basic realm=\"vouch\""])
        }
        let secret: Substring
        if let bearer = Self.stripScheme("Bearer", from: authorization) {
            secret = bearer
        } else if let basic = Self.stripScheme("Basic", from: authorization) {
            guard let decoded = Base64.decode(basic), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
                throw ServerError(.forbidden, "malformed Basic credentials")
            }
            secret = Substring(decoding: decoded[(colon + 1)...], as: UTF8.self)
        } else {
            throw ServerError(.forbidden, "unsupported Authorization scheme (use Bearer or Basic)")
        }
        let digest = Array(SHA256.hash(data: Array(secret.utf8)))
        let token: AccessToken?
        do { token = try await storage.token(secretDigest: digest) } catch { throw ServerError.storage(error) }
        guard let token else { throw ServerError(.forbidden, "unknown or revoked access token") }
        return .token(name: token.name)
    }

    private func signedRequest(_ request: Request, signatureText: String) async throws -> Credential {
        guard let date = request.headers[Self.dateField], let seconds = Int64(date), !date.hasPrefix("+") else {
            throw ServerError(.forbidden, "signed request needs X-Vouch-Date in unix seconds")
        }
        guard abs(clock() - seconds) <= Self.maximumClockSkew else {
            throw ServerError(.forbidden, "X-Vouch-Date \(date) is more than \(Self.maximumClockSkew) s from the server's clock")
        }
        guard let signature = try? NixSignature(parsing: signatureText, source: "X-Vouch-Signature") else {
            throw ServerError(.forbidden, "X-Vouch-Signature must be '<key name>:<base64 Ed25519 signature>'")
        }
        let keys: [NixPublicKey]
        do { keys = try await storage.keys() } catch { throw ServerError.storage(error) }
        guard let key = keys.first(where: { $0.name == signature.keyName }) else {
            throw ServerError(.forbidden, "key '\(signature.keyName)' is not registered with this server")
        }
        return .signature(SignedRequest(key: key, signature: signature, method: request.method.rawValue,
                                        target: request.head.path ?? request.uri.string, date: date))
    }

    /// `value` without a leading `scheme ` (case-insensitive scheme), or nil.
    private static func stripScheme(_ scheme: String, from value: String) -> Substring? {
        let prefixLength = scheme.utf8.count + 1
        guard value.utf8.count > prefixLength else { return nil }
        let head = value.prefix(prefixLength)
        guard head.lowercased() == scheme.lowercased() + " " else { return nil }
        return value.dropFirst(prefixLength).drop(while: { $0 == " " })
    }

    /// Authenticates a request and checks it against its (already read) body.
    func authorize(_ request: Request, body: [UInt8]) async throws -> Credential {
        let credential = try await authenticate(request)
        try credential.confirm(bodySHA256: Array(SHA256.hash(data: body)))
        return credential
    }
}

/// With `--private-reads`, refuses reads without a valid credential (a signed read covers the
/// empty body).
struct ReadAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let authenticator: RequestAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get || request.method == .head {
            _ = try await authenticator.authorize(request, body: [])
        }
        return try await next(request, context)
    }
}
