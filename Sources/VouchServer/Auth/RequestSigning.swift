import NixFormats

/// The signed-request scheme of docs/http-api.md, shared by the server and its clients.
public enum RequestSigning {
    /// Domain separation prefix of the signed bytes.
    public static let prefix = "vouch-request-v1"
    public static let dateHeader = "X-Vouch-Date"
    public static let signatureHeader = "X-Vouch-Signature"

    /// The bytes a builder key signs: `vouch-request-v1\n<METHOD>\n<path+query>\n<date>\n<hex sha256 body>`.
    public static func message(method: String, target: String, date: String, bodySHA256: [UInt8]) -> [UInt8] {
        Array("\(prefix)\n\(method)\n\(target)\n\(date)\n\(Base16.encode(bodySHA256))".utf8)
    }
}
