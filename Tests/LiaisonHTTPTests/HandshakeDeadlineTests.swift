@testable import LiaisonHTTP
import Logging
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

/// The handshake deadline on one connection, on NIO's embedded channel
/// (its clock moved by hand): closed when the deadline passes with the
/// handshake unfinished, left open for good once it finished in time.
@Suite("TLS handshake deadline") struct HandshakeDeadlineTests {
    static let logger = Logger(label: "test")

    func connection() throws -> (EmbeddedChannel, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: HandshakeDeadline(deadline: .seconds(10), logger: Self.logger), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, loop)
    }

    @Test func anUnfinishedHandshakeIsClosedAtTheDeadline() throws {
        let (channel, loop) = try connection()
        loop.advanceTime(by: .seconds(9))
        #expect(channel.isActive, "open before the deadline")
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive, "closed at the deadline")
    }

    @Test func aFinishedHandshakeIsNotCutOff() throws {
        let (channel, loop) = try connection()
        loop.advanceTime(by: .seconds(5))
        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        loop.advanceTime(by: .seconds(3600))
        #expect(channel.isActive, "a connection whose handshake finished stays open")
        _ = try? channel.finish()
    }
}
