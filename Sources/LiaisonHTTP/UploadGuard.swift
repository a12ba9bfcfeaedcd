internal import Foundation
public import Hummingbird
internal import HTTPTypes
public import NIOCore

/// A request context that knows its connection.
public protocol ChannelRequestContext: RequestContext {
    var channel: any Channel { get }
}

/// Keeps a client from making the node read a body it will not take: a
/// declared length over the route's limit is refused (413) before any of
/// the body is read, and any refusal that leaves a request body unread
/// closes the connection once the answer is written. (The HTTP server
/// would otherwise read and discard the rest of the body to keep the
/// connection, so a client could make it take in a gigabyte it refused.)
struct UploadGuard<Context: ChannelRequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > context.maxUploadSize {
            let detail = "the body is \(declared) bytes; at most \(context.maxUploadSize) are accepted here"
            let object: [String: Any] = ["type": "about:blank", "title": "Content Too Large", "status": 413, "detail": detail]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return Self.closing(
                Response(status: .contentTooLarge, headers: [.contentType: "application/problem+json"], body: .init(byteBuffer: ByteBuffer(bytes: data))),
                context.channel)
        }
        let response = try await next(request, context)
        let hasBody = (declared ?? 0) > 0 || request.headers[.transferEncoding] != nil
        return hasBody && response.status.code >= 400 ? Self.closing(response, context.channel) : response
    }

    /// The response, then the connection closed: the close is queued on the
    /// connection's event loop behind the answer's writes, so the answer goes
    /// out first and nothing more of the body is read.
    static func closing(_ response: Response, _ channel: any Channel) -> Response {
        var closing = response
        closing.headers[.connection] = "close"
        let body = response.body
        closing.body = ResponseBody(contentLength: body.contentLength) { writer in
            try await body.write(writer)
            channel.eventLoop.execute { channel.close(promise: nil) }
        }
        return closing
    }
}
