internal import HummingbirdCore
internal import Logging
internal import NIOCore
internal import NIOTLS

/// Closes a connection whose TLS handshake has not completed within
/// `deadline` of its opening. Without it a client that connects and sends
/// a few bytes of a handshake, then nothing, holds its connection (a file
/// descriptor and buffers) until the idle timeout, a minute or two; many
/// such clients would hold many. Once the handshake completes the handler
/// steps aside and the request deadlines and idle timeout take over.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let deadline: TimeAmount
    private let logger: Logger
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount, logger: Logger) {
        self.deadline = deadline
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            timer?.cancel()
            timer = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let channel = context.channel, logger = logger, seconds = Double(deadline.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: deadline) {
            logger.warning(
                "closed a connection whose TLS handshake did not finish in time",
                metadata: ["liaison.remote": "\(channel.remoteAddress.map { "\($0)" } ?? "?")", "liaison.deadline": "\(seconds) s"])
            channel.close(promise: nil)
        }
    }
}

extension HTTP1Channel.Configuration {
    /// HTTP/1.1 behind TLS with a handshake deadline (seconds) and an idle timeout.
    static func deadlines(handshake: Double, idle: TimeAmount, logger: Logger) -> Self {
        .init(additionalChannelHandlers: [HandshakeDeadline(deadline: .milliseconds(Int64(handshake * 1000)), logger: logger)], idleTimeout: idle)
    }
}
