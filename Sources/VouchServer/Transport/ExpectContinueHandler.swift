import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` (curl sends it before large PUT bodies, as Nix's uploads are)
/// with `100 Continue` at once, unless the request is bound to be refused before its body is read
/// (``admits`` says no: `Content-Length` over the limit, or a write without any credential); the
/// client then gets the final `413`/`401` without sending the body.
final class ExpectContinueHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    /// Whether the request's body is worth receiving (given its head only).
    let admits: @Sendable (HTTPRequest) -> Bool

    init(admits: @escaping @Sendable (HTTPRequest) -> Bool) {
        self.admits = admits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let request) = unwrapInboundIn(data),
           let expect = request.headerFields[.expect], expect.lowercased() == "100-continue" {
            if admits(request) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        }
        context.fireChannelRead(data)
    }
}
