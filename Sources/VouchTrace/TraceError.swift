/// A trace or evidence document that cannot be used.
public struct TraceError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// Not parseable as the format it claims.
        case malformed
        /// Parsed, but a field breaks the trace format (wrong type URI, bad digest, bad path…).
        case invalidField
        /// A signature algorithm or type Vouch does not accept.
        case unsupported
    }
    public let code: Code
    /// The file or URL the document came from.
    public let source: String
    public let reason: String

    public init(_ code: Code, source: String, _ reason: String) {
        self.code = code
        self.source = source
        self.reason = reason
    }

    public var description: String { "\(source): \(reason)" }
}
