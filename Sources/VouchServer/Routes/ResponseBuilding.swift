import HTTPTypes
import Hummingbird
import NIOCore
import VouchStore

extension Response {
    /// A `200` with `bytes` as body.
    static func ok(_ bytes: ByteBuffer, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: bytes))
    }

    static func ok(_ bytes: [UInt8], contentType: String) -> Response {
        ok(ByteBuffer(bytes: bytes), contentType: contentType)
    }

    /// The answer to a successful write: `201` for a new item, else `200`, one line of text.
    static func written(_ outcome: WriteOutcome) -> Response {
        let (status, text): (HTTPResponse.Status, String) = switch outcome {
        case .created: (.created, "stored")
        case .merged(let added): (.ok, "merged \(added) new signature(s)")
        case .unchanged: (.ok, "already stored")
        }
        return Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
